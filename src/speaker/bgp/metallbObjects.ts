// The MetalLB resources the BGP mode is configured by (metallb.io/v1beta1, BGPPeer v1beta2), as
// plain objects: what a CRD reader lists from the API server, or what the interim --bgp-config
// file holds. Only the fields this project uses are typed; the rest passes through unread.
import type { LabelSelector } from './labelSelector.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

export interface MetalObject<Kind extends string, Spec> {
  apiVersion?: string;
  kind: Kind;
  metadata?: ObjectMeta;
  spec?: Spec;
}

export interface BGPPeerSpec {
  myASN?: number;
  peerASN?: number;
  dynamicASN?: string;
  peerAddress?: string;
  peerPort?: number;
  sourceAddress?: string;
  routerID?: string;
  /** Kubernetes durations ("90s", "1m30s"). */
  holdTime?: string;
  keepaliveTime?: string;
  nodeSelectors?: LabelSelector[];
  password?: string;
  passwordSecret?: { name?: string; namespace?: string };
  bfdProfile?: string;
  ebgpMultiHop?: boolean;
  enableGracefulRestart?: boolean;
}

export interface BGPAdvertisementSpec {
  ipAddressPools?: string[];
  ipAddressPoolSelectors?: LabelSelector[];
  aggregationLength?: number;
  aggregationLengthV6?: number;
  localPref?: number;
  communities?: string[];
  peers?: string[];
  nodeSelectors?: LabelSelector[];
}

export interface BFDProfileSpec {
  receiveInterval?: number;
  transmitInterval?: number;
  detectMultiplier?: number;
  echoMode?: boolean;
  passiveMode?: boolean;
  minimumTtl?: number;
}

export interface CommunitySpec {
  communities?: { name?: string; value?: string }[];
}

export interface IPAddressPoolSpec {
  addresses?: string[];
}

/** A Secret of type kubernetes.io/basic-auth, for BGPPeer.passwordSecret. */
export interface SecretObject {
  kind: 'Secret';
  metadata?: ObjectMeta;
  type?: string;
  /** base64, as the API serves it */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export type BGPPeerObject = MetalObject<'BGPPeer', BGPPeerSpec>;
export type BGPAdvertisementObject = MetalObject<'BGPAdvertisement', BGPAdvertisementSpec>;
export type BFDProfileObject = MetalObject<'BFDProfile', BFDProfileSpec>;
export type CommunityObject = MetalObject<'Community', CommunitySpec>;
export type IPAddressPoolObject = MetalObject<'IPAddressPool', IPAddressPoolSpec>;

/** Everything the BGP configuration is built from, grouped by kind. */
export interface MetalBgpObjects {
  peers: BGPPeerObject[];
  advertisements: BGPAdvertisementObject[];
  bfdProfiles: BFDProfileObject[];
  communities: CommunityObject[];
  pools: IPAddressPoolObject[];
  secrets: SecretObject[];
}

/** Sorts a flat list of objects (a multi-document YAML, a List) by kind; unknown kinds are ignored. */
export function groupByKind(objects: readonly unknown[]): MetalBgpObjects {
  const out: MetalBgpObjects = { peers: [], advertisements: [], bfdProfiles: [], communities: [], pools: [], secrets: [] };
  for (const o of objects) {
    if (typeof o !== 'object' || o === null) continue;
    const kind = (o as { kind?: unknown }).kind;
    if (kind === 'BGPPeer') out.peers.push(o as BGPPeerObject);
    else if (kind === 'BGPAdvertisement') out.advertisements.push(o as BGPAdvertisementObject);
    else if (kind === 'BFDProfile') out.bfdProfiles.push(o as BFDProfileObject);
    else if (kind === 'Community') out.communities.push(o as CommunityObject);
    else if (kind === 'IPAddressPool') out.pools.push(o as IPAddressPoolObject);
    else if (kind === 'Secret') out.secrets.push(o as SecretObject);
  }
  return out;
}
