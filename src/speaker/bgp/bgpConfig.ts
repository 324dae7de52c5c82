// Builds the validated BGP configuration from MetalLB's objects (BGPPeer, BGPAdvertisement,
// BFDProfile, Community, IPAddressPool, basic-auth Secrets), as MetalLB's config.For() does: each
// object is checked on its own and, when it is wrong, refused with a problem that names the object
// and the field; the valid ones are kept, so one bad peer never stops the others. Pure: the input
// is plain data (from the live CRD readers or from the interim --bgp-config file).
//
// MetalLB's rules kept here:
// - exactly one of peerASN and dynamicASN (internal|external);
// - password and passwordSecret are exclusive; the Secret is of type kubernetes.io/basic-auth and
//   carries the key "password";
// - holdTime is 0 (no keepalives) or at least 3 s; keepalive never exceeds hold; when only one is
//   set the other is a third or three times it; when neither is, 90 s / 30 s;
// - ebgpMultiHop is for eBGP only; a bfdProfile must exist;
// - one node speaks with one ASN: a peer whose myASN differs from the first valid peer's is refused;
// - aggregationLength 0-32 (default 32), aggregationLengthV6 0-128 (default 128), and never
//   shorter than the prefix of a CIDR in a pool the advertisement covers (it would announce
//   addresses outside the pool);
// - communities are "a:b" (16-bit each), "large:a:b:c" (32-bit each) or a Community alias.
import { canonicalIP, familyOf, parseAddressRange, type AddressRange } from '../../../providers/metal/addressRange.js';
import type { IPFamily } from '../../../providers/provider.js';
import { selectorMatches, selectorProblem, type LabelSelector } from './labelSelector.js';
import type { BFDProfileObject, BGPAdvertisementObject, BGPPeerObject, CommunityObject, IPAddressPoolObject, MetalBgpObjects, SecretObject } from './metallbObjects.js';

export interface ConfigProblem {
  kind: string;
  name: string;
  namespace?: string;
  /** The offending field, as a path: "spec.password". */
  field: string;
  message: string;
}

export interface BgpPeer {
  name: string;
  myASN: number;
  /** A number, or MetalLB's dynamicASN (FRR's "remote-as internal|external"). */
  remoteAS: number | 'internal' | 'external';
  address: string;
  family: IPFamily;
  port?: number;
  sourceAddress?: string;
  routerID?: string;
  holdSeconds: number;
  keepaliveSeconds: number;
  nodeSelectors: LabelSelector[];
  password?: string;
  bfdProfile?: string;
  ebgpMultiHop: boolean;
  gracefulRestart: boolean;
}

export interface BfdProfile {
  name: string;
  receiveIntervalMs?: number;
  transmitIntervalMs?: number;
  detectMultiplier?: number;
  echoMode: boolean;
  passiveMode: boolean;
  minimumTtl?: number;
}

export interface BgpAdvertisement {
  name: string;
  pools: string[];
  poolSelectors: LabelSelector[];
  aggregationLength: number;
  aggregationLengthV6: number;
  localPref?: number;
  /** "a:b" standard communities, canonical (no leading zeros). */
  communities: string[];
  /** "a:b:c" large communities, without the "large:" prefix. */
  largeCommunities: string[];
  /** BGPPeer names; empty: every peer. */
  peers: string[];
  nodeSelectors: LabelSelector[];
}

export interface BgpPool {
  name: string;
  labels: Record<string, string>;
  ranges: AddressRange[];
}

export interface BgpConfig {
  peers: BgpPeer[];
  bfdProfiles: BfdProfile[];
  advertisements: BgpAdvertisement[];
  pools: BgpPool[];
}

export const DEFAULT_HOLD_SECONDS = 90;

class Refused extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function refuse(field: string, message: string): never {
  throw new Refused(field, message);
}

const byName = <T extends { metadata?: { name?: string } }>(a: T, b: T): number => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');

/** A Kubernetes duration ("90s", "1m30s", "500ms", "1h") in whole seconds (truncated, as MetalLB). */
export function durationSeconds(text: string, field: string): number {
  const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001 };
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) refuse(field, `"${text}" is not a duration (e.g. "90s", "1m30s")`);
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * unitMs[p[2]!]!, 0);
  return Math.floor(ms / 1000);
}

function asn(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 4294967295) refuse(field, `must be an AS number, 1-4294967295 (got ${JSON.stringify(value)})`);
  return value;
}

function timers(holdText: string | undefined, keepaliveText: string | undefined): { hold: number; keepalive: number } {
  const hold = holdText === undefined ? undefined : durationSeconds(holdText, 'spec.holdTime');
  const keepalive = keepaliveText === undefined ? undefined : durationSeconds(keepaliveText, 'spec.keepaliveTime');
  if (hold !== undefined && hold !== 0 && hold < 3) refuse('spec.holdTime', `must be 0 or at least 3s (got ${holdText})`);
  if (hold === undefined && keepalive === undefined) return { hold: DEFAULT_HOLD_SECONDS, keepalive: DEFAULT_HOLD_SECONDS / 3 };
  if (hold === undefined) {
    if (keepalive! * 3 < 3 && keepalive !== 0) refuse('spec.keepaliveTime', `gives a hold time (three times it) under 3s (got ${keepaliveText})`);
    return { hold: keepalive! * 3, keepalive: keepalive! };
  }
  if (keepalive === undefined) return { hold, keepalive: Math.floor(hold / 3) };
  if (keepalive > hold) refuse('spec.keepaliveTime', `must not exceed holdTime (${keepaliveText} > ${holdText})`);
  if (hold === 0 && keepalive !== 0) refuse('spec.keepaliveTime', 'must be 0 when holdTime is 0');
  return { hold, keepalive };
}

function selectors(list: LabelSelector[] | undefined, field: string): LabelSelector[] {
  for (const [i, s] of (list ?? []).entries()) {
    const problem = selectorProblem(s);
    if (problem) refuse(`${field}[${i}]`, problem);
  }
  return list ?? [];
}

function secretPassword(secrets: readonly SecretObject[], ref: { name?: string; namespace?: string }, peerNamespace: string | undefined): string {
  if (!ref.name) refuse('spec.passwordSecret.name', 'must name a Secret');
  const namespace = ref.namespace ?? peerNamespace;
  const secret = secrets.find((s) => s.metadata?.name === ref.name && (namespace === undefined || s.metadata?.namespace === undefined || s.metadata.namespace === namespace));
  if (!secret) refuse('spec.passwordSecret', `Secret "${ref.name}" not found`);
  if (secret.type !== 'kubernetes.io/basic-auth') refuse('spec.passwordSecret', `Secret "${ref.name}" must be of type kubernetes.io/basic-auth (is ${secret.type ?? 'Opaque'})`);
  const plain = secret.stringData?.password;
  const encoded = secret.data?.password;
  const password = plain ?? (encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8'));
  if (password === undefined || password === '') refuse('spec.passwordSecret', `Secret "${ref.name}" has no key "password"`);
  return password;
}

function buildPeer(o: BGPPeerObject, secrets: readonly SecretObject[], profiles: ReadonlySet<string>): BgpPeer {
  const spec = o.spec ?? {};
  const myASN = asn(spec.myASN, 'spec.myASN');
  if (spec.peerASN !== undefined && spec.dynamicASN !== undefined) refuse('spec.dynamicASN', 'peerASN and dynamicASN are exclusive');
  let remoteAS: BgpPeer['remoteAS'];
  if (spec.dynamicASN !== undefined) {
    if (spec.dynamicASN !== 'internal' && spec.dynamicASN !== 'external') refuse('spec.dynamicASN', `must be "internal" or "external" (got "${spec.dynamicASN}")`);
    remoteAS = spec.dynamicASN;
  } else {
    if (spec.peerASN === undefined) refuse('spec.peerASN', 'one of peerASN and dynamicASN is required');
    remoteAS = asn(spec.peerASN, 'spec.peerASN');
  }
  const address = spec.peerAddress === undefined ? undefined : canonicalIP(spec.peerAddress);
  if (!address) refuse('spec.peerAddress', `must be an IP address (got ${JSON.stringify(spec.peerAddress)})`);
  if (spec.peerPort !== undefined && (!Number.isInteger(spec.peerPort) || spec.peerPort < 1 || spec.peerPort > 65535)) refuse('spec.peerPort', `must be a port, 1-65535 (got ${spec.peerPort})`);
  const sourceAddress = spec.sourceAddress === undefined ? undefined : canonicalIP(spec.sourceAddress);
  if (spec.sourceAddress !== undefined && !sourceAddress) refuse('spec.sourceAddress', `must be an IP address (got "${spec.sourceAddress}")`);
  if (spec.routerID !== undefined && familyOf(spec.routerID) !== 'IPv4') refuse('spec.routerID', `must be an IPv4 address (got "${spec.routerID}")`);
  if (spec.password !== undefined && spec.passwordSecret !== undefined) refuse('spec.password', 'password and passwordSecret are exclusive');
  const password = spec.passwordSecret !== undefined ? secretPassword(secrets, spec.passwordSecret, o.metadata?.namespace) : spec.password;
  // FRR takes the password as one word of its configuration language.
  if (password !== undefined && (password === '' || /\s/.test(password))) refuse(spec.passwordSecret ? 'spec.passwordSecret' : 'spec.password', 'must be non-empty and contain no whitespace');
  if (spec.bfdProfile !== undefined && !profiles.has(spec.bfdProfile)) refuse('spec.bfdProfile', `BFDProfile "${spec.bfdProfile}" not found`);
  const internal = remoteAS === 'internal' || remoteAS === myASN;
  if (spec.ebgpMultiHop === true && internal) refuse('spec.ebgpMultiHop', 'is for eBGP peers only (peerASN equals myASN)');
  const { hold, keepalive } = timers(spec.holdTime, spec.keepaliveTime);
  const peer: BgpPeer = {
    name: o.metadata?.name ?? '',
    myASN,
    remoteAS,
    address,
    family: familyOf(address)!,
    holdSeconds: hold,
    keepaliveSeconds: keepalive,
    nodeSelectors: selectors(spec.nodeSelectors, 'spec.nodeSelectors'),
    ebgpMultiHop: spec.ebgpMultiHop === true,
    gracefulRestart: spec.enableGracefulRestart === true,
  };
  if (spec.peerPort !== undefined) peer.port = spec.peerPort;
  if (sourceAddress !== undefined) peer.sourceAddress = sourceAddress;
  if (spec.routerID !== undefined) peer.routerID = spec.routerID;
  if (password !== undefined) peer.password = password;
  if (spec.bfdProfile !== undefined) peer.bfdProfile = spec.bfdProfile;
  return peer;
}

function intIn(value: unknown, low: number, high: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) refuse(field, `must be an integer, ${low}-${high} (got ${JSON.stringify(value)})`);
  return value;
}

function buildBfdProfile(o: BFDProfileObject): BfdProfile {
  const spec = o.spec ?? {};
  const profile: BfdProfile = { name: o.metadata?.name ?? '', echoMode: spec.echoMode === true, passiveMode: spec.passiveMode === true };
  // The ranges are FRR's (and MetalLB's CRD validation).
  if (spec.receiveInterval !== undefined) profile.receiveIntervalMs = intIn(spec.receiveInterval, 10, 60000, 'spec.receiveInterval');
  if (spec.transmitInterval !== undefined) profile.transmitIntervalMs = intIn(spec.transmitInterval, 10, 60000, 'spec.transmitInterval');
  if (spec.detectMultiplier !== undefined) profile.detectMultiplier = intIn(spec.detectMultiplier, 2, 255, 'spec.detectMultiplier');
  if (spec.minimumTtl !== undefined) profile.minimumTtl = intIn(spec.minimumTtl, 1, 254, 'spec.minimumTtl');
  return profile;
}

const U16 = 0xffff;
const U32 = 0xffffffff;

/** Parses one community value; answers which kind and its canonical text. */
export function parseCommunity(text: string, field: string): { large: boolean; value: string } {
  const parts = text.split(':');
  const numbers = (list: string[], max: number): number[] =>
    list.map((p) => {
      if (!/^\d+$/.test(p) || Number(p) > max) refuse(field, `"${text}" is not a community ("a:b" with 16-bit numbers, or "large:a:b:c" with 32-bit numbers)`);
      return Number(p);
    });
  if (parts[0] === 'large' && parts.length === 4) return { large: true, value: numbers(parts.slice(1), U32).join(':') };
  if (parts.length === 2) return { large: false, value: numbers(parts, U16).join(':') };
  refuse(field, `"${text}" is not a community ("a:b", "large:a:b:c", or the name of a Community alias)`);
}

function communityAliases(objects: readonly CommunityObject[]): Map<string, string> {
  const aliases = new Map<string, string>();
  for (const o of objects) for (const c of o.spec?.communities ?? []) if (c.name && c.value) aliases.set(c.name, c.value);
  return aliases;
}

function buildAdvertisement(o: BGPAdvertisementObject, aliases: ReadonlyMap<string, string>): BgpAdvertisement {
  const spec = o.spec ?? {};
  const ad: BgpAdvertisement = {
    name: o.metadata?.name ?? '',
    pools: spec.ipAddressPools ?? [],
    poolSelectors: selectors(spec.ipAddressPoolSelectors, 'spec.ipAddressPoolSelectors'),
    aggregationLength: spec.aggregationLength === undefined ? 32 : intIn(spec.aggregationLength, 0, 32, 'spec.aggregationLength'),
    aggregationLengthV6: spec.aggregationLengthV6 === undefined ? 128 : intIn(spec.aggregationLengthV6, 0, 128, 'spec.aggregationLengthV6'),
    communities: [],
    largeCommunities: [],
    peers: spec.peers ?? [],
    nodeSelectors: selectors(spec.nodeSelectors, 'spec.nodeSelectors'),
  };
  if (spec.localPref !== undefined) ad.localPref = intIn(spec.localPref, 0, U32, 'spec.localPref');
  for (const [i, entry] of (spec.communities ?? []).entries()) {
    const field = `spec.communities[${i}]`;
    const resolved = aliases.get(entry) ?? entry;
    if (!resolved.includes(':')) refuse(field, `"${entry}" is neither a community nor a Community alias`);
    const c = parseCommunity(resolved, field);
    const list = c.large ? ad.largeCommunities : ad.communities;
    if (!list.includes(c.value)) list.push(c.value);
  }
  return ad;
}

function buildPool(o: IPAddressPoolObject): BgpPool {
  const ranges = (o.spec?.addresses ?? []).map((entry, i) => {
    try {
      return parseAddressRange(entry);
    } catch (error) {
      refuse(`spec.addresses[${i}]`, (error as Error).message);
    }
  });
  return { name: o.metadata?.name ?? '', labels: o.metadata?.labels ?? {}, ranges };
}

function checkAggregation(ad: BgpAdvertisement, pools: readonly BgpPool[]): void {
  const covered = pools.filter((p) => (ad.pools.length === 0 && ad.poolSelectors.length === 0) || ad.pools.includes(p.name) || ad.poolSelectors.some((s) => selectorMatches(s, p.labels)));
  for (const pool of covered) {
    for (const range of pool.ranges) {
      const prefix = range.source.includes('/') ? Number(range.source.split('/')[1]) : undefined;
      const v4 = range.family === 'IPv4';
      const length = v4 ? ad.aggregationLength : ad.aggregationLengthV6;
      if (prefix !== undefined && prefix > length) {
        refuse(v4 ? 'spec.aggregationLength' : 'spec.aggregationLengthV6', `${length} is shorter than ${range.source} of IPAddressPool "${pool.name}": it would announce addresses outside the pool`);
      }
    }
  }
}

/** Validates every object; the valid ones make the configuration, the others a problem each. */
export function buildBgpConfig(objects: MetalBgpObjects): { config: BgpConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const attempt = <O extends { kind: string; metadata?: { name?: string; namespace?: string } }, T>(o: O, build: (o: O) => T): T | undefined => {
    try {
      if (!o.metadata?.name) refuse('metadata.name', 'is required');
      return build(o);
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      const problem: ConfigProblem = { kind: o.kind, name: o.metadata?.name ?? '', field: error.field, message: error.message };
      if (o.metadata?.namespace !== undefined) problem.namespace = o.metadata.namespace;
      problems.push(problem);
      return undefined;
    }
  };
  const bfdProfiles = [...objects.bfdProfiles].sort(byName).flatMap((o) => attempt(o, buildBfdProfile) ?? []);
  const profileNames = new Set(bfdProfiles.map((p) => p.name));
  const peers: BgpPeer[] = [];
  for (const o of [...objects.peers].sort(byName)) {
    const peer = attempt(o, (x) => {
      const built = buildPeer(x, objects.secrets, profileNames);
      const first = peers[0];
      if (first && built.myASN !== first.myASN) refuse('spec.myASN', `every peer of a node speaks as one ASN; BGPPeer "${first.name}" uses ${first.myASN}`);
      const twin = peers.find((p) => p.address === built.address && (p.port ?? 179) === (built.port ?? 179));
      if (twin) refuse('spec.peerAddress', `BGPPeer "${twin.name}" already peers with ${built.address}`);
      return built;
    });
    if (peer) peers.push(peer);
  }
  const aliases = communityAliases(objects.communities);
  const pools = [...objects.pools].sort(byName).flatMap((o) => attempt(o, buildPool) ?? []);
  const advertisements = [...objects.advertisements].sort(byName).flatMap(
    (o) =>
      attempt(o, (x) => {
        const ad = buildAdvertisement(x, aliases);
        checkAggregation(ad, pools);
        return ad;
      }) ?? [],
  );
  return { config: { peers, bfdProfiles, advertisements, pools }, problems };
}
