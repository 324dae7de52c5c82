// Faults and recovery: provider errors (backoff, Warning, finalizer kept), a lost reply during
// creation, a controller restart mid-provisioning, watch expiry (410) and API server restarts
// during deletes, orphan garbage collection, and two replicas with leader election.
import { CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../../src/controller/serviceSelection.js';
import { SimulatedCloud } from '../../providers/simulated/cloud.js';
import { TAG_CLUSTER, TAG_SERVICE } from '../../providers/simulated/diff.js';
import { createSimulatedProvider } from '../../providers/simulated/index.js';
import {
  createNodes,
  e2eConfig,
  lbService,
  readService,
  startController,
  startSimulatedController,
  testConfig,
  waitFor,
  waitForEvent,
  waitForIngress,
  type SimulatedController,
} from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

let api: ApiServerHandle;
let kc: KubeConfig;
let core: CoreV1Api;
const running: SimulatedController[] = [];

const newCloud = (provisioningMs = 0) => new SimulatedCloud({ addressPool: '127.240.0.0/16', provisioningMs });
const lbsFor = (cloud: SimulatedCloud, name: string) => cloud.snapshot().filter((lb) => lb.tags[TAG_SERVICE] === `default/${name}`);
const apply = async (name: string, spec: Record<string, unknown> = {}) => {
  const res = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService(name, spec)) });
  expect(res.code, res.stderr).toBe(0);
};
async function start(cloud: SimulatedCloud, extra: Parameters<typeof startSimulatedController>[0] extends infer O ? Partial<O> : never = {}) {
  const sim = await startSimulatedController({ kubeConfig: kc, cloud, ...extra });
  running.push(sim);
  return sim;
}
async function stop(sim: SimulatedController) {
  await sim.controller.stop();
  running.splice(running.indexOf(sim), 1);
}

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  core = kc.makeApiClient(CoreV1Api);
  await createNodes(core, 2);
});

// Each test gets a fresh cloud, so no Service may outlive its test: stop the controllers, then
// drop our finalizers by hand and delete what is left.
afterEach(async () => {
  for (const sim of running.splice(0)) await sim.controller.stop();
  const left = await core.listNamespacedService({ namespace: 'default' });
  for (const svc of left.items) {
    const name = svc.metadata?.name ?? '';
    if (name === 'kubernetes') continue;
    if (svc.metadata?.finalizers?.length) {
      await core.patchNamespacedService({ namespace: 'default', name, body: { metadata: { finalizers: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    }
    await core.deleteNamespacedService({ namespace: 'default', name }).catch(() => undefined);
  }
});

afterAll(async () => {
  await api?.stop();
});

describe('provider errors', () => {
  it('retries with backoff, warns, keeps the finalizer, and converges once the cloud recovers', async () => {
    const cloud = newCloud();
    // More 5xx answers than one reconcile retries (retries: 1), so several reconciles fail.
    cloud.injectFault({ operation: 'CreateLoadBalancer', kind: '5xx', count: 6 });
    const sim = await start(cloud);
    await apply('flaky');
    const warning = await waitForEvent(kc, 'default', 'flaky', 'SyncLoadBalancerFailed');
    expect(warning.type).toBe('Warning');
    expect(warning.message).toMatch(/InternalError/);
    const pending = await readService(kc, 'default', 'flaky');
    expect(pending?.metadata?.finalizers).toContain(LOAD_BALANCER_CLEANUP_FINALIZER);
    await waitForIngress(kc, 'default', 'flaky');
    const attempts = cloud.calls.filter((c) => c.operation === 'CreateLoadBalancer');
    expect(attempts.filter((c) => c.outcome === 'error')).toHaveLength(6);
    expect(attempts.filter((c) => c.outcome === 'ok')).toHaveLength(1);
    expect(lbsFor(cloud, 'flaky')).toHaveLength(1);
    const errors = await sim.registry.getSingleMetricAsString('kube_lb_reconcile_errors_total');
    expect(errors).toMatch(/kind="provider"\} [3-9]/);
    await stop(sim);
  });

  it('a create whose reply was lost is not duplicated (idempotent by client token)', async () => {
    const cloud = newCloud();
    cloud.injectFault({ operation: 'CreateLoadBalancer', kind: 'lostReply', count: 1 });
    await start(cloud);
    await apply('lost');
    await waitForIngress(kc, 'default', 'lost');
    expect(lbsFor(cloud, 'lost')).toHaveLength(1);
    expect(cloud.calls.filter((c) => c.operation === 'CreateLoadBalancer')).toHaveLength(2);
  });

  it('answers throttling with client-side retries and still converges', async () => {
    const cloud = newCloud();
    cloud.injectFault({ kind: 'throttle', count: 3 });
    await start(cloud);
    await apply('throttled');
    await waitForIngress(kc, 'default', 'throttled');
    expect(cloud.stats().throttled).toBe(3);
    expect(lbsFor(cloud, 'throttled')).toHaveLength(1);
  });
});

describe('a provider whose start() fails', () => {
  it('is started again until it succeeds, then serves; and stop() returns while start keeps failing', async () => {
    const cloud = newCloud();
    let failuresLeft = 2;
    const flaky = await startController({
      kubeConfig: kc,
      config: e2eConfig([{ type: 'simulated' }]),
      createProvider: async (entry, deps) => {
        const provider = await createSimulatedProvider(entry as never, deps, cloud);
        return Object.assign(provider, {
          start: async () => {
            if (failuresLeft-- > 0) throw new Error('cloud credentials not ready yet');
          },
        });
      },
    });
    try {
      await apply('after-flaky-start');
      await waitForIngress(kc, 'default', 'after-flaky-start');
      expect(failuresLeft).toBeLessThan(0);
    } finally {
      await flaky.controller.stop();
    }
    // A provider that never starts must not make stop() hang.
    const never = await startController({
      kubeConfig: kc,
      config: e2eConfig([{ type: 'simulated' }]),
      createProvider: async (entry, deps) =>
        Object.assign(await createSimulatedProvider(entry as never, deps, cloud), {
          start: async () => {
            throw new Error('never');
          },
        }),
    });
    await waitFor(() => never.controller.isLeader());
    await new Promise((r) => setTimeout(r, 300));
    await never.controller.stop();
    expect(never.controller.ready()).toBe(false);
  });
});

describe('restarts', () => {
  it('a controller restarted mid-provisioning converges with no duplicate and no leak', async () => {
    const cloud = newCloud(800);
    const first = await start(cloud);
    await apply('slow');
    await waitFor(() => lbsFor(cloud, 'slow')[0]?.state === 'provisioning', { message: 'provisioning started' });
    await stop(first);
    // The new process knows nothing in memory: it learns from the cloud and the API.
    await start(cloud);
    const ingress = await waitForIngress(kc, 'default', 'slow');
    const lbs = lbsFor(cloud, 'slow');
    expect(lbs).toHaveLength(1);
    expect(lbs[0]?.address).toBe(ingress[0]?.ip);
    expect(cloud.stats().byOperation.CreateLoadBalancer).toBe(1);
  });

  it('a Service deleted while no controller runs is cleaned up on start (the finalizer holds it)', async () => {
    const cloud = newCloud();
    const sim = await start(cloud);
    await apply('offline');
    await waitForIngress(kc, 'default', 'offline');
    await stop(sim);
    await core.deleteNamespacedService({ namespace: 'default', name: 'offline' });
    expect((await readService(kc, 'default', 'offline'))?.metadata?.deletionTimestamp).toBeTruthy();
    await start(cloud);
    await waitFor(async () => (await readService(kc, 'default', 'offline')) === undefined, { message: 'Service gone' });
    expect(lbsFor(cloud, 'offline')).toHaveLength(0);
  });

  it('a watch expiry (410 Gone) during a delete loses nothing', async () => {
    const cloud = newCloud();
    await start(cloud);
    await apply('expiring');
    await waitForIngress(kc, 'default', 'expiring');
    // Compact history and cut every watch, then delete: resuming watches get 410 and relist.
    const lists = () => api.requests.filter((r) => r.verb === 'list' && r.resource === 'services').length;
    const listsBefore = lists();
    api.dropWatches({ compact: true });
    await core.deleteNamespacedService({ namespace: 'default', name: 'expiring' });
    await waitFor(async () => (await readService(kc, 'default', 'expiring')) === undefined, { message: 'Service gone' });
    expect(lists()).toBeGreaterThan(listsBefore); // the informer relisted after 410
    expect(lbsFor(cloud, 'expiring')).toHaveLength(0);
  });

  it('an API server restart during a delete loses nothing', async () => {
    const cloud = newCloud();
    await start(cloud);
    await apply('restarting');
    await waitForIngress(kc, 'default', 'restarting');
    const { port, store } = api;
    await api.stop();
    api = await startApiServer({ port, store });
    await core.deleteNamespacedService({ namespace: 'default', name: 'restarting' });
    await waitFor(async () => (await readService(kc, 'default', 'restarting')) === undefined, { message: 'Service gone', timeoutMs: 20_000 });
    expect(lbsFor(cloud, 'restarting')).toHaveLength(0);
  });

  it('the resync garbage-collects owned load balancers whose Service is gone, never foreign ones', async () => {
    const cloud = newCloud();
    const foreign = cloud.createForeign({ [TAG_CLUSTER]: 'another-cluster', [TAG_SERVICE]: 'default/ghost' });
    const untagged = cloud.createForeign({ owner: 'someone' });
    // A leak: this cluster's tags, for a Service that does not exist.
    await cloud.createLoadBalancer({
      clientToken: 'leak',
      tags: { [TAG_CLUSTER]: 'test-cluster', [TAG_SERVICE]: 'default/ghost', 'kube-lb-provisioner.io/service-uid': 'no-such-uid' },
      listeners: [],
      targets: [],
      healthCheck: { protocol: 'TCP', port: 80 },
      sourceRanges: [],
      idleTimeoutSeconds: 60,
    });
    const sim = await start(cloud);
    await waitFor(() => sim.controller.ready(), { message: 'ready' });
    // Found by the start-up pass over what the cloud lists as ours, or else by this resync.
    await sim.controller.resyncNow();
    await waitFor(() => sim.controller.pendingWork() === 0, { message: 'queue drained' });
    const left = cloud.snapshot().map((lb) => lb.id);
    expect(left).toContain(foreign.id);
    expect(left).toContain(untagged.id);
    expect(cloud.snapshot().filter((lb) => lb.tags[TAG_CLUSTER] === 'test-cluster' && lb.tags[TAG_SERVICE] === 'default/ghost')).toHaveLength(0);
  });
});

describe('leader election', () => {
  it('two replicas: only the leader acts; when it exits the other takes over', async () => {
    const cloud = newCloud();
    const config = testConfig({
      leaderElection: { enabled: true, namespace: 'kube-system', leaseName: 'lb-test', leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 1 },
    });
    const a = await start(cloud, { config, identity: 'replica-a' });
    await waitFor(() => a.controller.isLeader(), { message: 'replica-a leads' });
    const b = await start(cloud, { config, identity: 'replica-b' });
    await apply('elected');
    await waitForIngress(kc, 'default', 'elected');
    expect(b.controller.isLeader()).toBe(false);
    const callsOf = async (sim: SimulatedController) => {
      const text = await sim.registry.getSingleMetricAsString('kube_lb_provider_api_calls_total');
      return [...text.matchAll(/^kube_lb_provider_api_calls_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    expect(await callsOf(a)).toBeGreaterThan(0);
    expect(await callsOf(b)).toBe(0);
    const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'kube-system', name: 'lb-test' });
    expect(lease.spec?.holderIdentity).toBe('replica-a');

    await stop(a); // graceful exit releases the lease
    await waitFor(() => b.controller.isLeader(), { message: 'replica-b takes over', timeoutMs: 10_000 });
    await apply('after-handover');
    await waitForIngress(kc, 'default', 'after-handover');
    expect(await callsOf(b)).toBeGreaterThan(0);
    await kubectl(api, ['delete', 'svc', 'elected', '--wait=true', '--timeout=20s']);
    expect(lbsFor(cloud, 'elected')).toHaveLength(0);
  });
});
