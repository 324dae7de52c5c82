// IPAddressPool (metallb.io/v1beta1) into the shared pool model. One object at a time; overlaps
// between pools are judged in metallbConfiguration.ts. Pure.
import { parseAddressRange } from './addressRange.js';
import type { AddressPool } from './addressPools.js';
import type { RawObject } from './metallbObjects.js';
import { asRecord, FieldProblem, optionalBoolean, optionalInteger, selectorList, stringList } from './specFields.js';

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
