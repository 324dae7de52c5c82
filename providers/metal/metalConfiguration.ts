// The metal configuration: one validated model built from two sources, as MetalLB's config.For()
// builds its own: the pools of our YAML (fixed at start) and MetalLB's resources read live from
// the provider's namespace. Pure: objects in, model and per-object problems out.
//
// Who wins: both sources serve together. When an IPAddressPool has the name of a YAML pool or
// overlaps one, the YAML pool wins and the IPAddressPool is reported and left out (the file is
// the operator's explicit choice, and it cannot change under a running controller). Between two
// IPAddressPools that overlap, the one that was serving before wins (so editing a pool into
// another never takes addresses from it), then the older one, then the name.
//
// Unlike MetalLB, one bad object never stops the rest: it is left out, with a problem naming the
// field, and everything else is built.
import { byName, type AddressPool } from './addressPools.js';
import { bigIntToIP, overlapStart } from './addressRange.js';
import { l2AdvertisementFromObject, type L2AdvertisementModel } from './metallbAdvertisements.js';
import {
  bfdProfileFromObject,
  bgpAdvertisementFromObject,
  bgpPeerFromObject,
  communitiesFromObject,
  type BFDProfileModel,
  type BGPAdvertisementModel,
  type BGPPeerModel,
} from './metallbBgp.js';
import type { MetallbKindName, MetallbObjects, ObjectProblem, RawObject } from './metallbObjects.js';
import { poolFromIPAddressPool } from './metallbPools.js';
import { FieldProblem } from './specFields.js';

export interface MetalConfiguration {
  /** Every pool that serves, by name. */
  pools: AddressPool[];
  /** L2Advertisements that were accepted. None: YAML pools are announced everywhere, see announcedPools. */
  l2Advertisements: L2AdvertisementModel[];
  bgpPeers: BGPPeerModel[];
  bgpAdvertisements: BGPAdvertisementModel[];
  bfdProfiles: BFDProfileModel[];
  /** Community alias name -> value. */
  communities: Map<string, string>;
  problems: ObjectProblem[];
}

function when(object: RawObject): number {
  const t = object.metadata.creationTimestamp;
  return t === undefined ? 0 : new Date(t).getTime();
}

function overlapMessage(a: AddressPool, b: AddressPool): string | undefined {
  for (const ra of a.ranges) {
    for (const rb of b.ranges) {
      const shared = overlapStart(ra, rb);
      if (shared !== undefined) return `${ra.source} overlaps ${rb.source} of ${b.source === 'config' ? `pool "${b.name}" in the controller's configuration` : b.source} at ${bigIntToIP(shared, ra.family)}`;
    }
  }
  return undefined;
}

/**
 * Builds the model. `serving` names the IPAddressPools accepted by the previous build (they keep
 * precedence over pools changed into them).
 */
export function buildMetalConfiguration(namespace: string, yamlPools: readonly AddressPool[], objects: MetallbObjects, serving: ReadonlySet<string> = new Set()): MetalConfiguration {
  const problems: ObjectProblem[] = [];
  const report = (kind: MetallbKindName, object: RawObject, error: unknown) => {
    const field = error instanceof FieldProblem ? error.field : 'spec';
    const message = error instanceof Error ? error.message : String(error);
    const problem: ObjectProblem = { kind, namespace: object.metadata.namespace ?? namespace, name: object.metadata.name, field, message };
    if (object.metadata.uid) problem.uid = object.metadata.uid;
    problems.push(problem);
  };
  /** Each object of `kind` through `build`; a throw reports it and leaves it out. */
  const each = <T>(kind: MetallbKindName, build: (o: RawObject) => T): T[] => {
    const out: T[] = [];
    for (const object of objects[kind]) {
      try {
        out.push(build(object));
      } catch (error) {
        report(kind, object, error);
      }
    }
    return out;
  };

  const pools: AddressPool[] = [...yamlPools];
  const candidates = [...objects.IPAddressPool].sort(
    (a, b) => Number(!serving.has(a.metadata.name)) - Number(!serving.has(b.metadata.name)) || when(a) - when(b) || a.metadata.name.localeCompare(b.metadata.name),
  );
  for (const object of candidates) {
    try {
      const pool = poolFromIPAddressPool(object);
      const clash = pools.find((p) => p.name === pool.name);
      if (clash) throw new FieldProblem('metadata.name', `the controller's configuration already has a pool "${pool.name}", which wins: rename one of them`);
      for (const other of pools) {
        const overlap = overlapMessage(pool, other);
        if (overlap) throw new FieldProblem('spec.addresses', `${overlap}; an address belongs to one pool, and ${other.source === 'config' ? 'the configured pool' : 'that pool'} keeps it: remove the overlap`);
      }
      // Within the pool itself.
      for (let i = 0; i < pool.ranges.length; i++) {
        for (let j = i + 1; j < pool.ranges.length; j++) {
          const shared = overlapStart(pool.ranges[i]!, pool.ranges[j]!);
          if (shared !== undefined) throw new FieldProblem(`spec.addresses[${j}]`, `${pool.ranges[j]!.source} overlaps ${pool.ranges[i]!.source} at ${bigIntToIP(shared, pool.ranges[i]!.family)}`);
        }
      }
      pools.push(pool);
    } catch (error) {
      report('IPAddressPool', object, error);
    }
  }
  pools.sort(byName);

  const bfdProfiles = each('BFDProfile', bfdProfileFromObject);
  const communities = new Map<string, string>();
  for (const object of objects.Community) {
    try {
      for (const alias of communitiesFromObject(object)) {
        if (communities.has(alias.name)) throw new FieldProblem('spec.communities', `the alias "${alias.name}" is defined twice`);
        communities.set(alias.name, alias.value);
      }
    } catch (error) {
      report('Community', object, error);
    }
  }
  const bfdNames = new Set(bfdProfiles.map((p) => p.name));
  const bgpPeers = each('BGPPeer', (o) => bgpPeerFromObject(o, bfdNames));
  const peerNames = new Set(bgpPeers.map((p) => p.name));
  return {
    pools,
    l2Advertisements: each('L2Advertisement', (o) => l2AdvertisementFromObject(o, pools, namespace)),
    bgpPeers,
    bgpAdvertisements: each('BGPAdvertisement', (o) => bgpAdvertisementFromObject(o, pools, peerNames, communities)),
    bfdProfiles,
    communities,
    problems,
  };
}

/**
 * Which pools L2 announces, and how: IPAddressPools only through an L2Advertisement that selects
 * them (as MetalLB); YAML pools from every node unless an L2Advertisement selects them.
 */
export function l2AdvertisementsFor(config: Pick<MetalConfiguration, 'pools' | 'l2Advertisements'>, pool: string): L2AdvertisementModel[] | 'everywhere' {
  const matching = config.l2Advertisements.filter((a) => a.pools.includes(pool));
  if (matching.length > 0) return matching;
  return config.pools.find((p) => p.name === pool)?.source === 'config' ? 'everywhere' : [];
}
