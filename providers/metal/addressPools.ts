// Address pools, the one model both configuration sources become (our YAML pools and MetalLB's
// IPAddressPools): parsed ranges, who may use them (MetalLB's serviceAllocation), how many usable
// addresses each has. Pure.
import type { IPFamily } from '../provider.js';
import { familyOf, ipToBigInt, isBuggyIPv4, parseAddressRange, rangeSize, type AddressRange } from './addressRange.js';
import { findPoolProblems, type AddressPoolConfig } from './config.js';
import { describeSelector, selectorMatches, type LabelSelector } from './labelSelector.js';

/** MetalLB's IPAddressPool.spec.serviceAllocation: which Services the pool is for, and its rank. */
export interface ServiceAllocation {
  /** Lower is tried first; 0 (unset) comes after every set priority. */
  priority: number;
  namespaces: string[];
  namespaceSelectors: LabelSelector[];
  serviceSelectors: LabelSelector[];
}

export interface AddressPool {
  name: string;
  /** Where it was configured, for messages: "config" or "IPAddressPool metallb-system/name". */
  source: string;
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  /** Present when the pool is meant for some Services (MetalLB tries these pools first). */
  serviceAllocation: ServiceAllocation | undefined;
  ranges: AddressRange[];
  /** Being deleted: keeps the addresses it gave, gives no new ones. */
  draining?: boolean;
  /** The IPAddressPool's labels (for ipAddressPoolSelectors); YAML pools have none. */
  labels?: Record<string, string>;
}

/** Who a Service is, as pools judge it. Namespace labels are absent when not known. */
export interface PoolApplicant {
  namespace: string;
  labels: Record<string, string>;
  namespaceLabels?: Record<string, string>;
}

/** Pools in the allocator's order of names (the order for ties). */
export function byName(a: AddressPool, b: AddressPool): number {
  return a.name.localeCompare(b.name);
}

/**
 * Our YAML pool as the shared model. Setting priority, namespaces or serviceSelector is our
 * spelling of serviceAllocation.
 */
export function poolFromConfig(c: AddressPoolConfig): AddressPool {
  const restricted = c.priority !== 0 || c.namespaces.length > 0 || Object.keys(c.serviceSelector).length > 0;
  return {
    name: c.name,
    source: 'config',
    autoAssign: c.autoAssign,
    avoidBuggyIPs: c.avoidBuggyIPs,
    serviceAllocation: restricted
      ? {
          priority: c.priority,
          namespaces: c.namespaces,
          namespaceSelectors: [],
          serviceSelectors: Object.keys(c.serviceSelector).length > 0 ? [{ matchLabels: c.serviceSelector }] : [],
        }
      : undefined,
    ranges: c.addresses.map(parseAddressRange),
  };
}

/** Compiles YAML pools, by name. Throws on overlap or bad entries. */
export function compilePools(configs: readonly AddressPoolConfig[]): AddressPool[] {
  const problems = findPoolProblems(configs);
  if (problems.length > 0) throw new Error(`invalid metal address pools: ${problems.join('; ')}`);
  return configs.map(poolFromConfig).sort(byName);
}

/**
 * Why `pool` refuses the Service, or undefined when it admits it. As MetalLB: namespaces and
 * namespaceSelectors together are one union, and the Service must also match a serviceSelector.
 */
export function poolRefusal(pool: AddressPool, who: PoolApplicant): string | undefined {
  const sa = pool.serviceAllocation;
  if (!sa) return undefined;
  if (sa.namespaces.length > 0 || sa.namespaceSelectors.length > 0) {
    const nsLabels = { ...(who.namespaceLabels ?? {}), 'kubernetes.io/metadata.name': who.namespace };
    const inNamespace = sa.namespaces.includes(who.namespace) || sa.namespaceSelectors.some((s) => selectorMatches(s, nsLabels));
    if (!inNamespace) {
      const allowed = [
        ...(sa.namespaces.length > 0 ? [`namespaces ${sa.namespaces.join(', ')}`] : []),
        ...sa.namespaceSelectors.map((s) => `namespaces labelled ${describeSelector(s)}`),
      ];
      return `pool "${pool.name}" serves only ${allowed.join(' or ')}`;
    }
  }
  if (sa.serviceSelectors.length > 0 && !sa.serviceSelectors.some((s) => selectorMatches(s, who.labels))) {
    return `pool "${pool.name}" serves only Services labelled ${sa.serviceSelectors.map(describeSelector).join(' or ')}`;
  }
  return undefined;
}

/**
 * The pools a Service without a pool of its own may get an address from, in MetalLB's order: first
 * the pools whose serviceAllocation admits it, by priority (lower first, 0 last), then by name;
 * then the auto-assign pools with no serviceAllocation, by name.
 */
export function poolsInOrder(pools: readonly AddressPool[], who: PoolApplicant): AddressPool[] {
  const rank = (p: AddressPool) => (p.serviceAllocation!.priority > 0 ? p.serviceAllocation!.priority : Number.MAX_SAFE_INTEGER);
  const usable = pools.filter((p) => p.autoAssign && !p.draining);
  const pinned = usable.filter((p) => p.serviceAllocation && !poolRefusal(p, who)).sort((a, b) => rank(a) - rank(b) || byName(a, b));
  const open = usable.filter((p) => !p.serviceAllocation).sort(byName);
  return [...pinned, ...open];
}

export function poolContains(pool: AddressPool, ip: string): boolean {
  const family = familyOf(ip);
  if (!family) return false;
  const value = ipToBigInt(ip);
  return pool.ranges.some((r) => r.family === family && value >= r.first && value <= r.last);
}

export function isUsable(pool: AddressPool, value: bigint, family: IPFamily): boolean {
  return !(pool.avoidBuggyIPs && isBuggyIPv4(value, family));
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** How many values in [first, last] are ≡ residue (mod 256). */
function countResidue(first: bigint, last: bigint, residue: bigint): bigint {
  return floorDiv(last - residue, 256n) - floorDiv(first - 1n - residue, 256n);
}

/** Usable addresses of one family (excluding .0/.255 when the pool avoids them). */
export function usableCount(pool: AddressPool, family: IPFamily): bigint {
  let total = 0n;
  for (const range of pool.ranges) {
    if (range.family !== family) continue;
    total += rangeSize(range);
    if (pool.avoidBuggyIPs && family === 'IPv4') total -= countResidue(range.first, range.last, 0n) + countResidue(range.first, range.last, 255n);
  }
  return total;
}

export function describePool(pool: AddressPool): string {
  return `"${pool.name}" (${pool.ranges.map((r) => r.source).join(', ')})`;
}
