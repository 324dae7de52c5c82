// Node membership (add, remove, exclude label, autoscaler taint, no providerID), switching
// externalTrafficPolicy, and bad input answered with a Warning naming the field while other
// Services stay served.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { TAG_SERVICE } from '../../providers/simulated/diff.js';
import {
  createNodes,
  lbService,
  readService,
  startSimulatedController,
  testConfig,
  waitFor,
  waitForEvent,
  waitForIngress,
  type SimulatedController,
} from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { servesClasses, writesToServicesNotServed } from '../support/writeAudit.js';

let api: ApiServerHandle;
let kc: KubeConfig;
let core: CoreV1Api;
let sim: SimulatedController;
const merge = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const lbOf = (name: string) => sim.cloud.snapshot().find((lb) => lb.tags[TAG_SERVICE] === `default/${name}`);
const targetsOf = (name: string) => (lbOf(name)?.targets.map((t) => t.name) ?? []).sort().join(',');

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  core = kc.makeApiClient(CoreV1Api);
  await createNodes(core, 3);
  // A cloud that addresses nodes by providerID, so a node without one is skipped.
  sim = await startSimulatedController({ kubeConfig: kubeConfigFor(api, 'controller'), identity: 'controller', config: testConfig({}, { needsProviderID: true } as never) });
  for (const name of ['a', 'b']) await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService(name)) });
  await waitForIngress(kc, 'default', 'a');
  await waitForIngress(kc, 'default', 'b');
});

afterAll(async () => {
  await sim?.controller.stop();
  await api?.stop();
});

describe('node membership', () => {
  it('registers a new node on every load balancer with membership-only calls and UpdatedLoadBalancer', async () => {
    const before = { ...sim.cloud.stats().byOperation };
    await core.createNode({ body: { metadata: { name: 'node-4' }, spec: { providerID: 'sim://node-4' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.4' }] } } });
    await waitFor(() => targetsOf('a') === 'node-1,node-2,node-3,node-4' && targetsOf('b') === 'node-1,node-2,node-3,node-4', { message: 'node-4 registered' });
    const after = sim.cloud.stats().byOperation;
    expect((after.RegisterTargets ?? 0) - (before.RegisterTargets ?? 0)).toBe(2);
    expect(after.CreateLoadBalancer).toBe(before.CreateLoadBalancer);
    expect(after.ModifyListeners ?? 0).toBe(before.ModifyListeners ?? 0);
    expect(after.ModifyLoadBalancerAttributes ?? 0).toBe(before.ModifyLoadBalancerAttributes ?? 0);
    await waitForEvent(kc, 'default', 'a', 'UpdatedLoadBalancer');
  });

  it('coalesces a burst of node changes and ignores heartbeats', async () => {
    const before = sim.cloud.stats().byOperation.RegisterTargets ?? 0;
    // A status-only change (heartbeat) must not touch the cloud.
    await core.patchNodeStatus({ name: 'node-1', body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } } }, merge());
    await createNodes(core, 3, 'burst-', (i) => `10.0.1.${i}`);
    await waitFor(() => targetsOf('a').split(',').length === 7 && targetsOf('b').split(',').length === 7, { message: 'burst registered' });
    const calls = (sim.cloud.stats().byOperation.RegisterTargets ?? 0) - before;
    // Three nodes for two Services: at most one call per Service per coalescing window.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThan(6);
  });

  it('removes deleted, excluded, autoscaler-tainted and providerID-less nodes', async () => {
    await core.deleteNode({ name: 'burst-1' });
    await core.patchNode({ name: 'burst-2', body: { metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } } } }, merge());
    await core.patchNode({ name: 'burst-3', body: { spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1', effect: 'NoSchedule' }] } } }, merge());
    await core.createNode({ body: { metadata: { name: 'bare' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.2.1' }] } } });
    await waitFor(() => targetsOf('a') === 'node-1,node-2,node-3,node-4' && targetsOf('b') === 'node-1,node-2,node-3,node-4', {
      message: 'ineligible nodes deregistered',
    });
    expect(sim.cloud.stats().byOperation.DeregisterTargets ?? 0).toBeGreaterThanOrEqual(2);
    // The node left out for want of a providerID gets a Warning saying so (once, not per Service).
    const warnings = await waitFor(async () => {
      const list = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Node,involvedObject.name=bare' });
      return list.items.length > 0 ? list.items : undefined;
    }, { message: 'Warning Event on the node without providerID' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ type: 'Warning', reason: 'NodeWithoutProviderID', count: 1 });
    expect(warnings[0]?.message).toMatch(/spec\.providerID/);
  });

  it('keeps a node labelled exclude-from-external-load-balancers=false, as upstream does', async () => {
    const label = 'node.kubernetes.io/exclude-from-external-load-balancers';
    // burst-2 was excluded by `=true` above; `=false` (set by kubectl as users do) brings it back.
    expect((await kubectl(api, ['label', 'node', 'burst-2', `${label}=false`, '--overwrite'])).code).toBe(0);
    expect((await kubectl(api, ['label', 'node', 'node-4', `${label}=False`])).code).toBe(0);
    await waitFor(() => targetsOf('a') === 'burst-2,node-1,node-2,node-3,node-4' && targetsOf('b') === 'burst-2,node-1,node-2,node-3,node-4', {
      message: 'burst-2 registered again and node-4 kept',
    });
    // Any other value, even an empty one, excludes.
    expect((await kubectl(api, ['label', 'node', 'node-4', `${label}=`, '--overwrite'])).code).toBe(0);
    await waitFor(() => targetsOf('a') === 'burst-2,node-1,node-2,node-3', { message: 'node-4 excluded by an empty value' });
  });
});

describe('externalTrafficPolicy', () => {
  it('switches the health check between kube-proxy (Cluster) and healthCheckNodePort /healthz (Local)', async () => {
    expect(lbOf('a')?.healthCheck).toEqual({ protocol: 'HTTP', port: 10256, path: '/healthz' });
    await core.patchNamespacedService({ namespace: 'default', name: 'a', body: { spec: { externalTrafficPolicy: 'Local' } } }, merge());
    const svc = await waitFor(async () => {
      const s = await readService(kc, 'default', 'a');
      return s?.spec?.healthCheckNodePort ? s : undefined;
    }, { message: 'healthCheckNodePort allocated' });
    await waitFor(() => lbOf('a')?.healthCheck.port === svc.spec?.healthCheckNodePort, { message: 'Local health check' });
    expect(lbOf('a')?.healthCheck).toEqual({ protocol: 'HTTP', port: svc.spec?.healthCheckNodePort, path: '/healthz' });
    await core.patchNamespacedService({ namespace: 'default', name: 'a', body: { spec: { externalTrafficPolicy: 'Cluster' } } }, merge());
    await waitFor(() => lbOf('a')?.healthCheck.port === 10256, { message: 'back to kube-proxy health check' });
  });
});

describe('bad input gets a Warning naming the field; other Services stay served', () => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    ['bad-annotation', {}, { annotations: { 'kube-lb-provisioner.io/idle-timeout-seconds': 'forever' } }, /metadata\.annotations\[kube-lb-provisioner\.io\/idle-timeout-seconds\]/],
    ['bad-ranges', {}, { annotations: { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/33' } }, /load-balancer-source-ranges/],
    ['bad-protocol', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'sig', port: 9, protocol: 'SCTP' }] }, {}, /spec\.ports\[1\]\.protocol: SCTP is not supported/],
    ['bad-ip', { loadBalancerIP: '203.0.113.250' }, {}, /spec\.loadBalancerIP/],
    ['no-node-ports', { allocateLoadBalancerNodePorts: false }, {}, /spec\.ports\[0\]\.nodePort: no NodePort allocated \(spec\.allocateLoadBalancerNodePorts: false\)/],
    ['unread-annotation', {}, { annotations: { 'kube-lb-provisioner.io/address-pool': 'lan' } }, /metadata\.annotations\[kube-lb-provisioner\.io\/address-pool\]: not supported by the simulated provider/],
  ];
  for (const [name, spec, metadata, field] of cases) {
    it(`${name}: Warning SyncLoadBalancerFailed, pending, and nothing in the cloud`, async () => {
      const res = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService(name, spec, metadata)) });
      expect(res.code, res.stderr).toBe(0);
      const event = await waitForEvent(kc, 'default', name, 'SyncLoadBalancerFailed');
      expect(event.type).toBe('Warning');
      expect(event.message).toMatch(field);
      expect((await readService(kc, 'default', name))?.status?.loadBalancer?.ingress ?? []).toHaveLength(0);
      expect(lbOf(name)).toBeUndefined();
    });
  }

  it('a new good Service is served while the bad ones keep failing, and fixing one serves it', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('good')) });
    await waitForIngress(kc, 'default', 'good');
    await core.patchNamespacedService(
      { namespace: 'default', name: 'bad-annotation', body: { metadata: { annotations: { 'kube-lb-provisioner.io/idle-timeout-seconds': '120' } } } },
      merge(),
    );
    await waitForIngress(kc, 'default', 'bad-annotation');
    expect(lbOf('bad-annotation')?.idleTimeoutSeconds).toBe(120);
    // Events are recorded asynchronously, after the status.
    await waitForEvent(kc, 'default', 'bad-annotation', 'EnsuredLoadBalancer');
  });
});

describe('neighbours', () => {
  it('wrote to no Service it does not serve', () => {
    expect(writesToServicesNotServed(api, { user: 'controller', identity: 'controller', serves: servesClasses([], true) })).toEqual([]);
  });
});

describe('address families the provider cannot give', () => {
  it('an IPv6-only Service on an IPv4-only provider is refused on spec.ipFamilies, never given an IPv4 address', async () => {
    const dual = await startApiServer({ port: 0, serviceCIDR: '10.96.0.0/16,fd00:10:96::/112' });
    const dualKc = kubeConfigFor(dual);
    await createNodes(dualKc.makeApiClient(CoreV1Api), 1);
    const controller = await startSimulatedController({ kubeConfig: dualKc });
    try {
      await kubectl(dual, ['apply', '-f', '-'], { input: JSON.stringify(lbService('v6', { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' })) });
      await kubectl(dual, ['apply', '-f', '-'], { input: JSON.stringify(lbService('prefer', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' })) });
      const event = await waitForEvent(dualKc, 'default', 'v6', 'SyncLoadBalancerFailed');
      expect(event.message).toMatch(/spec\.ipFamilies: the simulated provider gives only IPv4 addresses, and this Service asks for IPv6/);
      // PreferDualStack lists IPv4 too: it is served with its IPv4 family.
      expect((await waitForIngress(dualKc, 'default', 'prefer'))[0]?.ip).toMatch(/^127\.240\./);
      expect((await readService(dualKc, 'default', 'v6'))?.status?.loadBalancer?.ingress ?? []).toHaveLength(0);
    } finally {
      await controller.controller.stop();
      await dual.stop();
    }
  });
});
