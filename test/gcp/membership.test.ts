// Node churn touches only the shared groups' membership, and many Services reconciling at once
// for the same node change produce one membership operation per zone, not one per Service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converge, desired, newRef, node, PROJECT, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  for (const n of ['n1', 'n2', 'n3']) h.fake.addInstance('us-central1-a', n);
});
afterAll(async () => h.close());

describe('gcp provider: coalesced membership', () => {
  it('adds a node once for twelve Services reconciling concurrently', async () => {
    const provider = h.newProvider({ instanceGroupCacheMs: 60_000 });
    const refs = Array.from({ length: 12 }, (_, i) => newRef(`m${i}`));
    const before = [node('n1', 'us-central1-a'), node('n2', 'us-central1-a')];
    await Promise.all(refs.map((ref) => converge(provider, desired(ref, before), 100, 1)));
    expect(h.fake.count('instanceGroups.insert')).toBe(1);
    expect(h.fake.count('instanceGroups.addInstances')).toBe(1);

    h.fake.resetCalls();
    const after = [...before, node('n3', 'us-central1-a')];
    const results = await Promise.all(refs.map((ref) => converge(provider, desired(ref, after), 100, 1)));
    expect(results.every((r) => r.kinds.flat().every((k) => k === 'addInstances' || k === 'wait:operations'))).toBe(true);
    expect(h.fake.count('instanceGroups.addInstances')).toBe(1);
    expect(h.fake.mutatingCalls()).toBe(1);
    const group = h.fake.list('instanceGroups')[0]!;
    expect((group.body.instances as string[]).map((i) => i.split('/').pop()).sort()).toEqual(['n1', 'n2', 'n3']);
  });
});

describe('gcp provider: cached view of converged Services', () => {
  it('plans node churn from the cached view with no per-Service reads', async () => {
    const provider = h.newProvider({ instanceGroupCacheMs: 60_000, observeCacheMs: 60_000 });
    h.fake.addInstance('us-central1-b', 'n9');
    const refs = Array.from({ length: 10 }, (_, i) => newRef(`c${i}`));
    const base = [node('n1', 'us-central1-a'), node('n2', 'us-central1-a'), node('n3', 'us-central1-a')];
    await Promise.all(refs.map((ref) => converge(provider, desired(ref, base), 100, 1)));
    await Promise.all(refs.map((ref) => converge(provider, desired(ref, base), 100, 1))); // confirms from the cache
    h.fake.resetCalls();
    const withB = [...base, node('n9', 'us-central1-b')];
    await Promise.all(refs.map((ref) => converge(provider, desired(ref, withB), 100, 1)));
    // A new zone: one group insert, one addInstances, and each backend service gains the zone.
    expect(h.fake.count('instanceGroups.insert')).toBe(1);
    expect(h.fake.count('instanceGroups.addInstances')).toBe(1);
    expect(h.fake.count('backendServices.update')).toBe(refs.length);
    // Each Service re-reads its own resources once (6 calls), after its own backend service changed.
    expect(h.fake.count(/^(healthChecks|forwardingRules|firewalls|addresses)\.(get|list)$/)).toBeLessThanOrEqual(refs.length * 6);
    h.fake.resetCalls();
    const without = base.slice(0, 2).concat(node('n9', 'us-central1-b'));
    await Promise.all(refs.map((ref) => converge(provider, desired(ref, without), 100, 1)));
    // Within a zone, churn is one membership operation and no per-Service read at all.
    expect(h.fake.mutatingCalls()).toBe(1);
    expect(h.fake.count(/^(healthChecks|backendServices|forwardingRules|firewalls|addresses)\.(get|list)$/)).toBe(0);
  });

  it('re-reads before any other change, so a stale view never decides it', async () => {
    const provider = h.newProvider({ observeCacheMs: 60_000, addressListCacheMs: 60_000 });
    const ref = newRef('stale');
    const nodes = [node('n1', 'us-central1-a')];
    await converge(provider, desired(ref, nodes));
    await converge(provider, desired(ref, nodes));
    // Reserved after the view was cached: only a new read can see it.
    h.fake.seed('addresses', 'regions/us-central1', { name: 'later', address: '35.7.7.7', addressType: 'EXTERNAL', description: 'by hand' });
    const r = await converge(provider, desired(ref, nodes, { loadBalancerIP: '35.7.7.7' }));
    expect(r.kinds[0]).toEqual(['wait:freshRead']); // the converged view cannot decide a new address
    expect(r.kinds[1]).toEqual(['wait:freshRead']); // the cached address list does not know 35.7.7.7 yet
    expect(r.ingress).toEqual([{ ip: '35.7.7.7', ipMode: 'VIP' }]);
  });
});

describe('gcp provider: membership changed behind its back', () => {
  it('re-reads the groups when its cached membership turns out stale', async () => {
    const provider = h.newProvider({ instanceGroupCacheMs: 60_000 });
    const ref = newRef('stalegroup');
    await converge(provider, desired(ref, [node('n1', 'us-central1-a'), node('n2', 'us-central1-a')]));
    const group = h.fake.list('instanceGroups').find((g) => g.scope === 'zones/us-central1-a')!;
    // Another actor adds n3 directly; the provider's cached read does not know.
    (group.body.instances as string[]).push(`https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/us-central1-a/instances/n3`);
    h.fake.resetCalls();
    const r = await converge(provider, desired(ref, [node('n1', 'us-central1-a'), node('n2', 'us-central1-a'), node('n3', 'us-central1-a')]));
    expect(r.kinds[0]).toEqual(['addInstances']); // planned from the stale cache, answered "already a member"
    expect(h.fake.count('instanceGroups.addInstances')).toBe(1);
    expect(h.fake.count('instanceGroups.aggregatedList')).toBeGreaterThanOrEqual(1); // read again
    expect((group.body.instances as string[]).filter((i) => i.endsWith('/n3'))).toHaveLength(1);
  });
});

describe('gcp provider: membership under a controller', () => {
  it('answers ready while the shared groups change, saying they are still settling, and ready without it once done', async () => {
    const provider = h.newProvider();
    const requeued: string[] = [];
    await provider.start({ listServices: () => [], requeue: (r) => requeued.push(r.name), emit: () => undefined });
    const refs = [newRef('f1'), newRef('f2')];
    const two = [node('n1', 'us-central1-a'), node('n2', 'us-central1-a')];
    for (const ref of refs) await converge(provider, desired(ref, two));
    const three = [...two, node('n3', 'us-central1-a')];
    for (const ref of refs) {
      const result = await provider.apply(provider.diff(await provider.observe(ref), desired(ref, three)));
      // The load balancer serves throughout; the controller is told to look again.
      expect(result).toMatchObject({ state: 'ready', settling: { retryAfterMs: expect.any(Number) } });
    }
    expect(h.fake.count('instanceGroups.addInstances')).toBeGreaterThanOrEqual(1);
    for (const ref of refs) await converge(provider, desired(ref, three), 60, 10);
    // Nothing runs behind the controller's back: no requeue of its own.
    expect(requeued).toEqual([]);
    const group = h.fake.list('instanceGroups').find((g) => g.scope === 'zones/us-central1-a')!;
    expect((group.body.instances as string[]).map((i) => i.split('/').pop()).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const ref of refs) expect(provider.diff(await provider.observe(ref), desired(ref, three)).actions.filter((a) => a.mutating)).toEqual([]);
  });
});
