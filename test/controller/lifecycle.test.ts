// Lifecycle against the embedded API server, the real client-node and kubectl: create, change
// ports, change class, change type, delete; loadBalancerIP owned and not owned.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../../src/controller/serviceSelection.js';
import { TAG_SERVICE } from '../../providers/simulated/diff.js';
import {
  eventsFor,
  lbService,
  readService,
  startSimulatedController,
  testConfig,
  waitFor,
  waitForEvent,
  waitForIngress,
  createNodes,
  type SimulatedController,
} from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { auditMark, servesClasses, writesToServicesNotServed } from '../support/writeAudit.js';

let api: ApiServerHandle;
let kc: KubeConfig;
let core: CoreV1Api;
let sim: SimulatedController;
const merge = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  core = kc.makeApiClient(CoreV1Api);
  await createNodes(core, 3);
  sim = await startSimulatedController({
    kubeConfig: kubeConfigFor(api, 'controller'),
    identity: 'controller',
    config: testConfig(
      {},
      { staticAddresses: ['198.51.100.7', '198.51.100.8'], loadBalancerClass: 'example.com/sim', default: true } as never,
    ),
  });
});

afterAll(async () => {
  await sim?.controller.stop();
  await api?.stop();
});

const lbsFor = (name: string) => sim.cloud.snapshot().filter((lb) => lb.tags[TAG_SERVICE] === `default/${name}`);

describe('Service lifecycle', () => {
  it('creates a load balancer for a Service applied with kubectl, with the finalizer and upstream events', async () => {
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('web')) });
    expect(applied.code, applied.stderr).toBe(0);
    const ingress = await waitForIngress(kc, 'default', 'web');
    expect(ingress[0]?.ip).toMatch(/^127\.240\./);
    const svc = await readService(kc, 'default', 'web');
    expect(svc?.metadata?.finalizers).toContain(LOAD_BALANCER_CLEANUP_FINALIZER);
    const [lb] = lbsFor('web');
    expect(lb?.address).toBe(ingress[0]?.ip);
    expect(lb?.listeners).toEqual([{ protocol: 'TCP', port: 80, nodePort: svc?.spec?.ports?.[0]?.nodePort }]);
    expect(lb?.targets.map((t) => t.name).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    await waitForEvent(kc, 'default', 'web', 'EnsuredLoadBalancer');
    const reasons = (await eventsFor(kc, 'default', 'web')).map((e) => e.reason);
    expect(reasons.slice(0, 2)).toEqual(['EnsuringLoadBalancer', 'EnsuredLoadBalancer']);
    const got = await kubectl(api, ['get', 'svc', 'web', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    expect(got.stdout).toBe(ingress[0]?.ip);
  });

  it('a no-op resync makes no mutating call and emits no EnsuringLoadBalancer', async () => {
    const before = sim.cloud.stats().mutating;
    const eventsBefore = (await eventsFor(kc, 'default', 'web')).filter((e) => e.reason === 'EnsuringLoadBalancer').length;
    const requestsBefore = api.requests.filter((r) => r.verb === 'patch' && r.resource === 'services').length;
    expect(requestsBefore).toBeGreaterThan(0); // finalizer and status were patched once
    await sim.controller.resyncNow();
    await waitFor(() => sim.controller.pendingWork() === 0, { message: 'queue drained' });
    expect(sim.cloud.stats().mutating).toBe(before);
    const ensuring = (await eventsFor(kc, 'default', 'web')).filter((e) => e.reason === 'EnsuringLoadBalancer');
    expect(ensuring.length).toBe(eventsBefore);
    // No status patch either: the status did not change.
    expect(api.requests.filter((r) => r.verb === 'patch' && r.resource === 'services').length).toBe(requestsBefore);
  });

  it('changing ports changes only the listeners, and keeps the address', async () => {
    const ip = (await waitForIngress(kc, 'default', 'web'))[0]?.ip;
    const byOp = { ...sim.cloud.stats().byOperation };
    await core.patchNamespacedService(
      {
        namespace: 'default',
        name: 'web',
        body: { spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] } },
      },
      merge(),
    );
    await waitFor(() => lbsFor('web')[0]?.listeners.length === 2, { message: 'two listeners' });
    const after = sim.cloud.stats().byOperation;
    expect((after.ModifyListeners ?? 0) - (byOp.ModifyListeners ?? 0)).toBe(1);
    expect(after.CreateLoadBalancer).toBe(byOp.CreateLoadBalancer);
    expect((await waitForIngress(kc, 'default', 'web'))[0]?.ip).toBe(ip);
  });

  it('changing the type away from LoadBalancer deletes the load balancer, clears status and the finalizer', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('typed')) });
    await waitForIngress(kc, 'default', 'typed');
    await core.patchNamespacedService({ namespace: 'default', name: 'typed', body: { spec: { type: 'ClusterIP' } } }, merge());
    await waitFor(async () => {
      const s = await readService(kc, 'default', 'typed');
      return !s?.metadata?.finalizers?.includes(LOAD_BALANCER_CLEANUP_FINALIZER) && !s?.status?.loadBalancer?.ingress?.length;
    }, { message: 'finalizer and status gone' });
    expect(lbsFor('typed')).toHaveLength(0);
    await waitForEvent(kc, 'default', 'typed', 'DeletedLoadBalancer');
  });

  it('changing the class to one we do not serve cleans up and leaves the Service alone', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('classy')) });
    await waitForIngress(kc, 'default', 'classy');
    // The class is immutable while type is LoadBalancer: go through ClusterIP, as a user would.
    await core.patchNamespacedService({ namespace: 'default', name: 'classy', body: { spec: { type: 'ClusterIP' } } }, merge());
    await waitFor(() => lbsFor('classy').length === 0, { message: 'old load balancer deleted' });
    await core.patchNamespacedService({ namespace: 'default', name: 'classy', body: { spec: { type: 'LoadBalancer', loadBalancerClass: 'someone.else/lb' } } }, merge());
    await waitFor(async () => (await readService(kc, 'default', 'classy'))?.spec?.loadBalancerClass === 'someone.else/lb');
    const mark = auditMark(api);
    await sim.controller.resyncNow();
    await waitFor(() => sim.controller.pendingWork() === 0);
    const s = await readService(kc, 'default', 'classy');
    expect(s?.metadata?.finalizers ?? []).not.toContain(LOAD_BALANCER_CLEANUP_FINALIZER);
    expect(s?.status?.loadBalancer?.ingress ?? []).toHaveLength(0);
    expect(lbsFor('classy')).toHaveLength(0);
    expect(writesToServicesNotServed(api, { user: 'controller', identity: 'controller', serves: servesClasses(['example.com/sim'], true), since: mark })).toEqual([]);
  });

  it('serves its own class explicitly as well as the class-less default', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('mine', { loadBalancerClass: 'example.com/sim' })) });
    await waitForIngress(kc, 'default', 'mine');
    expect(lbsFor('mine')).toHaveLength(1);
  });

  it('deleting the Service deletes the load balancer before the finalizer goes, and frees the address', async () => {
    const ip = (await waitForIngress(kc, 'default', 'web'))[0]?.ip;
    const del = await kubectl(api, ['delete', 'svc', 'web', '--wait=true', '--timeout=20s']);
    expect(del.code, del.stderr).toBe(0);
    expect(await readService(kc, 'default', 'web')).toBeUndefined();
    expect(lbsFor('web')).toHaveLength(0);
    expect(sim.cloud.snapshot().some((lb) => lb.address === ip)).toBe(false);
  });
});

describe('loadBalancerIP', () => {
  it('is honoured when the account owns the address', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('pinned', { loadBalancerIP: '198.51.100.7' })) });
    const ingress = await waitForIngress(kc, 'default', 'pinned');
    expect(ingress[0]?.ip).toBe('198.51.100.7');
  });

  it('is honoured from our annotation kube-lb-provisioner.io/load-balancer-ips too, and refused naming it when not owned', async () => {
    const annotated = (name: string, ip: string) => lbService(name, {}, { annotations: { 'kube-lb-provisioner.io/load-balancer-ips': ip } });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(annotated('pinned-by-annotation', '198.51.100.8')) });
    expect((await waitForIngress(kc, 'default', 'pinned-by-annotation'))[0]?.ip).toBe('198.51.100.8');
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(annotated('annotated-stolen', '203.0.113.10')) });
    const event = await waitForEvent(kc, 'default', 'annotated-stolen', 'SyncLoadBalancerFailed');
    expect(event.message).toMatch(/metadata\.annotations\[kube-lb-provisioner\.io\/load-balancer-ips\]: 203\.0\.113\.10 is not an address this account owns/);
    expect(lbsFor('annotated-stolen')).toHaveLength(0);
  });

  it('is refused with a Warning naming spec.loadBalancerIP when not owned; the Service stays pending', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('stolen', { loadBalancerIP: '203.0.113.9' })) });
    const event = await waitForEvent(kc, 'default', 'stolen', 'SyncLoadBalancerFailed');
    expect(event.type).toBe('Warning');
    expect(event.message).toMatch(/spec\.loadBalancerIP/);
    expect(event.message).toMatch(/203\.0\.113\.9/);
    const s = await readService(kc, 'default', 'stolen');
    expect(s?.status?.loadBalancer?.ingress ?? []).toHaveLength(0);
    expect(lbsFor('stolen')).toHaveLength(0);
    // Repeats are aggregated into one Event with a count, not a flood.
    await waitFor(async () => ((await waitForEvent(kc, 'default', 'stolen', 'SyncLoadBalancerFailed')).count ?? 0) > 1, { message: 'count > 1' });
    const failures = (await eventsFor(kc, 'default', 'stolen')).filter((e) => e.reason === 'SyncLoadBalancerFailed');
    expect(failures).toHaveLength(1);
  });
});

describe('neighbours', () => {
  it('wrote to no Service it does not serve', () => {
    // `classy` was ours until its class changed; the check above covers it from then on.
    const audit = { user: 'controller', identity: 'controller', serves: servesClasses(['example.com/sim'], true), alsoAllowed: ['default/classy'] };
    expect(writesToServicesNotServed(api, audit)).toEqual([]);
  });
});
