// MetalLB's allocation answers where MetalLB is deterministic (issue 13), one test per rule. Each
// failed against the allocator before the rule was adopted (its old answer is in the comment).
import { describe, expect, it } from 'vitest';
import { Allocator } from '../../providers/metal/allocator.js';
import { buildMetallbConfiguration } from '../../src/metallb/configuration.js';
import { emptyMetallbObjects, type RawObject } from '../../src/metallb/objects.js';
import { serviceClaim } from '../../providers/metal/serviceClaim.js';
import { ServiceConfigError } from '../../providers/provider.js';
import { desiredService, type ServiceShape } from './desiredService.js';

function pool(name: string, spec: Record<string, unknown>): RawObject {
  return { metadata: { name, namespace: 'metallb-system' }, spec };
}

function allocatorOf(...pools: RawObject[]): Allocator {
  const config = buildMetallbConfiguration('metallb-system', { ...emptyMetallbObjects(), IPAddressPool: pools });
  expect(config.problems).toEqual([]);
  return new Allocator(config.pools);
}

const assign = (a: Allocator, shape: ServiceShape) => a.assign(serviceClaim(desiredService(shape))).assignment.ips;

describe("MetalLB's allocation rules", () => {
  it('1. pools whose serviceAllocation admits the Service come first, by priority (lower first, 0 last); unrestricted pools after', () => {
    const a = allocatorOf(
      pool('a-open', { addresses: ['192.0.2.0/30'] }),
      pool('b-shop-unranked', { addresses: ['198.51.100.0/30'], serviceAllocation: { namespaces: ['shop'] } }),
      pool('c-shop-10', { addresses: ['203.0.113.0/30'], serviceAllocation: { priority: 10, namespaces: ['shop'] } }),
      pool('d-shop-2', { addresses: ['203.0.113.4/30'], serviceAllocation: { priority: 2, namespaceSelectors: [{ matchLabels: { 'kubernetes.io/metadata.name': 'shop' } }] } }),
    );
    // Before: every pool sorted by priority with 0 first, so the unrestricted a-open won.
    expect(assign(a, { namespace: 'shop', name: 's1' })).toEqual(['203.0.113.4']);
    expect(assign(a, { namespace: 'other', name: 's2' })).toEqual(['192.0.2.0']);
    // d is full after 4; then c (10), then the unranked b, and only then a-open.
    for (const n of [2, 3, 4]) assign(a, { namespace: 'shop', name: `d${n}` });
    expect(assign(a, { namespace: 'shop', name: 's3' })).toEqual(['203.0.113.0']);
    for (const n of [2, 3, 4]) assign(a, { namespace: 'shop', name: `c${n}` });
    expect(assign(a, { namespace: 'shop', name: 's4' })).toEqual(['198.51.100.0']);
  });

  it('2. PreferDualStack follows spec.ipFamilies: one family on a single-stack cluster gets one address', () => {
    const a = allocatorOf(pool('dual', { addresses: ['192.0.2.0/30', '2001:db8::/126'] }));
    // Before: ['192.0.2.0', '2001:db8::'] whatever the API server had settled.
    expect(assign(a, { name: 'single', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4'] })).toEqual(['192.0.2.0']);
    expect(assign(a, { name: 'dual', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv6', 'IPv4'] })).toEqual(['2001:db8::', '192.0.2.1']);
  });

  it('3. requested addresses must cover every family of a dual-stack Service, naming the field', () => {
    const a = allocatorOf(pool('dual', { addresses: ['192.0.2.0/30', '2001:db8::/126'] }));
    // Before: the IPv4 address alone was accepted for a [IPv4, IPv6] PreferDualStack Service.
    let error: unknown;
    try {
      assign(a, { name: 's', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.1' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe("metadata.annotations['metallb.io/loadBalancerIPs']");
    expect((error as ServiceConfigError).message).toMatch(/asks for only 192.0.2.1 but the Service is dual-stack .*give one IPv4 and one IPv6 address/);
    expect(assign(a, { name: 's', ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv4', 'IPv6'], annotations: { 'metallb.io/loadBalancerIPs': '192.0.2.1,2001:db8::1' } })).toEqual([
      '192.0.2.1',
      '2001:db8::1',
    ]);
  });

  it('4. a Service with an allow-shared-ip key takes the lowest free address, and joins a shared one only when none is free', () => {
    const a = allocatorOf(pool('p', { addresses: ['192.0.2.0/31'] }));
    const shared = (name: string, port: number) => ({ name, annotations: { 'metallb.io/allow-shared-ip': 'k' }, ports: [{ port }] });
    expect(assign(a, shared('first', 80))).toEqual(['192.0.2.0']);
    // Before: ['192.0.2.0'], joining first's address although .1 was free.
    expect(assign(a, shared('second', 81))).toEqual(['192.0.2.1']);
    // Nothing free now: the third joins the lowest address it may share.
    expect(assign(a, shared('third', 82))).toEqual(['192.0.2.0']);
  });
});
