// L2Advertisement (metallb.io/v1beta1) into the announcement model: which pools, from which nodes,
// on which interfaces. Pool names and selectors are resolved against the pools that were accepted,
// so an advertisement naming an unknown pool is reported on itself. Pure.
import type { LabelSelector } from './labelSelector.js';
import type { RawObject } from './objects.js';
import { poolsSelected, type AddressPool } from './pools.js';
import { asRecord, FieldProblem, selectorList, stringList } from './specFields.js';

export interface L2AdvertisementModel {
  name: string;
  /** Names of the pools it announces (every pool when the object names and selects none). */
  pools: string[];
  /** Nodes that may announce (empty: every node). A node matching any selector may. */
  nodeSelectors: LabelSelector[];
  /** Interfaces to announce on (empty: the speaker's choice). */
  interfaces: string[];
}

const INTERFACE_NAME = /^[^\s/:]{1,15}$/;

export function l2AdvertisementFromObject(object: RawObject, pools: readonly AddressPool[], namespace: string): L2AdvertisementModel {
  const spec = asRecord(object.spec, 'spec');
  const selected = poolsSelected(spec, pools, namespace);
  const interfaces = stringList(spec, 'interfaces', 'spec');
  interfaces.forEach((name, i) => {
    if (!INTERFACE_NAME.test(name)) throw new FieldProblem(`spec.interfaces[${i}]`, `"${name}" is not an interface name (1-15 characters, no spaces, "/" or ":")`);
  });
  return { name: object.metadata.name, pools: selected, nodeSelectors: selectorList(spec, 'nodeSelectors', 'spec'), interfaces };
}
