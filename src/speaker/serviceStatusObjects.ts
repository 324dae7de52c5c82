// MetalLB's per-node status objects, as its speaker writes them (metallb.io/v1beta1): a
// ServiceL2Status for each Service this node announces in layer2 mode (status.node,
// status.interfaces) and a ServiceBGPStatus for each Service it advertises over BGP (status.node,
// status.peers: the BGPPeers configured to get it), both with status.serviceName and
// status.serviceNamespace, in the speakers' namespace, named "l2-…"/"bgp-…" by the API server,
// labelled with the node and the Service. A node's speaker writes only its own node's objects:
// an object is ours when both its node label and its status.node name this node. Like MetalLB's,
// they are owned by the speaker's Pod, so the garbage collector removes them with it (a node
// deleted, a speaker uninstalled); a new Pod adopts what an older one wrote. Pure.

export const STATUS_GROUP = 'metallb.io';
export const STATUS_VERSION = 'v1beta1';
export const LABEL_NODE = 'metallb.io/node';
export const LABEL_SERVICE_NAME = 'metallb.io/service-name';
export const LABEL_SERVICE_NAMESPACE = 'metallb.io/service-namespace';

export type StatusKind = 'ServiceL2Status' | 'ServiceBGPStatus';

export const STATUS_KINDS: Record<StatusKind, { plural: string; generateName: string }> = {
  ServiceL2Status: { plural: 'servicel2statuses', generateName: 'l2-' },
  ServiceBGPStatus: { plural: 'servicebgpstatuses', generateName: 'bgp-' },
};

export interface StatusBody {
  node: string;
  serviceName: string;
  serviceNamespace: string;
  interfaces?: { name: string }[];
  peers?: string[];
}

/** An object as listed from the API server (only the fields we read). */
export interface StatusObject {
  metadata?: { name?: string; labels?: Record<string, string>; ownerReferences?: OwnerReference[] };
  status?: Partial<StatusBody>;
}

/** The speaker's Pod, owner of the objects it writes. */
export interface OwnerReference {
  apiVersion: 'v1';
  kind: 'Pod';
  name: string;
  uid: string;
}

export interface StatusChanges {
  /** New objects: labels and the status to write once created. */
  create: { labels: Record<string, string>; status: StatusBody }[];
  /** Existing objects of ours whose status differs. */
  update: { name: string; status: StatusBody }[];
  /** Existing objects of ours not yet owned by this speaker's Pod (written by an older one). */
  adopt: string[];
  /** Objects of ours for Services we no longer announce (or duplicates). */
  remove: string[];
}

/** The node label value MetalLB uses: the node name. */
export function statusLabels(node: string, serviceKey: string): Record<string, string> {
  const [namespace, name] = splitKey(serviceKey);
  return { [LABEL_NODE]: node, [LABEL_SERVICE_NAME]: name, [LABEL_SERVICE_NAMESPACE]: namespace };
}

function splitKey(serviceKey: string): [string, string] {
  const slash = serviceKey.indexOf('/');
  return [serviceKey.slice(0, slash), serviceKey.slice(slash + 1)];
}

/** ServiceL2Status bodies: Service key -> the interfaces its addresses are on, on this node. */
export function l2StatusBodies(node: string, interfacesByService: ReadonlyMap<string, readonly string[]>): Map<string, StatusBody> {
  return bodies(node, interfacesByService, (list) => ({ interfaces: [...new Set(list)].sort().map((name) => ({ name })) }));
}

/** ServiceBGPStatus bodies: Service key -> the BGPPeers configured to receive its prefixes from this node. */
export function bgpStatusBodies(node: string, peersByService: ReadonlyMap<string, readonly string[]>): Map<string, StatusBody> {
  return bodies(node, peersByService, (list) => ({ peers: [...new Set(list)].sort() }));
}

function bodies(node: string, byService: ReadonlyMap<string, readonly string[]>, rest: (list: readonly string[]) => Partial<StatusBody>): Map<string, StatusBody> {
  const out = new Map<string, StatusBody>();
  for (const [key, list] of byService) {
    const [serviceNamespace, serviceName] = splitKey(key);
    out.set(key, { node, serviceName, serviceNamespace, ...rest(list) });
  }
  return out;
}

/** Whether an object is this node's: its node label and its status both name the node. */
export function isOwnStatus(node: string, object: StatusObject): boolean {
  return object.metadata?.labels?.[LABEL_NODE] === node && (object.status?.node === undefined || object.status.node === node);
}

function sameBody(a: Partial<StatusBody> | undefined, b: StatusBody): boolean {
  return JSON.stringify(normalize(a ?? {})) === JSON.stringify(normalize(b));
}

function normalize(s: Partial<StatusBody>): Partial<StatusBody> {
  const out: Partial<StatusBody> = { node: s.node, serviceName: s.serviceName, serviceNamespace: s.serviceNamespace };
  if (s.interfaces?.length) out.interfaces = s.interfaces;
  if (s.peers?.length) out.peers = s.peers;
  return out;
}

/**
 * What to write so that this node's objects of one kind say `wanted` (Service key -> body).
 * Objects that are not this node's are never in the answer, whatever they say.
 */
export function statusChanges(node: string, wanted: ReadonlyMap<string, StatusBody>, existing: readonly StatusObject[], owner?: OwnerReference): StatusChanges {
  const changes: StatusChanges = { create: [], update: [], adopt: [], remove: [] };
  const seen = new Set<string>();
  for (const object of existing) {
    const name = object.metadata?.name;
    if (!name || !isOwnStatus(node, object)) continue;
    const labels = object.metadata?.labels ?? {};
    const key = `${labels[LABEL_SERVICE_NAMESPACE] ?? ''}/${labels[LABEL_SERVICE_NAME] ?? ''}`;
    const body = wanted.get(key);
    // Gone, or a second object for a Service already covered (a create that raced a restart).
    if (!body || seen.has(key)) {
      changes.remove.push(name);
      continue;
    }
    seen.add(key);
    if (!sameBody(object.status, body)) changes.update.push({ name, status: body });
    if (owner && !(object.metadata?.ownerReferences ?? []).some((r) => r.uid === owner.uid)) changes.adopt.push(name);
  }
  for (const [key, status] of wanted) if (!seen.has(key)) changes.create.push({ labels: statusLabels(node, key), status });
  return changes;
}
