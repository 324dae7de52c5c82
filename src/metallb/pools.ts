// Address pools, the one model both configuration sources become (our YAML pools and MetalLB's
// IPAddressPools), and IPAddressPool (metallb.io/v1beta1) into it. One object at a time; overlaps
// between pools are judged in configuration.ts. Pure.
import { familyOf, ipToBigInt, parseAddressRange, type AddressRange } from './addressRange.js';
import { selectorMatches, type LabelSelector } from './labelSelector.js';
import type { RawObject } from './objects.js';
import { asRecord, FieldProblem, optionalBoolean, optionalInteger, selectorList, stringList } from './specFields.js';

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

/** Pools in the allocator's order of names (the order for ties). */
export function byName(a: AddressPool, b: AddressPool): number {
  return a.name.localeCompare(b.name);
}

export function poolContains(pool: AddressPool, ip: string): boolean {
  const family = familyOf(ip);
  if (!family) return false;
  const value = ipToBigInt(ip);
  return pool.ranges.some((r) => r.family === family && value >= r.first && value <= r.last);
}

/** The pool holding `ip`, if any. */
export function poolOf(pools: readonly AddressPool[], ip: string): AddressPool | undefined {
  return pools.find((p) => poolContains(p, ip));
}

export function poolSource(object: RawObject): string {
  return `IPAddressPool ${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** The pool, or throws FieldProblem naming the first bad field. */
export function poolFromIPAddressPool(object: RawObject): AddressPool {
  const spec = asRecord(object.spec, 'spec');
  const addresses = stringList(spec, 'addresses', 'spec');
  if (addresses.length === 0) throw new FieldProblem('spec.addresses', 'lists no address: give CIDRs ("192.0.2.0/28") or ranges ("192.0.2.10-192.0.2.20")');
  const ranges = addresses.map((entry, i) => {
    try {
      return parseAddressRange(entry);
    } catch (error) {
      throw new FieldProblem(`spec.addresses[${i}]`, `${(error as Error).message}: give a CIDR ("192.0.2.0/28") or a range ("192.0.2.10-192.0.2.20")`);
    }
  });
  let serviceAllocation: AddressPool['serviceAllocation'];
  if (spec.serviceAllocation !== undefined && spec.serviceAllocation !== null) {
    const field = 'spec.serviceAllocation';
    const sa = asRecord(spec.serviceAllocation, field);
    serviceAllocation = {
      priority: optionalInteger(sa, 'priority', field, [0, 2 ** 31 - 1]) ?? 0,
      namespaces: stringList(sa, 'namespaces', field),
      namespaceSelectors: selectorList(sa, 'namespaceSelectors', field),
      serviceSelectors: selectorList(sa, 'serviceSelectors', field),
    };
  }
  const pool: AddressPool = {
    name: object.metadata.name,
    source: poolSource(object),
    autoAssign: optionalBoolean(spec, 'autoAssign', 'spec', true),
    avoidBuggyIPs: optionalBoolean(spec, 'avoidBuggyIPs', 'spec', false),
    serviceAllocation,
    ranges,
  };
  if (object.metadata.deletionTimestamp) pool.draining = true;
  if (object.metadata.labels) pool.labels = object.metadata.labels;
  return pool;
}

/**
 * The pools an advertisement (L2 or BGP) covers: those named in ipAddressPools and those matching
 * ipAddressPoolSelectors; both empty means every pool. A name that is not a pool is refused.
 */
export function poolsSelected(spec: Record<string, unknown>, pools: readonly AddressPool[], namespace: string | undefined): string[] {
  const named = stringList(spec, 'ipAddressPools', 'spec');
  const selectors = selectorList(spec, 'ipAddressPoolSelectors', 'spec');
  const known = new Set(pools.map((p) => p.name));
  named.forEach((name, i) => {
    if (!known.has(name)) {
      throw new FieldProblem(`spec.ipAddressPools[${i}]`, `there is no pool "${name}"${namespace ? ` in ${namespace}` : ''} (pools: ${[...known].join(', ') || 'none'}): create it, or remove it from the list`);
    }
  });
  const every = named.length === 0 && selectors.length === 0;
  return pools.filter((p) => every || named.includes(p.name) || selectors.some((s) => selectorMatches(s, p.labels ?? {}))).map((p) => p.name);
}
