// Issue 18, point 2: the forwarding rule's tier must equal its address's tier (compute.proto), a
// project may default to Standard, and GKE users choose with cloud.google.com/network-tier.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, deleteFully, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';
import { thrownConfigError } from '../support/configError.js';

let h: Harness;
beforeAll(async () => {
  // A project whose default tier is Standard: anything created without a tier gets Standard.
  h = await startHarness({ pollsToComplete: 1, defaultNetworkTier: 'STANDARD' });
  h.fake.addInstance('us-central1-a', 'n1');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const nodes = () => [node('n1', 'us-central1-a')];
const TIER = 'cloud.google.com/network-tier';

describe('gcp provider: network tier', () => {
  it('creates a Premium load balancer in a project that defaults to Standard, tier set on both address and rule', async () => {
    const provider = h.newProvider();
    const ref = newRef('premium');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodes()));
    expect(h.fake.get('addresses', R, name)).toMatchObject({ networkTier: 'PREMIUM' });
    expect(h.fake.get('forwardingRules', R, name)).toMatchObject({ networkTier: 'PREMIUM' });
  });

  it('honours cloud.google.com/network-tier: Standard, and moves back to Premium with a new address', async () => {
    const provider = h.newProvider();
    const ref = newRef('standard');
    const name = loadBalancerName(ref.uid);
    const standard = await converge(provider, desired(ref, nodes(), { annotations: { [TIER]: 'Standard' } }));
    expect(h.fake.get('addresses', R, name)).toMatchObject({ networkTier: 'STANDARD', address: standard.ingress[0]!.ip });
    expect(h.fake.get('forwardingRules', R, name)).toMatchObject({ networkTier: 'STANDARD' });

    const premium = await converge(provider, desired(ref, nodes()));
    expect(premium.ingress[0]!.ip).not.toBe(standard.ingress[0]!.ip); // a tier is a property of the address
    expect(h.fake.get('addresses', R, name)).toMatchObject({ networkTier: 'PREMIUM', address: premium.ingress[0]!.ip });
    expect(h.fake.get('forwardingRules', R, name)).toMatchObject({ networkTier: 'PREMIUM', IPAddress: premium.ingress[0]!.ip });
    await deleteFully(provider, ref);
  });

  it("refuses a user's address of the other tier, naming the field and the annotation, and uses it once they match", async () => {
    const provider = h.newProvider();
    const ref = newRef('usertier');
    h.fake.seed('addresses', R, { name: 'user-standard', address: '35.2.2.2', addressType: 'EXTERNAL', networkTier: 'STANDARD', description: 'by hand' });
    const want = desired(ref, nodes(), { loadBalancerIP: '35.2.2.2' });
    const observed = await provider.observe(ref);
    const refused = thrownConfigError(() => provider.diff(observed, want));
    expect(refused.field).toBe('spec.loadBalancerIP');
    expect(refused.message).toContain('35.2.2.2 is a STANDARD tier address and this Service asks for PREMIUM');
    expect(refused.message).toContain(TIER);

    const r = await converge(provider, desired(ref, nodes(), { loadBalancerIP: '35.2.2.2', annotations: { [TIER]: 'Standard' } }));
    expect(r.ingress).toEqual([{ ip: '35.2.2.2', ipMode: 'VIP' }]);
    expect(h.fake.get('forwardingRules', R, loadBalancerName(ref.uid))).toMatchObject({ networkTier: 'STANDARD' });
  });

  it('names the annotation when its value is not a tier', async () => {
    const provider = h.newProvider();
    const ref = newRef('badtier');
    const error = thrownConfigError(() => provider.diff(undefined, desired(ref, nodes(), { annotations: { [TIER]: 'Gold' } })));
    expect(error.field).toBe(`metadata.annotations[${TIER}]`);
    expect(error.message).toContain('"Gold" is not a network tier; use "Premium" or "Standard"');
  });
});
