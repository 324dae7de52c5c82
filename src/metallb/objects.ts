// MetalLB's resources (metallb.io) as the controller and the speakers read them: the kinds, where
// they are served, and the raw object shape the watchers hand to the pure builders
// (configuration.ts). No client here.
import type { LabelSelector } from './labelSelector.js';

export interface MetallbKind {
  kind: string;
  plural: string;
  version: string;
}

export const METALLB_GROUP = 'metallb.io';

/** The kinds read, at the versions read (BGPPeer at v1beta2, MetalLB's current one). */
export const METALLB_KINDS = {
  IPAddressPool: { kind: 'IPAddressPool', plural: 'ipaddresspools', version: 'v1beta1' },
  L2Advertisement: { kind: 'L2Advertisement', plural: 'l2advertisements', version: 'v1beta1' },
  BGPPeer: { kind: 'BGPPeer', plural: 'bgppeers', version: 'v1beta2' },
  BGPAdvertisement: { kind: 'BGPAdvertisement', plural: 'bgpadvertisements', version: 'v1beta1' },
  BFDProfile: { kind: 'BFDProfile', plural: 'bfdprofiles', version: 'v1beta1' },
  Community: { kind: 'Community', plural: 'communities', version: 'v1beta1' },
} as const satisfies Record<string, MetallbKind>;

export type MetallbKindName = keyof typeof METALLB_KINDS;

/** A custom object as listed: metadata we use and an unchecked spec. */
export interface RawObject {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    resourceVersion?: string;
  };
  spec?: unknown;
  status?: unknown;
}

export type MetallbObjects = Record<MetallbKindName, RawObject[]>;

export function emptyMetallbObjects(): MetallbObjects {
  return { IPAddressPool: [], L2Advertisement: [], BGPPeer: [], BGPAdvertisement: [], BFDProfile: [], Community: [] };
}

/** A Secret, for BGPPeer.passwordSecret (MetalLB wants type kubernetes.io/basic-auth, key "password"). */
export interface SecretObject {
  metadata?: { name?: string; namespace?: string };
  type?: string;
  /** base64, as the API serves it */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** Sorts a flat list (a multi-document YAML, a List's items) by kind; other kinds are ignored. */
export function groupByKind(list: readonly unknown[]): { objects: MetallbObjects; secrets: SecretObject[] } {
  const objects = emptyMetallbObjects();
  const secrets: SecretObject[] = [];
  for (const o of list) {
    if (typeof o !== 'object' || o === null) continue;
    const kind = (o as { kind?: unknown }).kind;
    if (kind === 'Secret') secrets.push(o as SecretObject);
    else if (typeof kind === 'string' && Object.hasOwn(objects, kind)) objects[kind as MetallbKindName].push(o as RawObject);
  }
  return { objects, secrets };
}

/** Where a problem is: the object and the field, for a Warning Event on that object. */
export interface ObjectProblem {
  kind: MetallbKindName;
  namespace: string;
  name: string;
  uid?: string;
  field: string;
  message: string;
}

/** The spec fields of BGPPeer (v1beta2) this project reads; the rest passes through unread. */
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
