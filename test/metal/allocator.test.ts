// The metal allocator, exhaustively: pools, requested addresses, annotations (ours and MetalLB's),
// sharing rules, dual-stack, restart stability, exhaustion and freed addresses going to pending
// Services, overlap rejection, metrics.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compilePools, usableCount } from '../../providers/metal/addressPools.js';
import { Allocator } from '../../providers/metal/allocator.js';
import { metalConfigSchema, type MetalConfig } from '../../providers/metal/config.js';
import { createMetalProvider } from '../../providers/metal/index.js';
import { serviceClaim } from '../../providers/metal/serviceClaim.js';
import { ServiceConfigError, serviceKey, type DesiredLoadBalancer, type ProviderEvent, type ServiceRef } from '../../providers/provider.js';
import { silentLogger } from '../../src/observability/logger.js';
import { desiredService, type ServiceShape } from './desiredService.js';

type PoolInput = { name: string; addresses: string[] } & Record<string, unknown>;

function config(pools: PoolInput[]): MetalConfig {
  return metalConfigSchema.parse({ type: 'metal', pools });
}

function allocator(pools: PoolInput[]): Allocator {
  return new Allocator(compilePools(config(pools).pools));
}

function assign(a: Allocator, shape: ServiceShape): string[] {
  return a.assign(serviceClaim(desiredService(shape))).assignment.ips;
}

function assignError(a: Allocator, shape: ServiceShape): ServiceConfigError {
  try {
    assign(a, shape);
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceConfigError);
    return error as ServiceConfigError;
  }
  throw new Error(`expected ${shape.name} to be refused`);
}

const v4 = { name: 'v4', addresses: ['192.0.2.0/29'] };

describe('pool configuration', () => {
  it('parses CIDRs and start-end ranges, IPv4 and IPv6', () => {
    const pools = compilePools(
      config([
        { name: 'a', addresses: ['192.0.2.0/30', '198.51.100.10-198.51.100.12'] },
        { name: 'b', addresses: ['2001:db8::/126', '2001:db8:1::10-2001:db8:1::11'] },
      ]).pools,
    );
    expect(usableCount(pools[0]!, 'IPv4')).toBe(7n);
    expect(usableCount(pools[1]!, 'IPv6')).toBe(6n);
  });

  it('rejects overlapping pools with a message naming both entries and the shared address', () => {
    const result = metalConfigSchema.safeParse({
      type: 'metal',
      pools: [
        { name: 'one', addresses: ['192.0.2.0/28'] },
        { name: 'two', addresses: ['192.0.2.10-192.0.2.20'] },
      ],
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toBe(
      'pools "one" and "two" overlap: 192.0.2.0/28 and 192.0.2.10-192.0.2.20 both contain 192.0.2.10; an address must belong to exactly one pool',
    );
  });

  it('rejects overlapping entries within one pool, IPv6 too', () => {
    const result = metalConfigSchema.safeParse({ type: 'metal', pools: [{ name: 'six', addresses: ['2001:db8::/64', '2001:db8::ff-2001:db8::1:0'] }] });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.message).toMatch(/pool "six" has overlapping entries: .* both contain 2001:db8::ff/);
  });

  it('accepts adjacent, non-overlapping pools and pools of different families', () => {
    expect(
      metalConfigSchema.safeParse({
        type: 'metal',
        pools: [
          { name: 'a', addresses: ['192.0.2.0/29'] },
          { name: 'b', addresses: ['192.0.2.8-192.0.2.9'] },
          { name: 'c', addresses: ['::ffff:0:0/120'] },
        ],
      }).success,
    ).toBe(true);
  });

  it('rejects malformed entries, reversed ranges, mixed families and duplicate names', () => {
    const bad = (addresses: string[]) => metalConfigSchema.safeParse({ type: 'metal', pools: [{ name: 'x', addresses }] });
    expect(bad(['192.0.2.0/33']).error!.issues[0]!.message).toMatch(/not a valid CIDR/);
    expect(bad(['192.0.2.9-192.0.2.1']).error!.issues[0]!.message).toMatch(/starts after it ends/);
    expect(bad(['192.0.2.1-2001:db8::1']).error!.issues[0]!.message).toMatch(/mixes IPv4 and IPv6/);
    expect(bad(['nonsense']).error!.issues[0]!.message).toMatch(/neither a CIDR nor a start-end range/);
    const dup = metalConfigSchema.safeParse({
      type: 'metal',
      pools: [
        { name: 'x', addresses: ['192.0.2.0/30'] },
        { name: 'x', addresses: ['192.0.2.8/30'] },
      ],
    });
    expect(dup.error!.issues[0]!.message).toBe('pool name "x" is used twice');
    expect(() => compilePools([{ name: 'p', addresses: ['10.0.0.0/8', '10.1.0.0/16'], autoAssign: true, avoidBuggyIPs: false, priority: 0, namespaces: [], serviceSelector: {} }])).toThrow(
      /invalid metal address pools: pool "p" has overlapping entries/,
    );
  });
});

describe('automatic assignment', () => {
  it('hands out the lowest free address, skipping .0 and .255 when avoidBuggyIPs', () => {
    const a = allocator([{ name: 'p', addresses: ['192.0.2.254-192.0.3.1'], avoidBuggyIPs: true }]);
    expect(assign(a, { name: 's1' })).toEqual(['192.0.2.254']);
    expect(assign(a, { name: 's2' })).toEqual(['192.0.3.1']);
    expect(assignError(a, { name: 's3' }).message).toMatch(/pool "p" is exhausted/);
    const plain = allocator([{ name: 'p', addresses: ['192.0.2.255-192.0.3.0'] }]);
    expect(assign(plain, { name: 's1' })).toEqual(['192.0.2.255']);
    expect(assign(plain, { name: 's2' })).toEqual(['192.0.3.0']);
  });

  it('counts usable addresses without the buggy ones', () => {
    const pools = compilePools(config([{ name: 'p', addresses: ['192.0.2.0/23'], avoidBuggyIPs: true }]).pools);
    expect(usableCount(pools[0]!, 'IPv4')).toBe(512n - 4n);
  });

  it('is idempotent: the same Service keeps its address', () => {
    const a = allocator([v4]);
    const first = assign(a, { name: 'web' });
    expect(assign(a, { name: 'web' })).toEqual(first);
    expect(assign(a, { name: 'other' })).not.toEqual(first);
  });

  it('tries pools by priority (lowest first), then name, and skips autoAssign: false', () => {
    const a = allocator([
      { name: 'b-low', addresses: ['198.51.100.0/30'], priority: 10 },
      { name: 'a-high', addresses: ['192.0.2.0/31'], priority: 1 },
      { name: 'manual', addresses: ['203.0.113.0/30'], priority: 0, autoAssign: false },
    ]);
    expect(assign(a, { name: 's1' })).toEqual(['192.0.2.0']);
    expect(assign(a, { name: 's2' })).toEqual(['192.0.2.1']);
    expect(assign(a, { name: 's3' })).toEqual(['198.51.100.0']);
    // The manual pool still serves a Service that names it.
    expect(assign(a, { name: 's4', annotations: { 'kube-lb-provisioner.io/address-pool': 'manual' } })).toEqual(['203.0.113.0']);
  });

  it('honours namespace and Service label selectors', () => {
    const a = allocator([
      { name: 'team', addresses: ['192.0.2.0/30'], namespaces: ['team-a'] },
      { name: 'gold', addresses: ['198.51.100.0/30'], serviceSelector: { tier: 'gold' }, priority: 1 },
      { name: 'rest', addresses: ['203.0.113.0/30'] },
    ]);
    expect(assign(a, { namespace: 'team-a', name: 's' })).toEqual(['192.0.2.0']);
    expect(assign(a, { namespace: 'team-b', name: 's', labels: { tier: 'gold' } })).toEqual(['198.51.100.0']);
    expect(assign(a, { namespace: 'team-b', name: 't' })).toEqual(['203.0.113.0']);
    const err = assignError(a, { namespace: 'team-b', name: 'u', annotations: { 'kube-lb-provisioner.io/address-pool': 'team' } });
    expect(err.field).toBe("metadata.annotations['kube-lb-provisioner.io/address-pool']");
    expect(err.message).toMatch(/pool "team" serves only namespaces team-a/);
  });

  it('answers clearly when no pool admits the Service or the named pool does not exist', () => {
    const a = allocator([{ name: 'team', addresses: ['192.0.2.0/30'], namespaces: ['team-a'] }]);
    const none = assignError(a, { namespace: 'other', name: 's' });
    expect(none.field).toBe('metadata.labels');
    expect(none.message).toMatch(/no pool admits Service other\/s: pool "team" serves only namespaces team-a/);
    const missing = assignError(a, { namespace: 'team-a', name: 's', annotations: { 'metallb.io/address-pool': 'nope' } });
    expect(missing.field).toBe("metadata.annotations['metallb.io/address-pool']");
    expect(missing.message).toMatch(/there is no pool "nope" \(pools: team\)/);
  });

  it('accepts MetalLB pool annotations (both prefixes); ours wins', () => {
    const a = allocator([
      { name: 'x', addresses: ['192.0.2.0/30'] },
      { name: 'y', addresses: ['198.51.100.0/30'] },
      { name: 'z', addresses: ['203.0.113.0/30'] },
    ]);
    expect(assign(a, { name: 's1', annotations: { 'metallb.universe.tf/address-pool': 'y' } })).toEqual(['198.51.100.0']);
    expect(assign(a, { name: 's2', annotations: { 'metallb.io/address-pool': 'z' } })).toEqual(['203.0.113.0']);
    expect(
      assign(a, { name: 's3', annotations: { 'kube-lb-provisioner.io/address-pool': 'x', 'metallb.io/address-pool': 'z' } }),
    ).toEqual(['192.0.2.0']);
  });

  it('moves a Service to the pool it newly names, freeing the old address', () => {
    const a = allocator([
      { name: 'x', addresses: ['192.0.2.0/30'] },
      { name: 'y', addresses: ['198.51.100.0/30'] },
    ]);
    expect(assign(a, { name: 's' })).toEqual(['192.0.2.0']);
    const moved = a.assign(serviceClaim(desiredService({ name: 's', annotations: { 'kube-lb-provisioner.io/address-pool': 'y' } })));
    expect(moved.assignment.ips).toEqual(['198.51.100.0']);
    expect(moved.freed).toEqual(['192.0.2.0']);
  });
});

describe('requested addresses', () => {
  const pools = [
    { name: 'p4', addresses: ['192.0.2.0/28'] },
    { name: 'p6', addresses: ['2001:db8::/124'] },
    { name: 'manual', addresses: ['198.51.100.0/30'], autoAssign: false },
  ];

  it('honours spec.loadBalancerIP, also in a pool that does not auto-assign', () => {
    const a = allocator(pools);
    expect(assign(a, { name: 's', loadBalancerIP: '192.0.2.7' })).toEqual(['192.0.2.7']);
    expect(assign(a, { name: 't', loadBalancerIP: '198.51.100.2' })).toEqual(['198.51.100.2']);
    // The next automatic address skips neither nor takes them.
    expect(assign(a, { name: 'u' })).toEqual(['192.0.2.0']);
  });

  it.each([
    'kube-lb-provisioner.io/load-balancer-ips',
    'metallb.io/loadBalancerIPs',
    'metallb.universe.tf/loadBalancerIPs',
  ])('honours the %s annotation with one or two (dual-stack) addresses', (annotation) => {
    const a = allocator(pools);
    expect(assign(a, { name: 'one', annotations: { [annotation]: '192.0.2.9' } })).toEqual(['192.0.2.9']);
    expect(
      assign(a, {
        name: 'two',
        annotations: { [annotation]: '2001:db8::5, 192.0.2.10' },
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'RequireDualStack',
      }),
    ).toEqual(['192.0.2.10', '2001:db8::5']);
  });

  it('names the cause when the requested address is outside every pool', () => {
    const a = allocator(pools);
    const err = assignError(a, { name: 's', annotations: { 'metallb.io/loadBalancerIPs': '203.0.113.5' } });
    expect(err.field).toBe("metadata.annotations['metallb.io/loadBalancerIPs']");
    expect(err.message).toMatch(/^metadata.annotations\['metallb.io\/loadBalancerIPs'\]: 203.0.113.5 is outside every pool \("manual" \(198.51.100.0\/30\); "p4" \(192.0.2.0\/28\); "p6" \(2001:db8::\/124\)\): ask for an address in a pool or add one$/);
    expect(assignError(a, { name: 't', loadBalancerIP: '203.0.113.5' }).field).toBe('spec.loadBalancerIP');
  });

  it('rejects malformed lists, two addresses of one family, and a spec field that disagrees', () => {
    const a = allocator(pools);
    expect(assignError(a, { name: 's', annotations: { 'kube-lb-provisioner.io/load-balancer-ips': 'banana' } }).message).toMatch(/"banana" is not an IP address/);
    expect(
      assignError(a, { name: 's', annotations: { 'kube-lb-provisioner.io/load-balancer-ips': '192.0.2.1,192.0.2.2' }, ipFamilyPolicy: 'PreferDualStack' }).message,
    ).toMatch(/one IPv4 and one IPv6 address for dual-stack/);
    const clash = assignError(a, { name: 's', loadBalancerIP: '192.0.2.3', annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.4' } });
    expect(clash.field).toBe('spec.loadBalancerIP');
    expect(clash.message).toMatch(/disagrees with metadata.annotations\['metallb.io\/loadBalancerIPs'\]/);
  });

  it('refuses an address of another pool than the one named, of a refusing pool, or a buggy one', () => {
    const a = allocator([
      ...pools,
      { name: 'scoped', addresses: ['203.0.113.0/30'], namespaces: ['prod'] },
      { name: 'careful', addresses: ['192.0.3.0/24'], avoidBuggyIPs: true },
    ]);
    expect(
      assignError(a, { name: 's', loadBalancerIP: '192.0.2.3', annotations: { 'kube-lb-provisioner.io/address-pool': 'p6' } }).message,
    ).toMatch(/192.0.2.3 belongs to pool "p4", not to "p6"/);
    expect(assignError(a, { name: 's', loadBalancerIP: '203.0.113.1' }).message).toMatch(/203.0.113.1 is in pool "scoped", but pool "scoped" serves only namespaces prod/);
    expect(assignError(a, { name: 's', loadBalancerIP: '192.0.3.255' }).message).toMatch(/avoids \(avoidBuggyIPs\)/);
  });

  it('checks requested families against ipFamilyPolicy', () => {
    const a = allocator(pools);
    expect(
      assignError(a, { name: 's', annotations: { 'kube-lb-provisioner.io/load-balancer-ips': '192.0.2.1,2001:db8::1' } }).message,
    ).toMatch(/ipFamilyPolicy is SingleStack/);
    expect(assignError(a, { name: 's', loadBalancerIP: '192.0.2.1', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] }).message).toMatch(
      /the Service is dual-stack \(ipFamilyPolicy RequireDualStack, ipFamilies IPv4,IPv6\): give one IPv4 and one IPv6 address/,
    );
    expect(assignError(a, { name: 's', loadBalancerIP: '2001:db8::1', ipFamilies: ['IPv4'] }).message).toMatch(/2001:db8::1 is IPv6 but the Service's ipFamilies is IPv4/);
    expect(assign(a, { name: 's6', loadBalancerIP: '2001:db8::1', ipFamilies: ['IPv6'] })).toEqual(['2001:db8::1']);
  });

  it('refuses an address another Service holds, naming it', () => {
    const a = allocator(pools);
    assign(a, { namespace: 'shop', name: 'web', loadBalancerIP: '192.0.2.5' });
    const err = assignError(a, { name: 'api', loadBalancerIP: '192.0.2.5' });
    expect(err.field).toBe('spec.loadBalancerIP');
    expect(err.message).toBe('spec.loadBalancerIP: 192.0.2.5 is in use by shop/web, which has no allow-shared-ip annotation');
  });
});

describe('sharing (MetalLB rules)', () => {
  const key = 'kube-lb-provisioner.io/allow-shared-ip';
  const pools = [{ name: 'p', addresses: ['192.0.2.0/30'] }];

  it('shares with the same key and disjoint ports when asked for the address; a keyed Service takes a free address first', () => {
    const a = allocator(pools);
    expect(assign(a, { name: 'dns-tcp', annotations: { [key]: 'dns' }, ports: [{ protocol: 'TCP', port: 53 }] })).toEqual(['192.0.2.0']);
    expect(assign(a, { name: 'dns-udp', annotations: { 'metallb.io/allow-shared-ip': 'dns' }, loadBalancerIP: '192.0.2.0', ports: [{ protocol: 'UDP', port: 53 }] })).toEqual(['192.0.2.0']);
    expect(
      assign(a, { name: 'dns-web', annotations: { 'metallb.universe.tf/allow-shared-ip': 'dns' }, loadBalancerIP: '192.0.2.0', ports: [{ protocol: 'TCP', port: 80 }] }),
    ).toEqual(['192.0.2.0']);
    expect(a.holdersOf('192.0.2.0').sort()).toEqual(['default/dns-tcp', 'default/dns-udp', 'default/dns-web']);
    // A keyless Service still gets its own address.
    expect(assign(a, { name: 'alone' })).toEqual(['192.0.2.1']);
  });

  it('refuses a different key, a missing key, or an overlapping protocol/port, naming the holder', () => {
    const a = allocator(pools);
    assign(a, { namespace: 'ns', name: 'first', annotations: { [key]: 'k1' }, loadBalancerIP: '192.0.2.2', ports: [{ protocol: 'TCP', port: 443 }] });
    const otherKey = assignError(a, { name: 'b', annotations: { [key]: 'k2' }, loadBalancerIP: '192.0.2.2', ports: [{ port: 80 }] });
    expect(otherKey.field).toBe(`metadata.annotations['${key}']`);
    expect(otherKey.message).toMatch(/192.0.2.2 is in use by ns\/first, whose allow-shared-ip key is "k1", not "k2"/);
    expect(assignError(a, { name: 'c', loadBalancerIP: '192.0.2.2', ports: [{ port: 80 }] }).message).toMatch(
      /in use by ns\/first, which shares it under key "k1" while this Service has no allow-shared-ip annotation/,
    );
    expect(assignError(a, { name: 'd', annotations: { [key]: 'k1' }, loadBalancerIP: '192.0.2.2', ports: [{ protocol: 'TCP', port: 443 }] }).message).toMatch(
      /in use by ns\/first, which also uses TCP\/443/,
    );
    // Same port number, other protocol: fine.
    expect(assign(a, { name: 'e', annotations: { [key]: 'k1' }, loadBalancerIP: '192.0.2.2', ports: [{ protocol: 'UDP', port: 443 }] })).toEqual(['192.0.2.2']);
  });

  it('under externalTrafficPolicy Local shares only with Local Services of the same selector', () => {
    const a = allocator(pools);
    const local = (name: string, selector: Record<string, string>, port: number, policy: 'Local' | 'Cluster' = 'Local') =>
      ({ name, annotations: { [key]: 'k' }, loadBalancerIP: '192.0.2.1', externalTrafficPolicy: policy, selector, ports: [{ port }] }) as ServiceShape;
    assign(a, local('l1', { app: 'x' }, 80));
    expect(assignError(a, local('l2', { app: 'y' }, 81)).message).toMatch(/externalTrafficPolicy Local and a different selector/);
    expect(assignError(a, local('c1', { app: 'x' }, 82, 'Cluster')).message).toMatch(/externalTrafficPolicy differs/);
    expect(assign(a, local('l3', { app: 'x' }, 83))).toEqual(['192.0.2.1']);
  });

  it('re-checks sharing when a Service changes its ports, moving it away from a clash', () => {
    const a = allocator(pools);
    assign(a, { name: 'a', annotations: { [key]: 'k' }, ports: [{ port: 80 }] });
    for (const filler of ['f1', 'f2', 'f3']) assign(a, { name: filler });
    // The pool is full: b joins a's address.
    expect(assign(a, { name: 'b', annotations: { [key]: 'k' }, ports: [{ port: 81 }] })).toEqual(['192.0.2.0']);
    a.release('default/f1');
    // b now also wants port 80: it can no longer share with a, so it gets another address.
    expect(assign(a, { name: 'b', annotations: { [key]: 'k' }, ports: [{ port: 80 }] })).toEqual(['192.0.2.1']);
  });

  it('frees a shared address only when its last holder goes', () => {
    const a = allocator([{ name: 'p', addresses: ['192.0.2.0/32'] }]);
    assign(a, { name: 'a', annotations: { [key]: 'k' }, ports: [{ port: 80 }] });
    assign(a, { name: 'b', annotations: { [key]: 'k' }, ports: [{ port: 81 }] });
    expect(a.release('default/a')).toEqual([]);
    expect(a.release('default/b')).toEqual(['192.0.2.0']);
    expect(a.release('default/b')).toEqual([]);
  });
});

describe('dual-stack', () => {
  const pools = [
    { name: 'only4', addresses: ['192.0.2.0/30'], priority: 1 },
    { name: 'both', addresses: ['198.51.100.0/30', '2001:db8::/126'], priority: 2 },
    { name: 'only6', addresses: ['2001:db8:1::/126'], priority: 3 },
  ];

  it('SingleStack takes the primary family from the first pool that has it', () => {
    const a = allocator(pools);
    expect(assign(a, { name: 'v4' })).toEqual(['192.0.2.0']);
    expect(assign(a, { name: 'v6', ipFamilies: ['IPv6'] })).toEqual(['2001:db8::']);
  });

  it('RequireDualStack takes both families from one pool, primary first', () => {
    const a = allocator(pools);
    expect(assign(a, { name: 'd', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] })).toEqual(['198.51.100.0', '2001:db8::']);
    expect(assign(a, { name: 'e', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'] })).toEqual(['2001:db8::1', '198.51.100.1']);
  });

  it('PreferDualStack takes both when a pool can, else the primary family alone', () => {
    const a = allocator(pools);
    expect(assign(a, { name: 'p1', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'] })).toEqual(['198.51.100.0', '2001:db8::']);
    const single = allocator([pools[0]!]);
    expect(assign(single, { name: 'p2', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'] })).toEqual(['192.0.2.0']);
  });

  it('RequireDualStack fails clearly when no pool has both families free', () => {
    const a = allocator([pools[0]!, pools[2]!]);
    const err = assignError(a, { name: 'd', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
    // No pool has both families at all: the policy is what to change, not a pool that fills up.
    expect(err.field).toBe('spec.ipFamilyPolicy');
    expect(err.message).toBe(
      'spec.ipFamilyPolicy: is RequireDualStack, but no pool this Service may use has both IPv4 and IPv6 addresses ("only4" IPv4; "only6" IPv6): add the missing family to a pool, or set PreferDualStack',
    );
  });

  it('RequireDualStack reports exhaustion on spec.type when a pool has both families but no free pair', () => {
    const a = allocator([{ name: 'both', addresses: ['192.0.2.0/31', '2001:db8::/127'] }]);
    assign(a, { name: 'x', ipFamilies: ['IPv6'] });
    assign(a, { name: 'y', ipFamilies: ['IPv6'] });
    const err = assignError(a, { name: 'd', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
    expect(err.field).toBe('spec.type');
    expect(err.message).toMatch(/pool "both" is exhausted: no free an IPv4 and an IPv6 address from one pool \("both" 0\/2 IPv4 in use, 2\/2 IPv6 in use\)/);
  });
});

describe('dual-stack: adding the second family to a Service that holds one', () => {
  const v4only = { name: 'lab', addresses: ['192.0.2.0/29'] };
  const grown = { name: 'lab', addresses: ['192.0.2.0/29', '2001:db8::/125'] };

  it('PreferDualStack gains IPv6 once its pool has some (after a restart), keeping its IPv4 address', () => {
    const before = allocator([v4only]);
    expect(assign(before, { name: 's', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.5'] })).toEqual(['192.0.2.5']);
    // The controller restarts with IPv6 added to the pool and adopts status first.
    const after = allocator([grown]);
    const shape: ServiceShape = { name: 's', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.5'] };
    expect(after.restore(serviceClaim(desiredService(shape)), ['192.0.2.5'])).toBeUndefined();
    expect(assign(after, shape)).toEqual(['192.0.2.5', '2001:db8::']);
    expect(after.assignmentOf('default/s')).toEqual({ ips: ['192.0.2.5', '2001:db8::'], pools: ['lab', 'lab'] });
    // Stable from then on.
    expect(assign(after, { ...shape, currentIPs: ['192.0.2.5', '2001:db8::'] })).toEqual(['192.0.2.5', '2001:db8::']);
  });

  it('a Service switching from SingleStack to PreferDualStack or RequireDualStack keeps its address and adds the other family', () => {
    const a = allocator([grown]);
    expect(assign(a, { name: 'p', currentIPs: ['192.0.2.6'] })).toEqual(['192.0.2.6']);
    expect(assign(a, { name: 'p', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.6'] })).toEqual(['192.0.2.6', '2001:db8::']);
    expect(assign(a, { name: 'r', ipFamilies: ['IPv6'], currentIPs: ['2001:db8::7'] })).toEqual(['2001:db8::7']);
    expect(assign(a, { name: 'r', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'], currentIPs: ['2001:db8::7'] })).toEqual(['2001:db8::7', '192.0.2.0']);
  });

  it('PreferDualStack stays single-stack where its pool has no free address of the other family, and gains one when it frees', () => {
    const a = allocator([{ name: 'lab', addresses: ['192.0.2.0/29', '2001:db8::/128'] }]);
    assign(a, { name: 'holder', ipFamilies: ['IPv6'] });
    const shape: ServiceShape = { name: 's', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'] };
    expect(assign(a, shape)).toEqual(['192.0.2.0']);
    a.release('default/holder');
    expect(assign(a, shape)).toEqual(['192.0.2.0', '2001:db8::']);
  });

  it('PreferDualStack keeps its address rather than move to another pool that has both families', () => {
    const a = allocator([
      { name: 'a-v4', addresses: ['192.0.2.0/29'] },
      { name: 'b-dual', addresses: ['198.51.100.0/29', '2001:db8::/125'] },
    ]);
    expect(assign(a, { name: 's', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.3'] })).toEqual(['192.0.2.3']);
  });

  it('RequireDualStack holding one family moves to a pool with both when its own has none, else keeps what it holds with a warning', () => {
    const pools = [
      { name: 'a-v4', addresses: ['192.0.2.0/29'] },
      { name: 'b-dual', addresses: ['198.51.100.0/29', '2001:db8::/125'] },
    ];
    const a = allocator(pools);
    expect(assign(a, { name: 'r', currentIPs: ['192.0.2.3'] })).toEqual(['192.0.2.3']);
    expect(assign(a, { name: 'r', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.3'] })).toEqual(['198.51.100.0', '2001:db8::']);

    const single = allocator([pools[0]!]);
    expect(assign(single, { name: 'r', currentIPs: ['192.0.2.3'] })).toEqual(['192.0.2.3']);
    const kept = single.plan(serviceClaim(desiredService({ name: 'r', ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.3'] })));
    expect(kept.ips).toEqual(['192.0.2.3']);
    expect(kept.warnings).toEqual([
      'spec.ipFamilyPolicy: is RequireDualStack, but no pool this Service may use has both IPv4 and IPv6 addresses ("a-v4" IPv4): add the missing family to a pool, or set PreferDualStack; keeping 192.0.2.3 until this can be met',
    ]);
  });

  it('does not add a family to addresses the Service asked for', () => {
    const a = allocator([grown]);
    expect(assign(a, { name: 'q', loadBalancerIP: '192.0.2.4', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4'] })).toEqual(['192.0.2.4']);
  });

  it('the provider requeues a PreferDualStack Service when an address of its missing family is freed', async () => {
    const provider = createMetalProvider(config([{ name: 'lab', addresses: ['192.0.2.0/29', '2001:db8::/128'] }]), { clusterName: 'test', logger: silentLogger(), record: () => {} }, new Registry());
    const services = new Map<string, DesiredLoadBalancer>();
    const requeued: ServiceRef[] = [];
    await provider.start({ listServices: () => [...services.values()], requeue: (ref) => requeued.push(ref), emit: () => {} });
    const reconcile = async (d: DesiredLoadBalancer): Promise<string[]> => {
      services.set(serviceKey(d.ref), d);
      const result = await provider.apply(provider.diff(await provider.observe(d.ref), d));
      if (result.state !== 'ready') throw new Error('metal is never in progress');
      services.set(serviceKey(d.ref), { ...d, currentIngress: result.ingress });
      return result.ingress.map((i) => i.ip ?? '');
    };
    const holder = desiredService({ name: 'holder', ipFamilies: ['IPv6'] });
    const other = desiredService({ name: 'other' });
    const dual = desiredService({ name: 'dual', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'] });
    expect(await reconcile(holder)).toEqual(['2001:db8::']);
    expect(await reconcile(dual)).toEqual(['192.0.2.0']);
    expect(await reconcile(other)).toEqual(['192.0.2.1']);
    await provider.delete(holder.ref);
    // Only the Service that can use the freed IPv6 address as its second family.
    expect(requeued).toEqual([dual.ref]);
    expect(await reconcile(services.get('default/dual')!)).toEqual(['192.0.2.0', '2001:db8::']);
  });

  it('the provider plans the added family as an assignment after a restart', async () => {
    const d = desiredService({ name: 'web', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], currentIPs: ['192.0.2.5'] });
    const provider = createMetalProvider(config([grown]), { clusterName: 'test', logger: silentLogger(), record: () => {} }, new Registry());
    await provider.start({ listServices: () => [d], requeue: () => {}, emit: () => {} });
    const plan = provider.diff(await provider.observe(d.ref), d);
    expect(plan.actions.map((x) => x.kind)).toEqual(['assignAddress']);
    const result = await provider.apply(plan);
    if (result.state !== 'ready') throw new Error('metal is never in progress');
    expect(result.ingress).toEqual([
      { ip: '192.0.2.5', ipMode: 'VIP' },
      { ip: '2001:db8::', ipMode: 'VIP' },
    ]);
  });
});

describe('exhaustion', () => {
  it('reports the exhausted pool with its usage, on the field to change', () => {
    const a = allocator([{ name: 'tiny', addresses: ['192.0.2.1-192.0.2.2'] }]);
    assign(a, { name: 'a' });
    assign(a, { name: 'b' });
    const err = assignError(a, { name: 'c' });
    expect(err.field).toBe('spec.type');
    expect(err.message).toBe(
      'spec.type: pool "tiny" is exhausted: no free an IPv4 address ("tiny" 2/2 IPv4 in use); the Service stays pending and gets the next address freed (or add addresses to a pool)',
    );
    const named = assignError(a, { name: 'd', annotations: { 'kube-lb-provisioner.io/address-pool': 'tiny' } });
    expect(named.field).toBe("metadata.annotations['kube-lb-provisioner.io/address-pool']");
    a.release('default/a');
    expect(assign(a, { name: 'c' })).toEqual(['192.0.2.1']);
  });

  it('reports usage per pool and family', () => {
    const a = allocator([{ name: 'p', addresses: ['192.0.2.0/30', '2001:db8::/127'] }]);
    assign(a, { name: 'a' });
    assign(a, { name: 'b', ipFamilies: ['IPv6'] });
    expect(a.usage()).toEqual([
      { pool: 'p', family: 'IPv4', assigned: 1, available: 3 },
      { pool: 'p', family: 'IPv6', assigned: 1, available: 1 },
    ]);
  });
});

describe('restart stability (allocator)', () => {
  it('keeps the address in status instead of taking the lowest free one', () => {
    const a = allocator([v4]);
    expect(assign(a, { name: 's', currentIPs: ['192.0.2.6'] })).toEqual(['192.0.2.6']);
    // An address in status that left every pool is kept, with a warning (not silently replaced).
    const kept = a.plan(serviceClaim(desiredService({ name: 't', currentIPs: ['203.0.113.1'] })));
    expect(kept).toMatchObject({ ips: ['203.0.113.1'], pools: [''] });
    expect(kept.warnings?.[0]).toMatch(/^203.0.113.1 is in no pool any more/);
  });

  it('restore() refuses clashes, saying why, and keeps addresses outside every pool', () => {
    const a = allocator([v4]);
    expect(a.restore(serviceClaim(desiredService({ name: 'a' })), ['192.0.2.3'])).toBeUndefined();
    expect(a.restore(serviceClaim(desiredService({ name: 'b' })), ['192.0.2.3'])).toBe('192.0.2.3 is in use by default/a, which has no allow-shared-ip annotation');
    expect(a.restore(serviceClaim(desiredService({ name: 'c' })), ['10.9.9.9'])).toBeUndefined();
    expect(a.outsidePools()).toEqual([{ ip: '10.9.9.9', holders: ['default/c'] }]);
  });
});

describe('metal provider', () => {
  const metal = config([
    { name: 'small', addresses: ['192.0.2.1-192.0.2.2'] },
    { name: 'six', addresses: ['2001:db8::/120'], autoAssign: false },
  ]);
  const deps = { clusterName: 'test', logger: silentLogger(), record: () => {} };

  function harness(initial: DesiredLoadBalancer[]) {
    const services = new Map(initial.map((d) => [serviceKey(d.ref), d]));
    const requeued: ServiceRef[] = [];
    const events: ProviderEvent[] = [];
    const provider = createMetalProvider(metal, deps, new Registry());
    const ctx = { listServices: () => [...services.values()], requeue: (ref: ServiceRef) => requeued.push(ref), emit: (e: ProviderEvent) => events.push(e) };
    const reconcile = async (d: DesiredLoadBalancer) => {
      services.set(serviceKey(d.ref), d);
      const plan = provider.diff(await provider.observe(d.ref), d);
      const result = await provider.apply(plan);
      if (result.state !== 'ready') throw new Error('metal is never in progress');
      // The controller writes status; model it so later listServices() see it.
      services.set(serviceKey(d.ref), { ...d, currentIngress: result.ingress });
      return { plan, ingress: result.ingress };
    };
    return { provider, ctx, services, requeued, events, reconcile };
  }

  it('declares the capabilities metal has', () => {
    const provider = createMetalProvider(metal, deps, new Registry());
    expect(provider.name).toBe('metal');
    expect(provider.capabilities).toMatchObject({ needsProviderID: false, loadBalancerIP: true, dualStack: true, protocols: ['TCP', 'UDP', 'SCTP'] });
  });

  it('writes ipMode VIP, plans a no-op once assigned, and lists what it owns', async () => {
    const h = harness([]);
    await h.provider.start(h.ctx);
    const first = await h.reconcile(desiredService({ name: 'web' }));
    expect(first.ingress).toEqual([{ ip: '192.0.2.1', ipMode: 'VIP' }]);
    expect(first.plan.actions.map((a) => a.kind)).toEqual(['assignAddress']);
    const again = await h.reconcile(h.services.get('default/web')!);
    expect(again.plan.actions).toEqual([{ kind: 'keepAddress', description: 'keep 192.0.2.1 (pool "small")', mutating: false }]);
    expect(await h.provider.listOwned()).toEqual([{ namespace: 'default', name: 'web', uid: 'uid-default-web' }]);
    expect(await h.provider.delete({ namespace: 'default', name: 'web', uid: 'uid-default-web' })).toEqual({ state: 'deleted' });
    expect(await h.provider.delete({ namespace: 'default', name: 'web', uid: 'uid-default-web' })).toEqual({ state: 'deleted' });
    expect(await h.provider.listOwned()).toEqual([]);
  });

  it('start() rebuilds every assignment from status before allocating anything new', async () => {
    // Status says b holds .1 and a holds .2: the opposite of what a fresh allocation would give.
    const a = desiredService({ name: 'a', currentIPs: ['192.0.2.2'] });
    const b = desiredService({ name: 'b', currentIPs: ['192.0.2.1'] });
    const h = harness([a, b]);
    await h.provider.start(h.ctx);
    expect(await h.provider.listOwned()).toHaveLength(2);
    // A new Service reconciled first must not take either address.
    expect(() => h.provider.diff(undefined, desiredService({ name: 'c' }))).toThrow(/pool "small" is exhausted/);
    expect((await h.reconcile(b)).ingress[0]!.ip).toBe('192.0.2.1');
    expect((await h.reconcile(a)).ingress[0]!.ip).toBe('192.0.2.2');
    expect((await h.reconcile(b)).plan.actions[0]!.kind).toBe('keepAddress');
  });

  it('adopts status at first use when the controller could not list Services at start', async () => {
    const a = desiredService({ name: 'a', currentIPs: ['192.0.2.2'] });
    let listable = false;
    const provider = createMetalProvider(metal, deps, new Registry());
    await provider.start({
      listServices: () => {
        if (!listable) throw new Error('cache not started');
        return [a];
      },
      requeue: () => {},
      emit: () => {},
    });
    listable = true;
    // The controller lists owned load balancers once its caches are synced: adoption happens there.
    expect(await provider.listOwned()).toEqual([a.ref]);
    expect(() => provider.diff(undefined, desiredService({ name: 'b', loadBalancerIP: '192.0.2.2' }))).toThrow(/192.0.2.2 is in use by default\/a/);
  });

  it('diff is pure: planning twice without apply reserves nothing; apply reserves what was planned, or plans again', async () => {
    const a = desiredService({ name: 'a', currentIPs: ['192.0.2.2'] });
    const listed: DesiredLoadBalancer[] = [];
    const provider = createMetalProvider(metal, deps, new Registry());
    await provider.start({ listServices: () => listed, requeue: () => {}, emit: () => {} });
    listed.push(a); // the controller's cache synced after start: a's status is not adopted yet
    const b = desiredService({ name: 'b' });
    const c = desiredService({ name: 'c' });
    for (let round = 0; round < 2; round++) {
      expect(provider.diff(undefined, a).assignment.ips).toEqual(['192.0.2.2']);
      expect(provider.diff(undefined, b).assignment.ips).toEqual(['192.0.2.1']);
      expect(provider.diff(undefined, c).assignment.ips).toEqual(['192.0.2.1']);
    }
    expect(provider.allocator.serviceKeys()).toEqual([]);
    expect(provider.allocator.usage().filter((u) => u.assigned > 0)).toEqual([]);
    const planB = provider.diff(undefined, b);
    const planC = provider.diff(undefined, c);
    expect(await provider.apply(planB)).toEqual({ state: 'ready', ingress: [{ ip: '192.0.2.1', ipMode: 'VIP' }] });
    // c's plan was overtaken by b's reservation: apply changes nothing and asks to plan again.
    expect(await provider.apply(planC)).toMatchObject({ state: 'inProgress', retryAfterMs: 0 });
    expect(provider.allocator.serviceKeys()).toEqual(['default/b']);
    // observe reads what exists: a's status address is adopted there, so c has nothing left.
    expect(await provider.observe(a.ref)).toEqual({ ref: a.ref, assignment: { ips: ['192.0.2.2'], pools: ['small'] } });
    expect(() => provider.diff(undefined, c)).toThrow(/pool "small" is exhausted/);
  });

  it('restores dual-stack and IPv6 status addresses too', async () => {
    const d = desiredService({
      name: 'dual',
      ipFamilyPolicy: 'RequireDualStack',
      ipFamilies: ['IPv6', 'IPv4'],
      annotations: { 'kube-lb-provisioner.io/load-balancer-ips': '2001:db8::10,192.0.2.2' },
      currentIPs: ['2001:0db8:0000::10', '192.0.2.2'],
    });
    const h = harness([d]);
    await h.provider.start(h.ctx);
    expect(h.provider.allocator.assignmentOf('default/dual')?.ips).toEqual(['2001:db8::10', '192.0.2.2']);
    expect((await h.reconcile(d)).plan.actions[0]!.kind).toBe('keepAddress');
  });

  it('gives a freed address to a Service pending on the exhausted pool (requeue)', async () => {
    const h = harness([]);
    await h.provider.start(h.ctx);
    await h.reconcile(desiredService({ name: 'a' }));
    await h.reconcile(desiredService({ name: 'b' }));
    const pending = desiredService({ name: 'c' });
    h.services.set('default/c', pending);
    await expect(h.reconcile(pending)).rejects.toThrow(/exhausted/);
    // Not interested: a Service pending on an address no one frees here.
    h.services.set('default/x', desiredService({ name: 'x', loadBalancerIP: '2001:db8::99', ipFamilies: ['IPv6'] }));
    await h.provider.delete({ namespace: 'default', name: 'a', uid: 'uid-default-a' });
    h.services.delete('default/a');
    expect(h.requeued).toEqual([pending.ref]);
    expect((await h.reconcile(pending)).ingress[0]!.ip).toBe('192.0.2.1');
  });

  it('requeues a Service waiting for the exact address another one gave up', async () => {
    const h = harness([]);
    await h.provider.start(h.ctx);
    await h.reconcile(desiredService({ name: 'holder', loadBalancerIP: '192.0.2.2' }));
    const waiter = desiredService({ name: 'waiter', loadBalancerIP: '192.0.2.2' });
    h.services.set('default/waiter', waiter);
    await expect(h.reconcile(waiter)).rejects.toThrow(/192.0.2.2 is in use by default\/holder/);
    // holder moves to .1: .2 is freed by apply, and the waiter is requeued.
    await h.reconcile(desiredService({ name: 'holder', loadBalancerIP: '192.0.2.1' }));
    expect(h.requeued.map((r) => r.name)).toEqual(['waiter']);
    expect((await h.reconcile(waiter)).ingress[0]!.ip).toBe('192.0.2.2');
  });

  it('a re-created Service (new uid) is not confused with the old one', async () => {
    const h = harness([]);
    await h.provider.start(h.ctx);
    await h.reconcile(desiredService({ name: 's', uid: 'old' }));
    expect(await h.provider.observe({ namespace: 'default', name: 's', uid: 'new' })).toBeUndefined();
    // Deleting with the stale uid after the new one took over leaves the new one alone.
    await h.reconcile(desiredService({ name: 's', uid: 'new' }));
    await h.provider.delete({ namespace: 'default', name: 's', uid: 'old' });
    expect(await h.provider.listOwned()).toEqual([{ namespace: 'default', name: 's', uid: 'new' }]);
  });

  it('exports pool usage gauges', async () => {
    const registry = new Registry();
    const provider = createMetalProvider(metal, deps, registry);
    await provider.start({ listServices: () => [], requeue: () => {}, emit: () => {} });
    const plan = provider.diff(undefined, desiredService({ name: 'a' }));
    await provider.apply(plan);
    const text = await registry.metrics();
    expect(text).toContain('kube_lb_provisioner_metal_pool_addresses_assigned{pool="small",family="IPv4"} 1');
    expect(text).toContain('kube_lb_provisioner_metal_pool_addresses_available{pool="small",family="IPv4"} 1');
    expect(text).toContain('kube_lb_provisioner_metal_pool_addresses_available{pool="six",family="IPv6"} 256');
  });
});
