// Issue 18, point 4 and GKE's internal load balancer options: a subnet is required on custom-mode
// networks (networking.gke.io/load-balancer-subnet or the provider's subnetwork), an unreserved
// internal loadBalancerIP is taken from the subnet, and global access follows its annotation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';
import { thrownConfigError } from '../support/configError.js';

let h: Harness;
beforeAll(async () => {
  // 'default' is a custom-mode network here, as every production VPC is.
  h = await startHarness({ pollsToComplete: 1, customModeNetworks: ['default'] });
  h.fake.addInstance('us-central1-a', 'n1');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const nodes = () => [node('n1', 'us-central1-a')];
const INTERNAL = { 'networking.gke.io/load-balancer-type': 'Internal' };
const SUBNET = 'networking.gke.io/load-balancer-subnet';
const GLOBAL = 'networking.gke.io/internal-load-balancer-allow-global-access';

describe('gcp provider: internal load balancers', () => {
  it('asks for a subnet, naming the annotation and the setting, when none is configured', async () => {
    const provider = h.newProvider();
    const ref = newRef('nosubnet');
    const error = thrownConfigError(() => provider.diff(undefined, desired(ref, nodes(), { annotations: INTERNAL })));
    expect(error.field).toBe(`metadata.annotations[${SUBNET}]`);
    expect(error.message).toContain('subnetwork in the gcp provider configuration');
  });

  it('puts address and forwarding rule in the subnet the annotation names', async () => {
    const provider = h.newProvider();
    const ref = newRef('annotated');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodes(), { annotations: { ...INTERNAL, [SUBNET]: 'ilb-subnet' } }));
    expect(String(h.fake.get('addresses', R, name)!.subnetwork)).toMatch(/\/subnetworks\/ilb-subnet$/);
    expect(String(h.fake.get('forwardingRules', R, name)!.subnetwork)).toMatch(/\/subnetworks\/ilb-subnet$/);
  });

  it('uses an unreserved internal loadBalancerIP from the subnet, as GKE does', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes' });
    const ref = newRef('ephemeral');
    const name = loadBalancerName(ref.uid);
    const r = await converge(provider, desired(ref, nodes(), { annotations: INTERNAL, loadBalancerIP: '10.0.5.5' }));
    expect(r.ingress).toEqual([{ ip: '10.0.5.5', ipMode: 'VIP' }]);
    expect(h.fake.get('forwardingRules', R, name)).toMatchObject({ IPAddress: '10.0.5.5' });
    expect(h.fake.get('addresses', R, name)).toBeUndefined();
  });

  it('allows global access with its annotation and patches it in place when it changes', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes' });
    const ref = newRef('global');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodes(), { annotations: { ...INTERNAL, [GLOBAL]: 'true' } }));
    const rule = h.fake.get('forwardingRules', R, name)!;
    expect(rule.allowGlobalAccess).toBe(true);
    await converge(provider, desired(ref, nodes(), { annotations: INTERNAL }));
    expect(h.fake.get('forwardingRules', R, name)).toMatchObject({ allowGlobalAccess: false, id: rule.id });
    const error = thrownConfigError(() => provider.diff(undefined, desired(ref, nodes(), { annotations: { ...INTERNAL, [GLOBAL]: 'yes' } })));
    expect(error.field).toBe(`metadata.annotations[${GLOBAL}]`);
  });
});

describe('gcp provider: networking.gke.io/load-balancer-ip-addresses', () => {
  const ADDRESSES = 'networking.gke.io/load-balancer-ip-addresses';

  it('uses the static address it names', async () => {
    h.fake.seed('addresses', R, { name: 'shop-ip', address: '35.3.3.3', addressType: 'EXTERNAL', description: 'by hand' });
    const provider = h.newProvider();
    const ref = newRef('named');
    const r = await converge(provider, desired(ref, nodes(), { annotations: { [ADDRESSES]: 'shop-ip' } }));
    expect(r.ingress).toEqual([{ ip: '35.3.3.3', ipMode: 'VIP' }]);
    expect(h.fake.get('addresses', R, loadBalancerName(ref.uid))).toBeUndefined();
  });

  it('names the annotation when the address does not exist', async () => {
    const provider = h.newProvider();
    const ref = newRef('unnamed');
    const observed = await provider.observe(ref);
    const error = thrownConfigError(() => provider.diff(observed, desired(ref, nodes(), { annotations: { [ADDRESSES]: 'nope' } })));
    expect(error.field).toBe(`metadata.annotations[${ADDRESSES}]`);
    expect(error.message).toContain('no address named nope is reserved');
  });
});
