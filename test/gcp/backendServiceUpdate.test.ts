// Issue 18, points 1 and 6: a backend service update carries the fingerprint read just before it and
// keeps what others set on the resource; a stale fingerprint (412) is read again, not reported to
// the user; membership and the backend service using the group never change at the same time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, desired, newRef, node, startHarness, udp, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  for (const n of ['n1', 'n2']) h.fake.addInstance('us-central1-a', n);
  h.fake.addInstance('us-central1-b', 'n3');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const zoneA = () => [node('n1', 'us-central1-a'), node('n2', 'us-central1-a')];

describe('gcp provider: backend service updates', () => {
  it('changes affinity with the current fingerprint and keeps fields and backend settings others set', async () => {
    const provider = h.newProvider();
    const ref = newRef('fp');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, zoneA()));
    const created = h.fake.get('backendServices', R, name)!;
    expect(created.connectionDraining).toEqual({ drainingTimeoutSec: 30 });
    // Someone else (an operator, a policy tool) turns on logging and tunes our backend.
    const backends = (created.backends as Array<Record<string, unknown>>).map((b) => ({ ...b, description: 'tuned by hand' }));
    h.fake.change('backendServices', R, name, { logConfig: { enable: true, sampleRate: 0.5 }, backends });

    await converge(provider, desired(ref, zoneA(), { sessionAffinity: 'ClientIP' }));
    const updated = h.fake.get('backendServices', R, name)!;
    expect(updated.sessionAffinity).toBe('CLIENT_IP');
    expect(updated.logConfig).toEqual({ enable: true, sampleRate: 0.5 });
    expect((updated.backends as Array<Record<string, unknown>>).map((b) => b.description)).toEqual(['tuned by hand']);
    expect(h.fake.rejections.filter((r) => r.operation === 'backendServices.update')).toEqual([]);
  });

  it('gives a node in a new zone to the backend service, after its group membership is done', async () => {
    const provider = h.newProvider();
    const ref = newRef('newzone');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, zoneA()));
    h.fake.rejections.length = 0;
    h.fake.resetCalls();
    await converge(provider, desired(ref, [...zoneA(), node('n3', 'us-central1-b')]));
    const zones = (h.fake.get('backendServices', R, name)!.backends as Array<{ group: string }>).map((b) => /zones\/([^/]+)\//.exec(b.group)?.[1]);
    expect(zones.sort()).toEqual(['us-central1-a', 'us-central1-b']);
    // The membership change and the backend service update were never in flight together.
    expect(h.fake.rejections).toEqual([]);
    const order = h.fake.calls.map((c) => c.operation).filter((o) => o === 'instanceGroups.addInstances' || o === 'backendServices.update');
    expect(order).toEqual(['instanceGroups.addInstances', 'backendServices.update']);
  });

  it('reads again and converges when the backend service changed between its read and the update (412)', async () => {
    const provider = h.newProvider();
    const ref = newRef('race');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, zoneA()));
    h.fake.faults.add({ operation: 'backendServices.update', status: 412, reason: 'conditionNotMet', message: 'Invalid fingerprint.' });
    h.fake.resetCalls();
    const r = await converge(provider, desired(ref, zoneA(), { sessionAffinity: 'ClientIP' }));
    expect(r.ingress[0]!.ip).toMatch(/^34\./);
    expect(h.fake.count('backendServices.update')).toBe(2);
    expect(h.fake.get('backendServices', R, name)!.sessionAffinity).toBe('CLIENT_IP');
  });

  it('drains UDP backends at once, as GKE does', async () => {
    const provider = h.newProvider();
    const ref = newRef('udp');
    await converge(provider, desired(ref, zoneA(), { ports: [udp(53)] }));
    expect(h.fake.get('backendServices', R, loadBalancerName(ref.uid))!.connectionDraining).toEqual({ drainingTimeoutSec: 0 });
  });
});
