import { describe, expect, it } from 'vitest';
import { ServiceConfigError } from '../provider.js';
import { cidrContains, cidrFamily, networkCidr, requireIPv4SourceRanges } from './cidr.js';

describe('CIDR checks shared by the cloud providers', () => {
  it('tells the family, and refuses text that is no CIDR', () => {
    expect(cidrFamily('203.0.113.0/24')).toBe('IPv4');
    expect(cidrFamily('2001:db8::/32')).toBe('IPv6');
    expect(() => cidrFamily('203.0.113.0')).toThrow();
  });

  it('contains only addresses of its own family inside it', () => {
    expect(cidrContains('10.0.1.0/24', '10.0.1.200')).toBe(true);
    expect(cidrContains('10.0.1.0/24', '10.0.2.1')).toBe(false);
    expect(cidrContains('10.0.1.0/24', '::ffff:10.0.1.5')).toBe(false);
    expect(cidrContains('not a cidr', '10.0.1.5')).toBe(false);
  });

  it('clears host bits, both families', () => {
    expect(networkCidr('203.0.113.7/24')).toBe('203.0.113.0/24');
    expect(networkCidr('2001:db8::1/64')).toBe('2001:db8::/64');
  });

  it('refuses an IPv6 source range on an IPv4-only provider, naming the field; IPv4 ranges pass', () => {
    expect(() => requireIPv4SourceRanges(['203.0.113.0/24', '0.0.0.0/0'], 'IPv4 NLBs')).not.toThrow();
    let error: unknown;
    try {
      requireIPv4SourceRanges(['203.0.113.0/24', '2001:db8::/32'], 'IPv4 NLBs');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe('spec.loadBalancerSourceRanges');
    expect((error as ServiceConfigError).message).toMatch(/"2001:db8::\/32" is IPv6, and this provider makes IPv4 NLBs: list IPv4 ranges only/);
    expect(() => requireIPv4SourceRanges(['nope'], 'IPv4 NLBs')).toThrow(/"nope" is not a CIDR/);
  });
});
