// Reconcile decisions against in-memory ports (no API server): the order of effects, status patched
// only on change, the class-change path, and in-progress answers handed back to the queue.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { LoadBalancerIngress } from '../../providers/provider.js';
import { SimulatedCloud } from '../../providers/simulated/cloud.js';
import { simulatedConfigSchema } from '../../providers/simulated/config.js';
import { SimulatedProvider } from '../../providers/simulated/provider.js';
import type { ClusterView, KubeWriter, ProviderSlot } from '../../src/controller/ports.js';
import { Reconciler } from '../../src/controller/reconcile.js';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../../src/controller/serviceSelection.js';

class MemoryCluster implements ClusterView, KubeWriter {
  readonly log: string[] = [];
  readonly svcs = new Map<string, V1Service>();
  nodeList: V1Node[] = [{ metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }] } }];
  service = (ns: string, name: string) => this.svcs.get(`${ns}/${name}`);
  services = () => [...this.svcs.values()];
  nodes = () => this.nodeList;
  nodesVersion = () => this.nodeList.length;
  endpointNodes = () => [];
  async addFinalizer(s: V1Service) {
    this.log.push('addFinalizer');
    s.metadata!.finalizers = [...(s.metadata!.finalizers ?? []), LOAD_BALANCER_CLEANUP_FINALIZER];
  }
  async removeFinalizer(s: V1Service) {
    this.log.push('removeFinalizer');
    s.metadata!.finalizers = (s.metadata!.finalizers ?? []).filter((f) => f !== LOAD_BALANCER_CLEANUP_FINALIZER);
  }
  async patchIngress(s: V1Service, ingress: LoadBalancerIngress[]) {
    this.log.push(`patchIngress ${ingress.map((i) => i.ip).join(',') || '-'}`);
    s.status = { loadBalancer: { ingress } };
  }
  async annotate(s: V1Service, name: string, value: string | null) {
    this.log.push(`annotate ${name}=${value ?? '-'}`);
    const annotations = { ...(s.metadata!.annotations ?? {}) };
    if (value === null) delete annotations[name];
    else annotations[name] = value;
    s.metadata!.annotations = annotations;
  }
  event(_s: V1Service, type: string, reason: string) {
    this.log.push(`${type} ${reason}`);
  }
}

function provider(cloud: SimulatedCloud, extra: Record<string, unknown> = {}) {
  return new SimulatedProvider({ config: simulatedConfigSchema.parse({ type: 'simulated', retries: 0, ...extra }), clusterName: 'c', record: () => {}, cloud });
}

function svc(spec: V1Service['spec'] = {}): V1Service {
  return {
    metadata: { namespace: 'ns', name: 'web', uid: 'u1' },
    spec: { type: 'LoadBalancer', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }], ...spec },
  };
}

function setup(provisioningMs = 0) {
  const cluster = new MemoryCluster();
  const cloudA = new SimulatedCloud({ addressPool: '192.0.2.0/24', provisioningMs });
  const cloudB = new SimulatedCloud({ addressPool: '198.51.100.0/24' });
  const slots: ProviderSlot[] = [
    { id: 'a', default: true, provider: provider(cloudA, { addressPool: '192.0.2.0/24' }) },
    { id: 'b', default: false, loadBalancerClass: 'example.com/b', provider: provider(cloudB, { addressPool: '198.51.100.0/24' }) },
  ];
  return { cluster, cloudA, cloudB, slots, reconciler: new Reconciler({ view: cluster, kube: cluster, slots, clusterName: 'c' }) };
}

describe('Reconciler', () => {
  it('adds the finalizer before the cloud is touched, then patches status once', async () => {
    const { cluster, cloudA, reconciler } = setup();
    cluster.svcs.set('ns/web', svc());
    const cloudCallsAtFinalizer: number[] = [];
    const add = cluster.addFinalizer.bind(cluster);
    cluster.addFinalizer = async (s) => {
      cloudCallsAtFinalizer.push(cloudA.stats().total);
      await add(s);
    };
    expect(await reconciler.reconcile('ns/web')).toEqual({ kind: 'done', action: 'ensured' });
    expect(cloudCallsAtFinalizer).toEqual([0]);
    expect(cluster.log).toEqual(['addFinalizer', 'Normal EnsuringLoadBalancer', 'patchIngress 192.0.2.1', 'Normal EnsuredLoadBalancer']);
    cluster.log.length = 0;
    expect(await reconciler.reconcile('ns/web')).toEqual({ kind: 'done', action: 'unchanged' });
    expect(cluster.log).toEqual([]); // no status patch, no event on a no-op
  });

  it('hands "in progress" back as a retry delay instead of waiting', async () => {
    const { cluster, reconciler } = setup(60_000);
    cluster.svcs.set('ns/web', svc());
    const outcome = await reconciler.reconcile('ns/web');
    expect(outcome).toMatchObject({ kind: 'retryAfter', ms: 100 });
    expect(cluster.log).toEqual(['addFinalizer', 'Normal EnsuringLoadBalancer']);
  });

  it('writes the status of a load balancer that serves while still settling, and asks to look again', async () => {
    const { cluster, slots, reconciler } = setup();
    const slot = slots[0]!;
    const apply = slot.provider.apply.bind(slot.provider);
    slot.provider.apply = async (plan) => {
      const result = await apply(plan);
      return result.state === 'ready' ? { ...result, settling: { retryAfterMs: 250, reason: 'group operation running' } } : result;
    };
    cluster.svcs.set('ns/web', svc());
    expect(await reconciler.reconcile('ns/web')).toEqual({ kind: 'done', action: 'ensured', recheckAfterMs: 250 });
    expect(cluster.log).toContain('patchIngress 192.0.2.1');
  });

  it('moves a Service whose class changed: deletes from the old provider, then ensures on the new', async () => {
    const { cluster, cloudA, cloudB, reconciler } = setup();
    cluster.svcs.set('ns/web', svc());
    await reconciler.reconcile('ns/web');
    cluster.svcs.set('ns/web', { ...svc({ loadBalancerClass: 'example.com/b' }), metadata: cluster.svcs.get('ns/web')!.metadata, status: cluster.svcs.get('ns/web')!.status });
    expect(await reconciler.reconcile('ns/web')).toMatchObject({ kind: 'done' });
    expect(cloudA.snapshot()).toHaveLength(0);
    expect(cloudB.snapshot()).toHaveLength(1);
    expect(cluster.svcs.get('ns/web')?.status?.loadBalancer?.ingress?.[0]?.ip).toBe('198.51.100.1');
  });

  it('cleans up on deletion and removes the finalizer only after the provider confirms', async () => {
    const { cluster, cloudA, reconciler } = setup();
    cluster.svcs.set('ns/web', svc());
    await reconciler.reconcile('ns/web');
    cluster.svcs.get('ns/web')!.metadata!.deletionTimestamp = new Date();
    cloudA.injectFault({ operation: 'DeleteLoadBalancer', kind: '5xx', count: 1 });
    cluster.log.length = 0;
    expect(await reconciler.reconcile('ns/web')).toMatchObject({ kind: 'failed', configError: false });
    expect(cluster.log).toEqual(['Normal DeletingLoadBalancer', 'Warning DeleteLoadBalancerFailed']);
    expect(cluster.svcs.get('ns/web')?.metadata?.finalizers).toContain(LOAD_BALANCER_CLEANUP_FINALIZER);
    expect(await reconciler.reconcile('ns/web')).toEqual({ kind: 'done', action: 'deleted' });
    expect(cluster.log.slice(2)).toEqual(['removeFinalizer', 'Normal DeletedLoadBalancer']);
    expect(cloudA.snapshot()).toHaveLength(0);
  });

  it('reports a config error with the field and provisions nothing', async () => {
    const { cluster, cloudA, reconciler } = setup();
    cluster.svcs.set('ns/web', svc({ ports: [{ port: 9, nodePort: 30009, protocol: 'SCTP' }] }));
    const outcome = await reconciler.reconcile('ns/web');
    expect(outcome).toMatchObject({ kind: 'failed', configError: true });
    expect(cluster.log).toEqual(['addFinalizer', 'Warning SyncLoadBalancerFailed']);
    expect(cloudA.stats().mutating).toBe(0);
  });

  it('says UnAvailableLoadBalancer once when no node is eligible', async () => {
    const { cluster, reconciler } = setup();
    cluster.nodeList = [];
    cluster.svcs.set('ns/web', svc());
    await reconciler.reconcile('ns/web');
    await reconciler.reconcile('ns/web');
    expect(cluster.log.filter((l) => l.includes('UnAvailableLoadBalancer'))).toHaveLength(1);
  });
});
