// The metal configuration: one validated model built from MetalLB's resources, as MetalLB's
// config.For() builds its own, plus the controller's YAML pools when it has some. The controller
// (providers/metal) allocates from it; the speakers (src/speaker) announce by it. Pure: objects
// in, model and per-object problems out.
//
// Who wins: both sources serve together. When an IPAddressPool has the name of a YAML pool or
// overlaps one, the YAML pool wins and the IPAddressPool is reported and left out (the file is
// the operator's explicit choice, and it cannot change under a running controller). Between two
// IPAddressPools that overlap, the one that was serving before wins (so editing a pool into
// another never takes addresses from it), then the older one, then the name.
//
// Unlike MetalLB, one bad object never stops the rest: it is left out, with a problem naming the
// field, and everything else is built.
import { bigIntToIP, overlapStart } from './addressRange.js';
import { bfdProfileFromObject, bgpAdvertisementFromObject, bgpPeerFromObject, communitiesFromObject, type BfdProfile, type BgpAdvertisement, type BgpPeer } from './bgp.js';
import { l2AdvertisementFromObject, type L2AdvertisementModel } from './l2Advertisements.js';
import type { MetallbKindName, MetallbObjects, ObjectProblem, RawObject, SecretObject } from './objects.js';
import { byName, poolFromIPAddressPool, type AddressPool } from './pools.js';
import { FieldProblem } from './specFields.js';

export interface MetallbConfiguration {
  /** Every pool that serves, by name. */
  pools: AddressPool[];
  /** L2Advertisements that were accepted. None: YAML pools are announced everywhere, see l2AdvertisementsFor. */
  l2Advertisements: L2AdvertisementModel[];
  bgpPeers: BgpPeer[];
  bgpAdvertisements: BgpAdvertisement[];
  bfdProfiles: BfdProfile[];
  /** Community alias name -> value. */
  communities: Map<string, string>;
  problems: ObjectProblem[];
}

/** What the BGP side of a speaker needs of the configuration. */
export type BgpConfig = Pick<MetallbConfiguration, 'pools' | 'bgpPeers' | 'bgpAdvertisements' | 'bfdProfiles'>;

export interface BuildOptions {
  /** Pools from elsewhere (the controller's YAML), fixed; they win over IPAddressPools. */
  fixedPools?: readonly AddressPool[];
  /** IPAddressPools accepted by the previous build: they keep precedence over pools changed into them. */
  serving?: ReadonlySet<string>;
  /** The namespace's Secrets, for BGPPeer.passwordSecret; undefined where they are not read. */
  secrets?: readonly SecretObject[];
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

const byObjectName = (a: RawObject, b: RawObject) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

export function buildMetallbConfiguration(namespace: string, objects: MetallbObjects, options: BuildOptions = {}): MetallbConfiguration {
  const serving = options.serving ?? new Set<string>();
  const problems: ObjectProblem[] = [];
  const report = (kind: MetallbKindName, object: RawObject, error: unknown) => {
    // Anything but a FieldProblem is a bug of ours, not of the object.
    if (!(error instanceof FieldProblem)) throw error;
    const problem: ObjectProblem = { kind, namespace: object.metadata.namespace ?? namespace, name: object.metadata.name ?? '', field: error.field, message: error.message };
    if (object.metadata.uid) problem.uid = object.metadata.uid;
    problems.push(problem);
  };
  /** Each object of `kind` through `build`, by name; a refusal reports it and leaves it out. */
  const each = <T>(kind: MetallbKindName, build: (o: RawObject) => T): T[] => {
    const out: T[] = [];
    for (const object of [...objects[kind]].sort(byObjectName)) {
      try {
        if (!object.metadata?.name) throw new FieldProblem('metadata.name', 'is required');
        out.push(build(object));
      } catch (error) {
        report(kind, object, error);
      }
    }
    return out;
  };

  const pools: AddressPool[] = [...(options.fixedPools ?? [])];
  const candidates = [...objects.IPAddressPool].sort(
    (a, b) => Number(!serving.has(a.metadata.name)) - Number(!serving.has(b.metadata.name)) || when(a) - when(b) || byObjectName(a, b),
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
  each('Community', (object) => {
    const aliases = communitiesFromObject(object);
    for (const alias of aliases) {
      if (communities.has(alias.name)) throw new FieldProblem('spec.communities', `the alias "${alias.name}" is defined twice: keep one`);
    }
    for (const alias of aliases) communities.set(alias.name, alias.value);
  });
  const bfdNames = new Set(bfdProfiles.map((p) => p.name));
  const bgpPeers: BgpPeer[] = [];
  each('BGPPeer', (o) => {
    const built = bgpPeerFromObject(o, bfdNames, options.secrets);
    // One node speaks as one ASN (FRR's single "router bgp").
    const first = bgpPeers[0];
    if (first && built.myASN !== first.myASN) throw new FieldProblem('spec.myASN', `every peer of a node speaks as one ASN; BGPPeer "${first.name}" uses ${first.myASN}`);
    const twin = bgpPeers.find((p) => p.address === built.address && (p.port ?? 179) === (built.port ?? 179));
    if (twin) throw new FieldProblem('spec.peerAddress', `BGPPeer "${twin.name}" already peers with ${built.address}`);
    bgpPeers.push(built);
  });
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
 * Which L2Advertisements announce a pool: IPAddressPools only through one that selects them (as
 * MetalLB); YAML pools (and addresses in no known pool) from every node unless one selects them.
 */
export function l2AdvertisementsFor(config: Pick<MetallbConfiguration, 'pools' | 'l2Advertisements'>, pool: string | undefined): L2AdvertisementModel[] | 'everywhere' {
  const matching = pool === undefined ? [] : config.l2Advertisements.filter((a) => a.pools.includes(pool));
  if (matching.length > 0) return matching;
  const known = pool === undefined ? undefined : config.pools.find((p) => p.name === pool);
  return known === undefined || known.source === 'config' ? 'everywhere' : [];
}

/** The BGPAdvertisements that cover a pool. */
export function bgpAdvertisementsFor(config: Pick<MetallbConfiguration, 'bgpAdvertisements'>, pool: string): BgpAdvertisement[] {
  return config.bgpAdvertisements.filter((a) => a.pools.includes(pool));
}
