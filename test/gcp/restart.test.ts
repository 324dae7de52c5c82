// A crash at any step: a fresh provider (no memory of the operations in flight, of its caches or
// snapshots; only the HTTP connection is reused, to keep the test fast) takes over after k rounds
// and must converge with nothing duplicated or leaked; the same for delete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, deleteFully, desired, newRef, node, reconcileRounds, startHarness, sweepFully, tcp, udp, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  // Operations need 3 polls; one nobody polls any more (its poller crashed) finishes after 30 ms, as on GCP.
  h = await startHarness({ pollsToComplete: 3, completeAfterMs: 30 });
  h.fake.addInstance('us-central1-a', 'n1');
  h.fake.addInstance('us-central1-b', 'n2');
});
afterAll(async () => h.close());

const nodes = () => [node('n1', 'us-central1-a'), node('n2', 'us-central1-b')];

function snapshot(): string[] {
  return h.fake
    .list()
    .map((r) => `${r.collection}/${r.name}`)
    .sort();
}

describe('gcp provider: crash and restart', () => {
  it('converges after a restart at every step of create, and deletes after a restart at every step of delete', async () => {
    const reference = newRef('reference');
    const refProvider = h.newProvider();
    const created = await converge(refProvider, desired(reference, nodes(), { ports: [tcp(80), udp(53)] }));
    const createRounds = created.rounds;
    const expected = snapshot().map((s) => s.replace(loadBalancerName(reference.uid), 'LB'));
    const deleteRounds = await deleteFully(refProvider, reference);
    await sweepFully(refProvider, h.fake);
    expect(h.fake.list()).toEqual([]);
    expect(createRounds).toBeGreaterThan(3);

    for (let k = 1; k < createRounds; k++) {
      const ref = newRef(`crash${k}`);
      const want = desired(ref, nodes(), { ports: [tcp(80), udp(53)] });
      await reconcileRounds(h.restarted(refProvider), want, k); // crashes after k rounds
      const result = await converge(h.restarted(refProvider), want, 200, 10);
      expect(result.ingress[0]!.ip, `restart after ${k} rounds`).toMatch(/^34\./);
      expect(snapshot().map((s) => s.replace(loadBalancerName(ref.uid), 'LB')), `restart after ${k} rounds`).toEqual(expected);

      const j = Math.min(k, deleteRounds - 1);
      const deleter = h.restarted(refProvider);
      for (let i = 0; i < j; i++) await deleter.delete(ref); // crashes after j delete rounds
      await deleteFully(h.restarted(refProvider), ref, 200, 10);
      await sweepFully(h.restarted(refProvider), h.fake, 200, 10);
      expect(h.fake.list(), `delete restarted after ${j} rounds`).toEqual([]);
    }
  });
});
