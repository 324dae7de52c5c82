// While a Service converges, each phase's end re-reads only what that phase changed: the rest of
// the read the phase was planned from stands (bounded by observeCacheMs). Anything unplanned (a
// refused step) brings back a full read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  h.fake.addInstance('us-central1-a', 'n1');
});
afterAll(async () => h.close());

const GETS = /^(healthChecks|backendServices|forwardingRules|firewalls|addresses)\.get$/;
const nodes = () => [node('n1', 'us-central1-a')];

describe('gcp provider: reads while a Service converges', () => {
  it('re-reads only what each phase changed, and still sees what Compute assigned', async () => {
    const warm = h.newProvider({ observeCacheMs: 60_000 });
    await converge(warm, desired(newRef('warm'), nodes())); // the shared group exists from here on

    const full = h.newProvider({ observeCacheMs: 0 });
    h.fake.resetCalls();
    await converge(full, desired(newRef('full'), nodes()));
    const fullGets = h.fake.count(GETS);

    const partial = h.newProvider({ observeCacheMs: 60_000 });
    const ref = newRef('partial');
    h.fake.resetCalls();
    const r = await converge(partial, desired(ref, nodes()));
    const partialGets = h.fake.count(GETS);
    // Full: four reads of six resources. Partial: six, then the four of phase 3 (address, health
    // check, two firewalls), the backend service, the forwarding rule and its address.
    expect(fullGets).toBe(24);
    expect(partialGets).toBe(13);
    expect(r.ingress).toEqual([{ ip: String(h.fake.get('forwardingRules', 'regions/us-central1', loadBalancerName(ref.uid))!.IPAddress), ipMode: 'VIP' }]);
  });

  it('reads everything again after a step Compute refused', async () => {
    const provider = h.newProvider({ observeCacheMs: 60_000 });
    const ref = newRef('refused');
    const firewall = `/firewalls/k8s-fw-${loadBalancerName(ref.uid)}`;
    // One of phase 3's four inserts is refused (409: the plan's view was wrong about it); the others start.
    h.fake.faults.add({ operation: 'firewalls.insert', status: 409, times: 1 });
    h.fake.resetCalls();
    await converge(provider, desired(ref, nodes()));
    // The firewall is read by the first full read, by the full read the refusal calls for, and after
    // its own insert. Were the refused round's other steps trusted, the second read would be skipped.
    expect(h.fake.calls.filter((c) => c.method === 'GET' && c.path.endsWith(firewall))).toHaveLength(3);
  });
});
