// CIDR checks the cloud providers share. Pure; ipaddr.js does the parsing. Source ranges arrive
// already validated and canonical (DesiredLoadBalancer.sourceRanges), so these only classify them.
import ipaddr from 'ipaddr.js';
import { ServiceConfigError, type IPFamily } from '../provider.js';

/** The family of a CIDR. Throws on text that is not one. */
export function cidrFamily(cidr: string): IPFamily {
  return ipaddr.parseCIDR(cidr)[0].kind() === 'ipv4' ? 'IPv4' : 'IPv6';
}

/** Whether `ip` lies in `cidr`; false for anything unparsable or of the other family. */
export function cidrContains(cidr: string, ip: string): boolean {
  try {
    const address = ipaddr.parse(ip);
    const range = ipaddr.parseCIDR(cidr);
    return address.kind() === range[0].kind() && address.match(range);
  } catch {
    return false;
  }
}

/** The CIDR with its host bits cleared ("203.0.113.7/24" -> "203.0.113.0/24"), as clouds store it. */
export function networkCidr(cidr: string): string {
  const [address, prefix] = ipaddr.parseCIDR(cidr);
  const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return `${network.toString()}/${prefix}`;
}

/**
 * Refuses source ranges that are not IPv4 CIDRs on a provider whose load balancers are IPv4 only:
 * an IPv6 rule admits no one (and uses up a rule quota). `what` names the load balancers.
 */
export function requireIPv4SourceRanges(ranges: readonly string[], what: string): void {
  for (const range of ranges) {
    let family: IPFamily;
    try {
      family = cidrFamily(range);
    } catch {
      throw new ServiceConfigError('spec.loadBalancerSourceRanges', `"${range}" is not a CIDR (e.g. 203.0.113.0/24)`);
    }
    if (family === 'IPv6') throw new ServiceConfigError('spec.loadBalancerSourceRanges', `"${range}" is IPv6, and this provider makes ${what}: list IPv4 ranges only`);
  }
}
