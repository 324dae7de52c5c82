// BGPPeer (v1beta2), BGPAdvertisement, BFDProfile and Community into the BGP model, one object at a
// time; configuration.ts runs them over every object and leaves out the ones refused. Pure.
//
// MetalLB's rules kept here:
// - exactly one of peerASN and dynamicASN (internal|external);
// - password and passwordSecret are exclusive; the Secret is of type kubernetes.io/basic-auth and
//   carries the key "password";
// - holdTime is 0 (no keepalives) or at least 3 s; keepalive never exceeds hold; when only one is
//   set the other is a third or three times it; when neither is, 90 s / 30 s;
// - ebgpMultiHop is for eBGP only; a bfdProfile must exist;
// - aggregationLength 0-32 (default 32), aggregationLengthV6 0-128 (default 128), and never
//   shorter than the prefix of a CIDR in a pool the advertisement covers (it would announce
//   addresses outside the pool);
// - communities are "a:b" (16-bit each), "large:a:b:c" (32-bit each) or a Community alias.
import type { IPFamily } from '../../providers/provider.js';
import { canonicalIP, familyOf } from './addressRange.js';
import type { LabelSelector } from './labelSelector.js';
import type { BFDProfileSpec, BGPAdvertisementSpec, BGPPeerSpec, RawObject, SecretObject } from './objects.js';
import { poolsSelected, type AddressPool } from './pools.js';
import { asRecord, FieldProblem, selectorList } from './specFields.js';

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
  /** Names of the pools it covers (every pool when it names and selects none). */
  pools: string[];
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

export const DEFAULT_HOLD_SECONDS = 90;

function refuse(field: string, message: string): never {
  throw new FieldProblem(field, message);
}

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

function intIn(value: unknown, low: number, high: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) refuse(field, `must be an integer, ${low}-${high} (got ${JSON.stringify(value)})`);
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

function secretPassword(secrets: readonly SecretObject[], ref: { name?: string; namespace?: string }, peerNamespace: string | undefined): string {
  const namespace = ref.namespace ?? peerNamespace;
  const secret = secrets.find((s) => s.metadata?.name === ref.name && (namespace === undefined || s.metadata?.namespace === undefined || s.metadata.namespace === namespace));
  if (!secret) refuse('spec.passwordSecret', `Secret "${ref.name}" not found: create it (type kubernetes.io/basic-auth, key "password")`);
  if (secret.type !== 'kubernetes.io/basic-auth') refuse('spec.passwordSecret', `Secret "${ref.name}" must be of type kubernetes.io/basic-auth (is ${secret.type ?? 'Opaque'})`);
  const plain = secret.stringData?.password;
  const encoded = secret.data?.password;
  const password = plain ?? (encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8'));
  if (password === undefined || password === '') refuse('spec.passwordSecret', `Secret "${ref.name}" has no key "password"`);
  return password;
}

/**
 * One BGPPeer. `secrets`: the namespace's Secrets, to resolve passwordSecret; undefined where they
 * are not read (the controller): then only the reference itself is checked.
 */
export function bgpPeerFromObject(o: RawObject, bfdProfiles: ReadonlySet<string>, secrets: readonly SecretObject[] | undefined): BgpPeer {
  const spec = asRecord(o.spec, 'spec') as BGPPeerSpec;
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
  const address = typeof spec.peerAddress === 'string' ? canonicalIP(spec.peerAddress) : undefined;
  if (!address) refuse('spec.peerAddress', `must be an IP address (got ${JSON.stringify(spec.peerAddress)})`);
  if (spec.peerPort !== undefined) intIn(spec.peerPort, 1, 65535, 'spec.peerPort');
  const sourceAddress = typeof spec.sourceAddress === 'string' ? canonicalIP(spec.sourceAddress) : undefined;
  if (spec.sourceAddress !== undefined && !sourceAddress) refuse('spec.sourceAddress', `must be an IP address (got ${JSON.stringify(spec.sourceAddress)})`);
  if (spec.routerID !== undefined && familyOf(String(spec.routerID)) !== 'IPv4') refuse('spec.routerID', `must be an IPv4 address (got "${spec.routerID}")`);
  if (spec.password !== undefined && spec.passwordSecret !== undefined) refuse('spec.password', 'password and passwordSecret are exclusive: give one');
  if (spec.passwordSecret !== undefined && !spec.passwordSecret.name) refuse('spec.passwordSecret.name', 'must name a Secret');
  const password = spec.passwordSecret !== undefined ? (secrets ? secretPassword(secrets, spec.passwordSecret, o.metadata.namespace) : undefined) : spec.password;
  // FRR takes the password as one word of its configuration language.
  if (password !== undefined && (password === '' || /\s/.test(password))) refuse(spec.passwordSecret ? 'spec.passwordSecret' : 'spec.password', 'must be non-empty and contain no whitespace');
  if (spec.bfdProfile !== undefined && !bfdProfiles.has(spec.bfdProfile)) refuse('spec.bfdProfile', `there is no BFDProfile "${spec.bfdProfile}": create it or remove the reference`);
  const internal = remoteAS === 'internal' || remoteAS === myASN;
  if (spec.ebgpMultiHop === true && internal) refuse('spec.ebgpMultiHop', 'is for eBGP peers only (peerASN equals myASN)');
  const { hold, keepalive } = timers(spec.holdTime, spec.keepaliveTime);
  const peer: BgpPeer = {
    name: o.metadata.name,
    myASN,
    remoteAS,
    address,
    family: familyOf(address)!,
    holdSeconds: hold,
    keepaliveSeconds: keepalive,
    nodeSelectors: selectorList(spec as Record<string, unknown>, 'nodeSelectors', 'spec'),
    ebgpMultiHop: spec.ebgpMultiHop === true,
    gracefulRestart: spec.enableGracefulRestart === true,
  };
  // 179 is BGP's port and FRR's default; MetalLB's CRD fills it in. Left out, as FRR prints it.
  if (spec.peerPort !== undefined && spec.peerPort !== 179) peer.port = spec.peerPort;
  if (sourceAddress !== undefined) peer.sourceAddress = sourceAddress;
  if (spec.routerID !== undefined) peer.routerID = spec.routerID;
  if (password !== undefined) peer.password = password;
  if (spec.bfdProfile !== undefined) peer.bfdProfile = spec.bfdProfile;
  return peer;
}

export function bfdProfileFromObject(o: RawObject): BfdProfile {
  const spec = asRecord(o.spec, 'spec') as BFDProfileSpec;
  const profile: BfdProfile = { name: o.metadata.name, echoMode: spec.echoMode === true, passiveMode: spec.passiveMode === true };
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

/** A Community object's aliases (name -> value), each value checked. */
export function communitiesFromObject(o: RawObject): { name: string; value: string }[] {
  const spec = asRecord(o.spec, 'spec');
  const list = spec.communities ?? [];
  if (!Array.isArray(list)) refuse('spec.communities', 'must be a list of {name, value}');
  return list.map((item, i) => {
    const entry = asRecord(item, `spec.communities[${i}]`);
    if (typeof entry.name !== 'string' || entry.name === '') refuse(`spec.communities[${i}].name`, 'is required');
    if (typeof entry.value !== 'string') refuse(`spec.communities[${i}].value`, 'is required');
    parseCommunity(entry.value, `spec.communities[${i}].value`);
    return { name: entry.name, value: entry.value };
  });
}

export function bgpAdvertisementFromObject(o: RawObject, pools: readonly AddressPool[], peers: ReadonlySet<string>, aliases: ReadonlyMap<string, string>): BgpAdvertisement {
  const spec = asRecord(o.spec, 'spec') as BGPAdvertisementSpec & Record<string, unknown>;
  const peerNames = spec.peers ?? [];
  peerNames.forEach((name, i) => {
    if (!peers.has(name)) refuse(`spec.peers[${i}]`, `there is no BGPPeer "${name}": create it, or remove it from the list`);
  });
  const ad: BgpAdvertisement = {
    name: o.metadata.name,
    pools: poolsSelected(spec, pools, o.metadata.namespace),
    aggregationLength: spec.aggregationLength === undefined ? 32 : intIn(spec.aggregationLength, 0, 32, 'spec.aggregationLength'),
    aggregationLengthV6: spec.aggregationLengthV6 === undefined ? 128 : intIn(spec.aggregationLengthV6, 0, 128, 'spec.aggregationLengthV6'),
    communities: [],
    largeCommunities: [],
    peers: peerNames,
    nodeSelectors: selectorList(spec, 'nodeSelectors', 'spec'),
  };
  if (spec.localPref !== undefined) ad.localPref = intIn(spec.localPref, 0, U32, 'spec.localPref');
  for (const [i, entry] of (spec.communities ?? []).entries()) {
    const field = `spec.communities[${i}]`;
    const resolved = aliases.get(entry) ?? entry;
    if (!resolved.includes(':')) refuse(field, `"${entry}" is neither a community nor the name of a Community alias`);
    const c = parseCommunity(resolved, field);
    const list = c.large ? ad.largeCommunities : ad.communities;
    if (!list.includes(c.value)) list.push(c.value);
  }
  checkAggregation(ad, pools);
  return ad;
}

function checkAggregation(ad: BgpAdvertisement, pools: readonly AddressPool[]): void {
  for (const pool of pools.filter((p) => ad.pools.includes(p.name))) {
    for (const range of pool.ranges) {
      const prefix = range.source.includes('/') ? Number(range.source.split('/')[1]) : undefined;
      const v4 = range.family === 'IPv4';
      const length = v4 ? ad.aggregationLength : ad.aggregationLengthV6;
      if (prefix !== undefined && prefix > length) {
        refuse(v4 ? 'spec.aggregationLength' : 'spec.aggregationLengthV6', `${length} is shorter than ${range.source} of pool "${pool.name}": it would announce addresses outside the pool`);
      }
    }
  }
}
