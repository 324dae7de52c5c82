// Dual-stack Services, as GKE's L4 controllers serve them: an `-ipv6` twin forwarding rule whose
// address comes from the subnet's IPv6 range (external or internal), `-ipv6` twin firewalls (a rule
// holds ranges of one family), one backend service, health check and groups for both families, and
// both addresses in status. Back to single-stack, the twins go; on delete, everything goes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthCheckFirewallName, ipv6Twin, loadBalancerName, serviceFirewallName } from '../../providers/gcp/names.js';
import type { DesiredLoadBalancer } from '../../providers/provider.js';
import { thrownConfigError } from '../support/configError.js';
import { converge, deleteFully, desired, newRef, node, startHarness, tcp, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 1, dualStackSubnets: { 'nodes-ds': 'EXTERNAL', 'ilb-ds': 'INTERNAL' } });
  h.fake.addInstance('us-central1-a', 'n1');
  h.fake.addInstance('us-central1-b', 'n2');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const G = 'global';
const nodes = () => [node('n1', 'us-central1-a'), node('n2', 'us-central1-b')];
const DUAL: Partial<DesiredLoadBalancer> = { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' };
const INTERNAL = { 'networking.gke.io/load-balancer-type': 'Internal', 'networking.gke.io/load-balancer-subnet': 'ilb-ds' };

describe('gcp provider: dual-stack Services', () => {
  it('creates the -ipv6 twin rule and firewalls and reports both addresses', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes-ds' });
    const ref = newRef('dual');
    const name = loadBalancerName(ref.uid);
    const r = await converge(provider, desired(ref, nodes(), { ...DUAL, sourceRanges: ['203.0.113.0/24', '2001:db8::/32'] }));
    const v4 = h.fake.get('forwardingRules', R, name)!;
    const v6 = h.fake.get('forwardingRules', R, ipv6Twin(name))!;
    expect(v6).toMatchObject({ ipVersion: 'IPV6', IPProtocol: 'TCP', ports: ['80'], loadBalancingScheme: 'EXTERNAL', networkTier: 'PREMIUM' });
    expect(String(v6.subnetwork)).toMatch(/\/subnetworks\/nodes-ds$/);
    // One backend service serves both rules.
    expect(v6.backendService).toBe(v4.backendService);
    const v6ip = String(v6.IPAddress).split('/')[0];
    expect(r.ingress).toEqual([
      { ip: String(v4.IPAddress), ipMode: 'VIP' },
      { ip: v6ip, ipMode: 'VIP' },
    ]);
    expect(h.fake.get('firewalls', G, serviceFirewallName(name))!.sourceRanges).toEqual(['203.0.113.0/24']);
    expect(h.fake.get('firewalls', G, ipv6Twin(serviceFirewallName(name)))!.sourceRanges).toEqual(['2001:db8::/32']);
    expect(h.fake.get('firewalls', G, ipv6Twin(healthCheckFirewallName(name)))!.sourceRanges).toEqual(['2600:1901:8001::/48', '2600:2d00:1:b029::/64']);
  });

  it('gives an internal Service an IPv6 address from the subnet internal range, with global access on both rules', async () => {
    const provider = h.newProvider();
    const ref = newRef('dualilb');
    const name = loadBalancerName(ref.uid);
    const annotations = { ...INTERNAL, 'networking.gke.io/internal-load-balancer-allow-global-access': 'true' };
    const r = await converge(provider, desired(ref, nodes(), { ...DUAL, ipFamilies: ['IPv6', 'IPv4'], annotations }));
    const v6 = h.fake.get('forwardingRules', R, ipv6Twin(name))!;
    expect(v6).toMatchObject({ ipVersion: 'IPV6', loadBalancingScheme: 'INTERNAL', allowGlobalAccess: true });
    expect(String(v6.IPAddress)).toMatch(/^fd20:/);
    expect(r.ingress.map((i) => i.ip)).toEqual([String(h.fake.get('forwardingRules', R, name)!.IPAddress), String(v6.IPAddress).split('/')[0]]);
    // Open to all of each family when no ranges are given, as GKE does.
    expect(h.fake.get('firewalls', G, ipv6Twin(serviceFirewallName(name)))!.sourceRanges).toEqual(['::/0']);
  });

  it('replaces the twin on a port change, keeps it on a source range change, and removes the twins when single-stack again', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes-ds' });
    const ref = newRef('switch');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodes(), DUAL));
    const before = h.fake.get('forwardingRules', R, ipv6Twin(name))!;

    await converge(provider, desired(ref, nodes(), { ...DUAL, sourceRanges: ['2001:db8:1::/48'] }));
    expect(h.fake.get('forwardingRules', R, ipv6Twin(name))!.id).toBe(before.id);
    expect(h.fake.get('firewalls', G, ipv6Twin(serviceFirewallName(name)))!.sourceRanges).toEqual(['2001:db8:1::/48']);
    expect(h.fake.get('firewalls', G, serviceFirewallName(name))!.sourceRanges).toEqual(['0.0.0.0/0']);

    const r = await converge(provider, desired(ref, nodes(), { ...DUAL, ports: [tcp(80), tcp(443)] }));
    const after = h.fake.get('forwardingRules', R, ipv6Twin(name))!;
    expect(after.id).not.toBe(before.id);
    expect(after.ports).toEqual(['80', '443']);
    expect(r.ingress).toHaveLength(2);

    // Single-stack again, seen by a restarted provider (no memory of the twins): status still shows
    // the IPv6 address, which is how it knows to look for them.
    const fresh = h.restarted(provider);
    const single = await converge(fresh, desired(ref, nodes(), { ports: [tcp(80), tcp(443)], currentIngress: r.ingress }));
    expect(single.ingress).toEqual([r.ingress[0]]);
    expect(h.fake.get('forwardingRules', R, ipv6Twin(name))).toBeUndefined();
    expect(h.fake.get('firewalls', G, ipv6Twin(serviceFirewallName(name)))).toBeUndefined();
    expect(h.fake.get('firewalls', G, ipv6Twin(healthCheckFirewallName(name)))).toBeUndefined();
    expect(h.fake.get('forwardingRules', R, name)).toBeDefined();
  });

  it('deletes the twins with the rest', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes-ds' });
    const ref = newRef('gone');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodes(), DUAL));
    await deleteFully(h.restarted(provider), ref);
    for (const [collection, scope, n] of [
      ['forwardingRules', R, ipv6Twin(name)],
      ['forwardingRules', R, name],
      ['firewalls', G, ipv6Twin(serviceFirewallName(name))],
      ['firewalls', G, ipv6Twin(healthCheckFirewallName(name))],
      ['backendServices', R, name],
    ] as const)
      expect(h.fake.get(collection, scope, n), `${collection}/${n}`).toBeUndefined();
  });

  it('leaves a foreign resource with the twin name alone', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes-ds' });
    const ref = newRef('squatted');
    const name = loadBalancerName(ref.uid);
    h.fake.seed('firewalls', G, { name: ipv6Twin(serviceFirewallName(name)), description: 'someone else', network: 'default', sourceRanges: ['::/0'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] });
    await expect(converge(provider, desired(ref, nodes(), DUAL), 6)).rejects.toThrow(/not owned/);
    expect(h.fake.get('firewalls', G, ipv6Twin(serviceFirewallName(name)))).toMatchObject({ description: 'someone else', allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] });
  });

  it('names spec.ipFamilies when no subnet is known or the subnet has no IPv6 range of the right kind', async () => {
    const error = thrownConfigError(() => h.newProvider().diff(undefined, desired(newRef('nosubnet'), nodes(), DUAL)));
    expect(error.field).toBe('spec.ipFamilies');
    expect(error.message).toContain('networking.gke.io/load-balancer-subnet');

    // An external Service on a subnet with internal IPv6 only: Compute refuses the twin.
    const provider = h.newProvider({ subnetwork: 'ilb-ds' });
    await expect(converge(provider, desired(newRef('wrongkind'), nodes(), DUAL), 12)).rejects.toMatchObject({ field: 'spec.ipFamilies', message: expect.stringMatching(/no external IPv6 range/) });
  });

  it('keeps single-stack Services on IPv4 and refuses IPv6 source ranges there', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes-ds' });
    const ref = newRef('single');
    const r = await converge(provider, desired(ref, nodes(), { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'SingleStack' }));
    expect(r.ingress).toHaveLength(1);
    expect(h.fake.get('forwardingRules', R, ipv6Twin(loadBalancerName(ref.uid)))).toBeUndefined();
    const error = thrownConfigError(() => provider.diff(undefined, desired(newRef('v6range'), nodes(), { sourceRanges: ['2001:db8::/32'] })));
    expect(error.field).toBe('spec.loadBalancerSourceRanges');
  });
});
