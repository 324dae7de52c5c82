// Issue 18, points 3 and 5: a VM can be in only one load-balanced unmanaged instance group, a group
// spans one subnet, and a group holds at most 1,000 instances for load balancing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_GROUP_SIZE } from '../../providers/gcp/planActions.js';
import { loadBalancerName } from '../../providers/gcp/names.js';
import type { ProviderEvent } from '../../providers/provider.js';
import { ServiceConfigError } from '../../providers/provider.js';
import { converge, desired, newRef, node, PROJECT, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
const Z = 'us-central1-a';
const R = 'regions/us-central1';
const BASE = 'https://www.googleapis.com/compute/v1';
beforeAll(async () => {
  // Operations finish on their own, as real ones do, even when the provider that started them is gone.
  h = await startHarness({ pollsToComplete: 1, completeAfterMs: 300 });
  for (const n of ['p1', 'p2', 'q1']) h.fake.addInstance(Z, n);
  h.fake.addInstance('us-central1-b', 'b1');
  h.fake.addInstance('us-central1-c', 's1', 'nodes');
  h.fake.addInstance('us-central1-c', 's2', 'other-subnet');
  // A node pool's group holding p1 and p2, already behind someone's load balancer (an Ingress).
  h.fake.seed('instanceGroups', `zones/${Z}`, {
    name: 'gke-pool-1-grp',
    description: 'node pool',
    instances: ['p1', 'p2'].map((n) => `${BASE}/projects/${PROJECT}/zones/${Z}/instances/${n}`),
  });
  h.fake.seed('backendServices', 'global', { name: 'ingress-bs', backends: [{ group: `${BASE}/projects/${PROJECT}/zones/${Z}/instanceGroups/gke-pool-1-grp` }] });
});
afterAll(async () => h.close());

async function firstError(provider: ReturnType<Harness['newProvider']>, want: ReturnType<typeof desired>): Promise<unknown> {
  for (let i = 0; i < 30; i++) {
    try {
      if ((await provider.apply(provider.diff(await provider.observe(want.ref), want))).state === 'ready') return undefined;
    } catch (error) {
      return error;
    }
  }
  return undefined;
}

const groupMembers = (zone: string, name: string) =>
  (h.fake.list('instanceGroups').find((g) => g.scope === `zones/${zone}` && g.name === name)?.body.instances as string[] | undefined)?.map((i) => i.split('/').pop()).sort();

describe('gcp provider: instance groups shared with others', () => {
  it("says what to do when a node already sits in another load-balanced group", async () => {
    const provider = h.newProvider();
    const error = await firstError(provider, desired(newRef('clash'), [node('p1', Z), node('p2', Z), node('q1', Z)]));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as Error).message).toContain('instance may belong to at most one load-balanced instance group');
    expect((error as Error).message).toContain('externalInstanceGroupsPrefix');
  });

  it('reuses a group of the configured prefix that holds only eligible nodes, and puts the others in its own', async () => {
    const provider = h.newProvider({ externalInstanceGroupsPrefix: 'gke-pool-' });
    const ref = newRef('reuse');
    const r = await converge(provider, desired(ref, [node('p1', Z), node('p2', Z), node('q1', Z), node('b1', 'us-central1-b')]));
    expect(r.ingress[0]!.ip).toMatch(/^34\./);
    const backends = (h.fake.get('backendServices', R, loadBalancerName(ref.uid))!.backends as Array<{ group: string }>).map((b) => b.group.split('/').slice(-3).join('/')).sort();
    expect(backends).toHaveLength(3);
    expect(backends).toContain('us-central1-a/instanceGroups/gke-pool-1-grp');
    expect(backends.filter((b) => /^us-central1-[ab]\/instanceGroups\/k8s-ig--/.test(b))).toHaveLength(2);
    const ours = h.fake.list('instanceGroups').find((g) => g.scope === `zones/${Z}` && g.name.startsWith('k8s-ig--'))!;
    expect(groupMembers(Z, ours.name)).toEqual(['q1']);
    expect(groupMembers(Z, 'gke-pool-1-grp')).toEqual(['p1', 'p2']); // left as it was
  });

  it('does not reuse a group that also holds a machine that is not an eligible node', async () => {
    const provider = h.newProvider({ externalInstanceGroupsPrefix: 'gke-pool-' });
    const plan = provider.diff(await provider.observe(newRef('partial')), desired(newRef('partial'), [node('p1', Z), node('q1', Z)]));
    const bs = plan.actions.find((a) => a.step?.op === 'insertBackendService');
    expect(JSON.stringify(bs?.step)).not.toContain('gke-pool-1-grp');
  });
});

describe('gcp provider: one subnet per group', () => {
  it('leaves out nodes labelled with another subnet than the cluster subnetwork, with a Warning Event', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes' }, 'cluster-subnets');
    const events: ProviderEvent[] = [];
    await provider.start({ listServices: () => [], requeue: () => undefined, emit: (e) => events.push(e) });
    const ref = newRef('subnets');
    const zone = 'us-central1-c';
    const subnet = (name: string, s: string) => node(name, zone, { labels: { 'cloud.google.com/gke-node-pool-subnet': s } });
    await converge(provider, desired(ref, [subnet('s1', 'nodes'), subnet('s2', 'other-subnet')]));
    const ours = h.fake.list('instanceGroups').find((g) => g.scope === `zones/${zone}`)!;
    expect(groupMembers(zone, ours.name)).toEqual(['s1']);
    expect(events.filter((e) => e.type === 'Warning').map((e) => e.message)).toEqual([expect.stringContaining('nodes s2 are on another subnet than nodes')]);
  });
});

describe('gcp provider: group size cap', () => {
  it(`puts at most ${MAX_GROUP_SIZE} instances in a zone's group and says so in an Event`, async () => {
    const zone = 'us-central1-f';
    const many = Array.from({ length: MAX_GROUP_SIZE + 3 }, (_, i) => `big${String(i).padStart(4, '0')}`);
    for (const n of many) h.fake.addInstance(zone, n);
    const provider = h.newProvider({}, 'cluster-big');
    const events: ProviderEvent[] = [];
    await provider.start({ listServices: () => [], requeue: () => undefined, emit: (e) => events.push(e) });
    await converge(provider, desired(newRef('big'), many.map((n) => node(n, zone))));
    const group = h.fake.list('instanceGroups').find((g) => g.scope === `zones/${zone}`)!;
    expect((group.body.instances as string[]).length).toBe(MAX_GROUP_SIZE);
    expect(events.map((e) => e.message)).toEqual([expect.stringContaining(`${MAX_GROUP_SIZE + 3} eligible nodes in ${zone}; an instance group holds at most ${MAX_GROUP_SIZE}`)]);
  });
});
