// AWS's default quotas that one Service's NLB can run into, checked before the call that would fail
// so that the user gets a Warning naming what to change instead of a generic error after it. Pure.
// The defaults are AWS's (Network Load Balancer quotas; Amazon VPC quotas); accounts can have them
// raised, so each one is configurable (quotas: in the provider's configuration).
import { cidrFamily } from '../common/cidr.js';
import { ServiceConfigError } from '../provider.js';
import { AWS_ANNOTATIONS } from './annotations.js';
import type { DesiredStack } from './awsTypes.js';

export interface AwsQuotas {
  /** "Listeners per Network Load Balancer": 50. */
  listenersPerLoadBalancer: number;
  /** "Targets per Availability Zone per Network Load Balancer": 500; a target in two target groups counts twice. */
  targetsPerZonePerLoadBalancer: number;
  /** "Network Load Balancers per Region": 50. */
  loadBalancersPerRegion: number;
  /** ELB and EC2: 50 tags per resource. */
  tagsPerResource: number;
  /** VPC: "Inbound or outbound rules per security group": 60, for IPv4 and IPv6 each. */
  inboundRulesPerSecurityGroup: number;
}

export const AWS_DEFAULT_QUOTAS: AwsQuotas = {
  listenersPerLoadBalancer: 50,
  targetsPerZonePerLoadBalancer: 500,
  loadBalancersPerRegion: 50,
  tagsPerResource: 50,
  inboundRulesPerSecurityGroup: 60,
};

/** Tags we add next to the ownership and user tags on one resource (the anchor: Name, NLB name, placement, held addresses). */
const OUR_EXTRA_TAGS = 4;

/** Throws a ServiceConfigError for the first quota this NLB would exceed. */
export function checkQuotas(stack: DesiredStack, quotas: AwsQuotas): void {
  if (stack.groups.length > quotas.listenersPerLoadBalancer) {
    throw new ServiceConfigError('spec.ports', `${stack.groups.length} ports need ${stack.groups.length} listeners; an NLB has at most ${quotas.listenersPerLoadBalancer} (AWS quota "Listeners per Network Load Balancer")`);
  }

  const user = userTagCount(stack);
  const ours = Object.keys(stack.tags).length - user + OUR_EXTRA_TAGS;
  if (user + ours > quotas.tagsPerResource) {
    throw new ServiceConfigError(
      AWS_ANNOTATIONS.additionalTags,
      `lists ${user} tags; with this provider's own ${ours} a resource would carry ${user + ours}, and AWS allows ${quotas.tagsPerResource} per resource: list at most ${quotas.tagsPerResource - ours}`,
    );
  }

  // VPC quotas: "the maximum number of entries for the prefix list counts as the same number of rules".
  const perFamily = { IPv4: 0, IPv6: 0 };
  for (const r of stack.ingress) {
    const entries = stack.prefixListEntries[r.source];
    if (entries !== undefined) perFamily[stack.ipv6PrefixLists?.includes(r.source) ? 'IPv6' : 'IPv4'] += entries;
    else perFamily[cidrFamily(r.source)]++;
  }
  const usesPrefixLists = Object.keys(stack.prefixListEntries).length > 0;
  for (const [family, count] of Object.entries(perFamily)) {
    if (count > quotas.inboundRulesPerSecurityGroup) {
      const ports = new Set(stack.ingress.filter((r) => r.protocol === 'tcp' || r.protocol === 'udp').map((r) => `${r.protocol}/${r.port}`)).size;
      throw new ServiceConfigError(
        usesPrefixLists ? `spec.loadBalancerSourceRanges and ${AWS_ANNOTATIONS.securityGroupPrefixLists}` : 'spec.loadBalancerSourceRanges',
        `${ports} port/protocol pairs × the source ranges${usesPrefixLists ? ' (a prefix list counting as its MaxEntries)' : ''} make ${count} ${family} rules in the NLB's security group; AWS allows ${quotas.inboundRulesPerSecurityGroup} inbound rules per address family (VPC quota "Inbound or outbound rules per security group"): merge the ranges into fewer, wider CIDRs${usesPrefixLists ? ', or use prefix lists with a smaller MaxEntries' : ''}`,
      );
    }
  }

  const perZone = new Map<string, number>();
  for (const id of stack.instanceIds) {
    const zone = stack.instanceZones[id] ?? '';
    perZone.set(zone, (perZone.get(zone) ?? 0) + stack.groups.length);
  }
  for (const [zone, targets] of perZone) {
    if (targets > quotas.targetsPerZonePerLoadBalancer) {
      throw new ServiceConfigError(
        'spec.ports',
        `${targets / stack.groups.length} nodes in zone ${zone || '(unknown)'} × ${stack.groups.length} ports make ${targets} targets; an NLB takes ${quotas.targetsPerZonePerLoadBalancer} per zone (AWS quota "Targets per Availability Zone per Network Load Balancer"): use fewer ports, or label nodes node.kubernetes.io/exclude-from-external-load-balancers`,
      );
    }
  }
}

/** A new NLB when the region already has as many as the account may: refused before the create. */
export function checkLoadBalancerQuota(networkLoadBalancers: number | undefined, quotas: AwsQuotas): void {
  if (networkLoadBalancers === undefined || networkLoadBalancers < quotas.loadBalancersPerRegion) return;
  throw new ServiceConfigError('spec.type', loadBalancerQuotaMessage(networkLoadBalancers, quotas));
}

export function loadBalancerQuotaMessage(count: number | undefined, quotas: AwsQuotas): string {
  return `the region already has ${count ?? 'the most'} Network Load Balancers the account may hold (${quotas.loadBalancersPerRegion}, AWS quota "Network Load Balancers per Region"): delete unused ones, or have the quota raised and set quotas.loadBalancersPerRegion; the Service gets its NLB then`;
}

function userTagCount(stack: DesiredStack): number {
  return Object.keys(stack.tags).filter((k) => !k.startsWith('kubernetes.io/') && !k.startsWith('kube-lb-provisioner.io/')).length;
}
