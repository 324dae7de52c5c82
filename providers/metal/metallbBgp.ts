// BGPPeer (v1beta2), BGPAdvertisement, BFDProfile and Community, read and validated now so that a
// user switching from MetalLB learns at once what is wrong with them. BGP itself (sessions,
// routes) is the next issue: these models are not used for announcing yet. Pure.
import ipaddr from 'ipaddr.js';
import type { AddressPool } from './addressPools.js';
import type { RawObject } from './metallbObjects.js';
import { asRecord, FieldProblem, optionalBoolean, optionalInteger, optionalString, selectorList, stringList } from './specFields.js';
import { selectorMatches, type LabelSelector } from './labelSelector.js';

const ASN: [number, number] = [0, 4294967295];

export interface BFDProfileModel {
  name: string;
  receiveInterval: number;
  transmitInterval: number;
  detectMultiplier: number;
}

export interface BGPPeerModel {
  name: string;
  myASN: number;
  peerASN: number | undefined;
  dynamicASN: 'internal' | 'external' | undefined;
  peerAddress: string;
  peerPort: number;
  bfdProfile: string | undefined;
  holdTimeSeconds: number | undefined;
  keepaliveTimeSeconds: number | undefined;
  nodeSelectors: LabelSelector[];
}

export interface BGPAdvertisementModel {
  name: string;
  pools: string[];
  peers: string[];
  communities: string[];
  localPref: number | undefined;
  aggregationLength: number;
  aggregationLengthV6: number;
  nodeSelectors: LabelSelector[];
}

export interface CommunityAlias {
  name: string;
  value: string;
}

/** Go's time.Duration text ("90s", "1m30s", "1h") in seconds, or undefined when malformed. */
export function durationSeconds(text: string): number | undefined {
  const match = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(text);
  if (!match || text === '') return undefined;
  const [, h, m, s, ms] = match;
  return Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0) + Number(ms ?? 0) / 1000;
}

const STANDARD_COMMUNITY = /^(\d{1,5}):(\d{1,5})$/;
const LARGE_COMMUNITY = /^large:(\d{1,10}):(\d{1,10}):(\d{1,10})$/;

/** Why `value` is not a BGP community MetalLB accepts ("65000:100" or "large:1:2:3"). */
export function communityProblem(value: string): string | undefined {
  const standard = STANDARD_COMMUNITY.exec(value);
  if (standard) return standard.slice(1).every((n) => Number(n) <= 65535) ? undefined : `"${value}": both halves must be at most 65535`;
  const large = LARGE_COMMUNITY.exec(value);
  if (large) return large.slice(1).every((n) => Number(n) <= 4294967295) ? undefined : `"${value}": each part must be at most 4294967295`;
  return `"${value}" is neither a community ("65000:100") nor a large community ("large:65000:1:2")`;
}

export function bfdProfileFromObject(object: RawObject): BFDProfileModel {
  const spec = asRecord(object.spec, 'spec');
  return {
    name: object.metadata.name,
    receiveInterval: optionalInteger(spec, 'receiveInterval', 'spec', [10, 60000]) ?? 300,
    transmitInterval: optionalInteger(spec, 'transmitInterval', 'spec', [10, 60000]) ?? 300,
    detectMultiplier: optionalInteger(spec, 'detectMultiplier', 'spec', [2, 255]) ?? 3,
  };
}

function timer(spec: Record<string, unknown>, key: string): number | undefined {
  const text = optionalString(spec, key, 'spec');
  if (text === undefined) return undefined;
  const seconds = durationSeconds(text);
  if (seconds === undefined) throw new FieldProblem(`spec.${key}`, `"${text}" is not a duration (e.g. "90s", "1m30s")`);
  return seconds;
}

export function bgpPeerFromObject(object: RawObject, bfdProfiles: ReadonlySet<string>): BGPPeerModel {
  const spec = asRecord(object.spec, 'spec');
  const myASN = optionalInteger(spec, 'myASN', 'spec', ASN);
  if (myASN === undefined) throw new FieldProblem('spec.myASN', 'is required: the ASN this cluster speaks as');
  const peerASN = optionalInteger(spec, 'peerASN', 'spec', ASN);
  const dynamic = optionalString(spec, 'dynamicASN', 'spec');
  if (dynamic !== undefined && dynamic !== 'internal' && dynamic !== 'external') throw new FieldProblem('spec.dynamicASN', `must be internal or external, not "${dynamic}"`);
  if ((peerASN === undefined) === (dynamic === undefined)) throw new FieldProblem('spec.peerASN', 'give exactly one of peerASN and dynamicASN');
  const peerAddress = optionalString(spec, 'peerAddress', 'spec');
  if (!peerAddress || !ipaddr.isValid(peerAddress)) throw new FieldProblem('spec.peerAddress', `${peerAddress === undefined ? 'is required' : `"${peerAddress}" is not an IP address`}`);
  const source = optionalString(spec, 'sourceAddress', 'spec');
  if (source !== undefined && !ipaddr.isValid(source)) throw new FieldProblem('spec.sourceAddress', `"${source}" is not an IP address`);
  const bfdProfile = optionalString(spec, 'bfdProfile', 'spec');
  if (bfdProfile !== undefined && !bfdProfiles.has(bfdProfile)) throw new FieldProblem('spec.bfdProfile', `there is no BFDProfile "${bfdProfile}": create it or remove the reference`);
  if (optionalString(spec, 'password', 'spec') !== undefined && spec.passwordSecret !== undefined) {
    throw new FieldProblem('spec.passwordSecret', 'give either password or passwordSecret, not both');
  }
  const holdTimeSeconds = timer(spec, 'holdTime');
  const keepaliveTimeSeconds = timer(spec, 'keepaliveTime');
  if (holdTimeSeconds !== undefined && holdTimeSeconds !== 0 && holdTimeSeconds < 3) throw new FieldProblem('spec.holdTime', 'must be 0 or at least 3s (RFC 4271)');
  if (holdTimeSeconds !== undefined && keepaliveTimeSeconds !== undefined && keepaliveTimeSeconds > holdTimeSeconds) {
    throw new FieldProblem('spec.keepaliveTime', 'must not be longer than holdTime');
  }
  optionalBoolean(spec, 'ebgpMultiHop', 'spec', false);
  return {
    name: object.metadata.name,
    myASN,
    peerASN,
    dynamicASN: dynamic as BGPPeerModel['dynamicASN'],
    peerAddress,
    peerPort: optionalInteger(spec, 'peerPort', 'spec', [1, 16384]) ?? 179,
    bfdProfile,
    holdTimeSeconds,
    keepaliveTimeSeconds,
    nodeSelectors: selectorList(spec, 'nodeSelectors', 'spec'),
  };
}

export function communitiesFromObject(object: RawObject): CommunityAlias[] {
  const spec = asRecord(object.spec, 'spec');
  const list = spec.communities ?? [];
  if (!Array.isArray(list)) throw new FieldProblem('spec.communities', 'must be a list of {name, value}');
  return list.map((item, i) => {
    const entry = asRecord(item, `spec.communities[${i}]`);
    const name = optionalString(entry, 'name', `spec.communities[${i}]`);
    const value = optionalString(entry, 'value', `spec.communities[${i}]`);
    if (!name) throw new FieldProblem(`spec.communities[${i}].name`, 'is required');
    const problem = value === undefined ? 'is required' : communityProblem(value);
    if (problem) throw new FieldProblem(`spec.communities[${i}].value`, problem);
    return { name, value: value! };
  });
}

export function bgpAdvertisementFromObject(object: RawObject, pools: readonly AddressPool[], peers: ReadonlySet<string>, aliases: ReadonlyMap<string, string>): BGPAdvertisementModel {
  const spec = asRecord(object.spec, 'spec');
  const named = stringList(spec, 'ipAddressPools', 'spec');
  const known = new Set(pools.map((p) => p.name));
  named.forEach((name, i) => {
    if (!known.has(name)) throw new FieldProblem(`spec.ipAddressPools[${i}]`, `there is no pool "${name}": create it, or remove it from the list`);
  });
  const peerNames = stringList(spec, 'peers', 'spec');
  peerNames.forEach((name, i) => {
    if (!peers.has(name)) throw new FieldProblem(`spec.peers[${i}]`, `there is no BGPPeer "${name}"`);
  });
  const communities = stringList(spec, 'communities', 'spec').map((c, i) => {
    const value = aliases.get(c) ?? c;
    const problem = communityProblem(value);
    if (problem) throw new FieldProblem(`spec.communities[${i}]`, `${problem}, nor the name of a Community alias`);
    return value;
  });
  const aggregationLength = optionalInteger(spec, 'aggregationLength', 'spec', [0, 32]) ?? 32;
  const aggregationLengthV6 = optionalInteger(spec, 'aggregationLengthV6', 'spec', [0, 128]) ?? 128;
  const selectors = selectorList(spec, 'ipAddressPoolSelectors', 'spec');
  const every = named.length === 0 && selectors.length === 0;
  return {
    name: object.metadata.name,
    pools: pools.filter((p) => every || named.includes(p.name) || selectors.some((s) => selectorMatches(s, p.labels ?? {}))).map((p) => p.name),
    peers: peerNames,
    communities,
    localPref: optionalInteger(spec, 'localPref', 'spec', [0, 4294967295]),
    aggregationLength,
    aggregationLengthV6,
    nodeSelectors: selectorList(spec, 'nodeSelectors', 'spec'),
  };
}
