// The metal provider's configuration: address pools. Every entry is parsed at start-up, and
// overlapping pools (or overlapping entries within one pool) are rejected with a message naming
// both entries and the first shared address.
import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';
import { bigIntToIP, overlapStart, parseAddressRange, type AddressRange } from '../../src/metallb/addressRange.js';

export const addressPoolSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a pool name is a DNS label (lowercase letters, digits, -)'),
    /** CIDRs ("192.0.2.0/28") or ranges ("192.0.2.10-192.0.2.20"), IPv4 or IPv6. */
    addresses: z.array(z.string()).min(1),
    /** False: only Services that ask for this pool or one of its addresses get an address from it. */
    autoAssign: z.boolean().default(true),
    /** Skip IPv4 addresses ending in .0 or .255. */
    avoidBuggyIPs: z.boolean().default(false),
    /** Lower numbers are tried first (as MetalLB's serviceAllocation.priority); ties by name. */
    priority: z.number().int().default(0),
    /** Only Services in these namespaces may use the pool (empty: every namespace). */
    namespaces: z.array(z.string()).default([]),
    /** Only Services whose labels include all of these may use the pool (empty: every Service). */
    serviceSelector: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((pool, ctx) => {
    pool.addresses.forEach((entry, i) => {
      try {
        parseAddressRange(entry);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['addresses', i], message: `pool "${pool.name}": ${(error as Error).message}` });
      }
    });
  });
export type AddressPoolConfig = z.infer<typeof addressPoolSchema>;

export const metalConfigSchema = z
  .object({
    type: z.literal('metal'),
    ...providerEntryBase,
    /**
     * Pools of our own. MetalLB's IPAddressPools (and the other metallb.io kinds) are read live
     * from `namespace` as well; with no CRDs installed, these are the only pools.
     */
    pools: z.array(addressPoolSchema).default([]),
    /** Where MetalLB's resources (metallb.io) are read from, as MetalLB's own namespace. */
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name is a DNS label').default('metallb-system'),
  })
  .superRefine((config, ctx) => {
    for (const problem of findPoolProblems(config.pools)) ctx.addIssue({ code: 'custom', path: ['pools'], message: problem });
  });
export type MetalConfig = z.infer<typeof metalConfigSchema>;

/**
 * Duplicate pool names and overlapping address ranges, as readable messages. Entries that do not
 * parse are reported by the pool schema and skipped here.
 */
export function findPoolProblems(pools: readonly Pick<AddressPoolConfig, 'name' | 'addresses'>[]): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const pool of pools) {
    if (names.has(pool.name)) problems.push(`pool name "${pool.name}" is used twice`);
    names.add(pool.name);
  }
  const ranges: { pool: string; range: AddressRange }[] = [];
  for (const pool of pools) {
    for (const entry of pool.addresses) {
      try {
        ranges.push({ pool: pool.name, range: parseAddressRange(entry) });
      } catch {
        // reported by addressPoolSchema
      }
    }
  }
  for (let i = 0; i < ranges.length; i++) {
    for (let j = i + 1; j < ranges.length; j++) {
      const a = ranges[i]!;
      const b = ranges[j]!;
      const shared = overlapStart(a.range, b.range);
      if (shared === undefined) continue;
      const where = a.pool === b.pool ? `pool "${a.pool}" has overlapping entries` : `pools "${a.pool}" and "${b.pool}" overlap`;
      problems.push(
        `${where}: ${a.range.source} and ${b.range.source} both contain ${bigIntToIP(shared, a.range.family)}; an address must belong to exactly one pool`,
      );
    }
  }
  return problems;
}
