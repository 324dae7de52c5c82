import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, deleteFully, desired, newRef, node, startHarness, sweepFully, type Harness } from './gcpHarness.js';

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
    // The shared groups are not b's: deleting b leaves them to the sweep.
    expect(h.fake.list('instanceGroups')).toHaveLength(2);
    await sweepFully(provider, h.fake);
    expect(h.fake.list()).toEqual([]);
    expect(await provider.listOwned()).toEqual([]);
    // Deleting what is gone answers deleted at once.
    expect(await provider.delete(b)).toEqual({ state: 'deleted' });
  });

  it('throws a failed delete operation (the controller says DeleteLoadBalancerFailed), then finishes on the next try', async () => {
    const provider = h.newProvider();
    const ref = newRef('faildelete');
    await converge(provider, desired(ref, nodes()));
    h.fake.faults.add({ operation: 'forwardingRules.delete', status: 403, reason: 'forbidden', message: 'Required compute.forwardingRules.delete permission', inOperation: true });
    let error: unknown;
    for (let round = 0; round < 20 && error === undefined; round++) {
      try {
        await provider.delete(ref);
      } catch (e) {
        error = e;
      }
    }
    expect(String(error)).toMatch(/GCP failed to .*HTTP 403.*compute\.forwardingRules\.delete permission/);
    await deleteFully(provider, ref);
    expect(ofService(loadBalancerName(ref.uid))).toEqual([]);
  });

  it('keeps the groups while the controller still serves other Services', async () => {
    const provider = h.newProvider();
    const a = newRef('only');
    const other = newRef('pending');
    await provider.start({ listServices: () => [desired(other, nodes())], requeue: () => undefined, emit: () => undefined });
    await converge(provider, desired(a, nodes()));
    await deleteFully(provider, a);
    await provider.sweep();
    await provider.sweep();
    expect(h.fake.list('instanceGroups')).toHaveLength(2);
    const cleaner = h.newProvider();
    await sweepFully(cleaner, h.fake);
    expect(h.fake.list('instanceGroups')).toEqual([]);
  });
});
