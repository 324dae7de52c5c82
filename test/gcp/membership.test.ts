// Node churn touches only the shared groups' membership, and many Services reconciling at once
// for the same node change produce one membership operation per zone, not one per Service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converge, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  for (const n of ['n1', 'n2', 'n3']) h.fake.addInstance('us-central1-a', n);
});
afterAll(async () => h.close());

describe('gcp provider: coalesced membership', () => {
  it('adds a node once for twenty Services reconciling concurrently', async () => {
    const provider = h.newProvider({ instanceGroupCacheMs: 60_000 });
    const refs = Array.from({ length: 20 }, (_, i) => newRef(`m${i}`));
    const before = [node('n1', 'us-central1-a'), node('n2', 'us-central1-a')];
    await Promise.all(refs.map((ref) => converge(provider, desired(ref, before), 100)));
    expect(h.fake.count('instanceGroups.insert')).toBe(1);
    expect(h.fake.count('instanceGroups.addInstances')).toBe(1);

    h.fake.resetCalls();
    const after = [...before, node('n3', 'us-central1-a')];
    const results = await Promise.all(refs.map((ref) => converge(provider, desired(ref, after), 100)));
    expect(results.every((r) => r.kinds.flat().every((k) => k === 'addInstances' || k === 'waitForOperations'))).toBe(true);
    expect(h.fake.count('instanceGroups.addInstances')).toBe(1);
    expect(h.fake.mutatingCalls()).toBe(1);
    const group = h.fake.list('instanceGroups')[0]!;
    expect((group.body.instances as string[]).map((i) => i.split('/').pop()).sort()).toEqual(['n1', 'n2', 'n3']);
  });
});
