// End to end: the embedded API server, the real kubectl, the controller (runController) with this
// provider, reaching the fake Compute server through the real @google-cloud/compute clients.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { PassThroughClient } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GcpConfig } from '../../providers/gcp/config.js';
import { createGcpProvider } from '../../providers/gcp/index.js';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { RunningController } from '../../src/cli/runController.js';
import { e2eConfig, lbService, readService, startController, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { startFakeCompute, type FakeCompute } from './fakeCompute/server.js';
import { PROJECT, REGION } from './gcpHarness.js';

let api: ApiServerHandle;
let kc: KubeConfig;
let core: CoreV1Api;
let fake: FakeCompute;
let controller: RunningController;

async function createNode(name: string, zone: string): Promise<void> {
  fake.addInstance(zone, name);
  await core.createNode({
    body: {
      metadata: { name, labels: { 'topology.kubernetes.io/zone': zone } },
      spec: { providerID: `gce://${PROJECT}/${zone}/${name}` },
      status: { addresses: [{ type: 'InternalIP', address: `10.1.0.${name.length}` }] },
    },
  });
}

const groupMembers = () =>
  fake
    .list('instanceGroups')
    .flatMap((g) => (g.body.instances as string[]).map((i) => i.split('/').pop()))
    .sort();

beforeAll(async () => {
  fake = await startFakeCompute(PROJECT, { pollsToComplete: 2 });
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  core = kc.makeApiClient(CoreV1Api);
  await createNode('node-1', 'us-central1-a');
  await createNode('node-2', 'us-central1-b');
  ({ controller } = await startController({
    kubeConfig: kc,
    config: e2eConfig([{ type: 'gcp', project: PROJECT, region: REGION, pollIntervalMs: 50, apiRatePerSecond: 1000, apiBurst: 1000, instanceGroupCacheMs: 0 }], { clusterName: 'e2e', backoff: { initialSeconds: 0.05, maxSeconds: 0.5 } }),
    createProvider: async (entry, deps) => {
      if (entry.type !== 'gcp') throw new Error(`this test runs the gcp provider, got ${entry.type}`);
      return createGcpProvider(entry as GcpConfig, deps, { authClient: new PassThroughClient(), apiEndpoint: `http://127.0.0.1:${fake.port}`, minRetryTimeoutMs: 5 });
    },
  }));
});

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
  await fake?.close();
});

describe('gcp end to end', () => {
  it('kubectl apply gives the Service an EXTERNAL-IP from a GCP passthrough load balancer; delete leaves nothing', async () => {
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('web')) });
    expect(applied.code, applied.stderr).toBe(0);
    const ingress = await waitForIngress(kc, 'default', 'web', { timeoutMs: 30_000 });
    const svc = await readService(kc, 'default', 'web');
    const name = loadBalancerName(svc!.metadata!.uid!);
    const rule = fake.get('forwardingRules', `regions/${REGION}`, name);
    expect(rule?.IPAddress).toBe(ingress[0]?.ip);
    expect(JSON.parse(String(rule?.description))).toMatchObject({ 'kubernetes.io/service-name': 'default/web', 'kubernetes.io/cluster': 'e2e' });
    const table = await kubectl(api, ['get', 'svc', 'web']);
    expect(table.stdout).toContain(String(ingress[0]?.ip));
    await waitForEvent(kc, 'default', 'web', 'EnsuredLoadBalancer');
    expect(groupMembers()).toEqual(['node-1', 'node-2']);

    // A new node joins the shared group; nothing else about the load balancer changes.
    const ruleId = rule?.id;
    await createNode('node-3', 'us-central1-a');
    await waitFor(() => groupMembers().join(',') === 'node-1,node-2,node-3', { timeoutMs: 30_000, message: 'node-3 in the instance group' });
    await waitForEvent(kc, 'default', 'web', 'UpdatedLoadBalancer', /new hosts/);
    expect(fake.get('forwardingRules', `regions/${REGION}`, name)?.id).toBe(ruleId);

    const deleted = await kubectl(api, ['delete', 'svc', 'web', '--wait=false']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await waitFor(async () => (await readService(kc, 'default', 'web')) === undefined, { timeoutMs: 30_000, message: 'Service gone (finalizer removed)' });
    // The shared instance groups go with the resync's sweep, once no Service wants a load balancer.
    await waitFor(async () => (await controller.resyncNow(), fake.list().length === 0), { timeoutMs: 30_000, message: `the fake holding nothing (has ${fake.list().map((r) => r.name).join(', ')})` });
  });

  it('writes the conditions GKE writes on our Service, keeps others\' conditions, and writes none on a Service of another class', async () => {
    const other = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('theirs', { loadBalancerClass: 'example.com/other' })) });
    expect(other.code, other.stderr).toBe(0);
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('conds')) });
    expect(applied.code, applied.stderr).toBe(0);
    // Someone else's condition on our Service, before the load balancer is ready.
    const mark = { type: 'example.com/Audited', status: 'True', reason: 'Checked', message: 'by a tool', lastTransitionTime: new Date('2026-01-01T00:00:00Z') };
    await core.patchNamespacedServiceStatus({ namespace: 'default', name: 'conds', body: { status: { conditions: [mark] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await waitForIngress(kc, 'default', 'conds', { timeoutMs: 30_000 });
    const svc = await waitFor(async () => {
      const s = await readService(kc, 'default', 'conds');
      return (s?.status?.conditions ?? []).some((c) => c.type === 'ServiceLoadBalancerTCPForwardingRule') ? s : undefined;
    }, { timeoutMs: 30_000, message: 'GKE conditions on the Service' });
    const name = loadBalancerName(svc.metadata!.uid!);
    const byType = Object.fromEntries((svc.status?.conditions ?? []).map((c) => [c.type, c]));
    expect(byType.ServiceLoadBalancerTCPForwardingRule).toMatchObject({ status: 'True', reason: 'GCEResourceAllocated', message: name });
    expect(byType.ServiceLoadBalancerBackendService).toMatchObject({ message: name });
    expect(byType.ServiceLoadBalancerHealthCheck).toMatchObject({ message: name });
    expect(byType.ServiceLoadBalancerFirewallRule).toMatchObject({ message: `k8s-fw-${name}` });
    expect(byType.ServiceLoadBalancerFirewallRuleForHealthCheck).toMatchObject({ message: `k8s-${name}-http-hc` });
    expect(byType['example.com/Audited']).toMatchObject({ reason: 'Checked', message: 'by a tool' });
    expect(Object.keys(byType).filter((t) => t.includes('IPv6'))).toEqual([]);

    const theirs = await readService(kc, 'default', 'theirs');
    expect(theirs?.status?.conditions ?? []).toEqual([]);
    expect(theirs?.status?.loadBalancer?.ingress ?? []).toEqual([]);

    for (const n of ['conds', 'theirs']) await kubectl(api, ['delete', 'svc', n, '--wait=false']);
    await waitFor(async () => (await readService(kc, 'default', 'conds')) === undefined, { timeoutMs: 30_000, message: 'conds Service gone' });
    await waitFor(async () => (await controller.resyncNow(), fake.list().length === 0), { timeoutMs: 30_000, message: 'the fake holding nothing' });
  });

  it('a Service turned ClusterIP loses the GKE conditions and its ingress, and keeps others\' conditions', async () => {
    expect((await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('demoted')) })).code).toBe(0);
    const mark = { type: 'example.com/Audited', status: 'True', reason: 'Checked', message: 'by a tool', lastTransitionTime: new Date('2026-01-01T00:00:00Z') };
    await core.patchNamespacedServiceStatus({ namespace: 'default', name: 'demoted', body: { status: { conditions: [mark] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await waitFor(async () => ((await readService(kc, 'default', 'demoted'))?.status?.conditions ?? []).length > 1, { timeoutMs: 30_000, message: 'GKE conditions on the Service' });
    const patched = await kubectl(api, ['patch', 'svc', 'demoted', '-p', '{"spec":{"type":"ClusterIP","externalTrafficPolicy":null}}']);
    expect(patched.code, patched.stderr).toBe(0);
    const svc = await waitFor(async () => {
      const s = await readService(kc, 'default', 'demoted');
      return s && (s.status?.conditions ?? []).length === 1 && !s.metadata?.finalizers?.length ? s : undefined;
    }, { timeoutMs: 30_000, message: 'only the foreign condition left, finalizer removed' });
    expect(svc.status?.conditions?.[0]).toMatchObject({ type: 'example.com/Audited', message: 'by a tool' });
    expect(svc.status?.loadBalancer?.ingress ?? []).toEqual([]);
    await kubectl(api, ['delete', 'svc', 'demoted', '--wait=false']);
    await waitFor(async () => (await controller.resyncNow(), fake.list().length === 0), { timeoutMs: 30_000, message: 'the fake holding nothing' });
  });

  it('a loadBalancerIP the project does not hold becomes a Warning Event', async () => {
    const mutatingBefore = fake.mutatingCalls();
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('pinned', { loadBalancerIP: '203.0.113.50' })) });
    expect(applied.code, applied.stderr).toBe(0);
    const event = await waitForEvent(kc, 'default', 'pinned', 'SyncLoadBalancerFailed', /spec\.loadBalancerIP/, { timeoutMs: 30_000 });
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('203.0.113.50 is not a static address reserved');
    expect(fake.mutatingCalls()).toBe(mutatingBefore); // nothing was created for it
    expect(fake.list()).toEqual([]);
    await kubectl(api, ['delete', 'svc', 'pinned', '--wait=false']);
    await waitFor(async () => (await readService(kc, 'default', 'pinned')) === undefined, { timeoutMs: 30_000, message: 'pinned Service gone' });
  });
});
