// MetalLB's resources (metallb.io) as this provider reads them: the kinds, where they are served,
// and the raw object shape the watcher hands to the pure builder. No client here.
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

/** Where a problem is: the object and the field, for a Warning Event on that object. */
export interface ObjectProblem {
  kind: MetallbKindName;
  namespace: string;
  name: string;
  uid?: string;
  field: string;
  message: string;
}
