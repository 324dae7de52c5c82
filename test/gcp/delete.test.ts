import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, deleteFully, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  h.fake.addInstance('us-central1-a', 'n1');
  h.fake.addInstance('us-central1-b', 'n2');
});
afterAll(async () => h.close());

const nodes = () => [node('n1', 'us-central1-a'), node('n2', 'us-central1-b')];
const ofService = (name: string) => h.fake.list().filter((r) => r.name.includes(name));

describe('gcp provider: delete', () => {
  it('removes everything, keeping the shared groups while another Service uses them', async () => {
    const provider = h.newProvider();
    const a = newRef('a');
    const b = newRef('b');
    await converge(provider, desired(a, nodes()));
    await converge(provider, desired(b, nodes()));
    expect(ofService(loadBalancerName(a.uid))).toHaveLength(6);

    const first = await provider.delete(a);
    expect(first.state).toBe('inProgress'); // never waits for the operations
    await deleteFully(provider, a);
    expect(ofService(loadBalancerName(a.uid))).toEqual([]);
    expect(h.fake.list('instanceGroups')).toHaveLength(2); // b's backend service still uses them
    expect(ofService(loadBalancerName(b.uid))).toHaveLength(6);
    expect(await provider.listOwned()).toEqual([b]);

    await deleteFully(provider, b);
    expect(h.fake.list()).toEqual([]);
    expect(await provider.listOwned()).toEqual([]);
    // Deleting what is gone answers deleted at once.
    expect(await provider.delete(b)).toEqual({ state: 'deleted' });
  });

  it('keeps the groups while the controller still serves other Services', async () => {
    const provider = h.newProvider();
    const a = newRef('only');
    const other = newRef('pending');
    await provider.start({ listServices: () => [desired(other, nodes())], requeue: () => undefined, emit: () => undefined });
    await converge(provider, desired(a, nodes()));
    await deleteFully(provider, a);
    expect(h.fake.list('instanceGroups')).toHaveLength(2);
    const cleaner = h.newProvider();
    await cleaner.delete(a).then(() => deleteFully(cleaner, a));
    expect(h.fake.list('instanceGroups')).toEqual([]);
  });
});
