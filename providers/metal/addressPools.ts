// Address pools compiled from configuration: parsed ranges, who may use them, how many usable
// addresses each has. Pure.
import type { IPFamily } from '../provider.js';
import { familyOf, ipToBigInt, isBuggyIPv4, parseAddressRange, rangeSize, type AddressRange } from './addressRange.js';
import { findPoolProblems, type AddressPoolConfig } from './config.js';

export interface AddressPool {
  name: string;
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  priority: number;
  namespaces: string[];
  serviceSelector: Record<string, string>;
  ranges: AddressRange[];
}

/** Compiles pools, sorted by priority (lowest first) then name. Throws on overlap or bad entries. */
export function compilePools(configs: readonly AddressPoolConfig[]): AddressPool[] {
  const problems = findPoolProblems(configs);
  if (problems.length > 0) throw new Error(`invalid metal address pools: ${problems.join('; ')}`);
  return configs
    .map((c) => ({
      name: c.name,
      autoAssign: c.autoAssign,
      avoidBuggyIPs: c.avoidBuggyIPs,
      priority: c.priority,
      namespaces: c.namespaces,
      serviceSelector: c.serviceSelector,
      ranges: c.addresses.map(parseAddressRange),
    }))
    .sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
}

/** Why `pool` refuses a Service in `namespace` with `labels`, or undefined when it admits it. */
export function poolRefusal(pool: AddressPool, namespace: string, labels: Record<string, string>): string | undefined {
  if (pool.namespaces.length > 0 && !pool.namespaces.includes(namespace)) {
    return `pool "${pool.name}" serves only namespaces ${pool.namespaces.join(', ')}`;
  }
  const missing = Object.entries(pool.serviceSelector).filter(([k, v]) => labels[k] !== v);
  if (missing.length > 0) {
    return `pool "${pool.name}" serves only Services labelled ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}`;
  }
  return undefined;
}

export function poolContains(pool: AddressPool, ip: string): boolean {
  const family = familyOf(ip);
  if (!family) return false;
  const value = ipToBigInt(ip);
  return pool.ranges.some((r) => r.family === family && value >= r.first && value <= r.last);
}

export function poolFamilies(pool: AddressPool): IPFamily[] {
  return (['IPv4', 'IPv6'] as const).filter((f) => pool.ranges.some((r) => r.family === f));
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
