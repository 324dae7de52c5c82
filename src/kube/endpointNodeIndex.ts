// What the controller keeps of EndpointSlices: for each slice, the nodes with a ready endpoint, and
// nothing else. A cluster has about one slice per Service; keeping them whole (100,000 endpoints with
// addresses, conditions, target references) cost 213 MB, while the node names are all metal reads.
// The informer still caches each slice, emptied of its endpoints by `absorb` before it is stored.
// Whether a slice's view changed is decided when it is absorbed (takeChange), so no fingerprint of
// every slice is kept beside the index.
// With keepPodEndpoints (a provider targets Pod IPs: AWS ip targets), each slice's endpoints are also
// kept, as compact PodEndpoints (address, conditions, node, zone, ports), and nothing else.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import type { PodEndpoint } from '../../providers/provider.js';
import { readyEndpointNodes, SERVICE_NAME_LABEL } from '../controller/desiredLoadBalancer.js';

interface SliceEntry {
  service: string;
  nodes: readonly string[];
  endpoints?: PodEndpoint[];
}

/** The slice's endpoints as providers that target Pods read them (FQDN slices have no Pod IPs). */
export function podEndpointsOf(slice: V1EndpointSlice): PodEndpoint[] {
  if (slice.addressType === 'FQDN') return [];
  const ports: Record<string, number> = {};
  for (const p of slice.ports ?? []) if (p.port !== undefined) ports[p.name ?? ''] = p.port;
  return (slice.endpoints ?? []).flatMap((ep) =>
    ep.addresses.map((address) => ({
      address,
      ready: ep.conditions?.ready !== false,
      terminating: ep.conditions?.terminating === true,
      ...(ep.nodeName ? { nodeName: ep.nodeName } : {}),
      ...(ep.zone ? { zone: ep.zone } : {}),
      ports,
    })),
  );
}

export class EndpointNodeIndex {
  private readonly slices = new Map<string, SliceEntry>();
  /** Slice keys per Service: nearly always one, so an array (a Set each cost four times as much). */
  private readonly byService = new Map<string, string[]>();
  /** Slices whose view changed on absorb, until takeChange reports it. */
  private readonly changed = new Set<string>();
  /** Node names are few and repeated in every slice: one string each. */
  private readonly names = new Map<string, string>();
  private readonly absorbed = new WeakSet<V1EndpointSlice>();

  constructor(private readonly keepPodEndpoints = false) {}

  /**
   * Records the slice's ready nodes and empties its endpoints (the cached object keeps only its
   * name and Service label). Idempotent: a list page and the informer's handler both call it.
   */
  absorb(slice: V1EndpointSlice): void {
    if (this.absorbed.has(slice)) return;
    this.absorbed.add(slice);
    const key = sliceKey(slice);
    const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const nodes = readyEndpointNodes([slice]).map((n) => this.intern(n));
    const before = fingerprintOf(this.slices.get(key));
    this.forgetKey(key);
    if (serviceName !== undefined) {
      const service = `${slice.metadata?.namespace ?? ''}/${serviceName}`;
      this.slices.set(key, { service, nodes, ...(this.keepPodEndpoints ? { endpoints: podEndpointsOf(slice) } : {}) });
      const keys = this.byService.get(service);
      if (keys === undefined) this.byService.set(service, [key]);
      else if (!keys.includes(key)) keys.push(key);
    }
    if (fingerprintOf(this.slices.get(key)) !== before) this.changed.add(key);
    // Assigned, not deleted: a deleted property turns each of thousands of cached objects into a
    // slow dictionary several times its size.
    const metadata = slice.metadata ?? {};
    slice.metadata = { name: metadata.name, namespace: metadata.namespace, resourceVersion: metadata.resourceVersion, labels: serviceName === undefined ? {} : { [SERVICE_NAME_LABEL]: serviceName } };
    slice.endpoints = [];
    slice.ports = undefined;
    slice.apiVersion = undefined;
    slice.kind = undefined;
  }

  /** Whether the slice's view (ready nodes, Pod endpoints) changed when it was last absorbed; reported once. */
  takeChange(slice: V1EndpointSlice): boolean {
    return this.changed.delete(sliceKey(slice));
  }

  /** Forgets the slice; true when the index knew it (its Service's view changed). */
  forget(slice: V1EndpointSlice): boolean {
    const key = sliceKey(slice);
    this.changed.delete(key);
    const known = this.slices.has(key);
    this.forgetKey(key);
    return known;
  }

  /** The slice's ready nodes, comma-joined: changes exactly when what metal sees of it changes. */
  fingerprint(slice: V1EndpointSlice): string | undefined {
    return fingerprintOf(this.slices.get(sliceKey(slice)));
  }

  /** The Service's Pod endpoints (kept only with keepPodEndpoints). */
  podEndpointsOf(namespace: string, serviceName: string): PodEndpoint[] {
    return [...(this.byService.get(`${namespace}/${serviceName}`) ?? [])].flatMap((key) => this.slices.get(key)?.endpoints ?? []);
  }

  /** The nodes with a ready endpoint of the Service, sorted. */
  nodesOf(namespace: string, serviceName: string): string[] {
    const nodes = new Set<string>();
    for (const key of this.byService.get(`${namespace}/${serviceName}`) ?? []) {
      for (const node of this.slices.get(key)?.nodes ?? []) nodes.add(node);
    }
    return [...nodes].sort();
  }

  private forgetKey(key: string): void {
    const entry = this.slices.get(key);
    if (!entry) return;
    this.slices.delete(key);
    const keys = (this.byService.get(entry.service) ?? []).filter((k) => k !== key);
    if (keys.length === 0) this.byService.delete(entry.service);
    else this.byService.set(entry.service, keys);
  }

  private intern(name: string): string {
    const known = this.names.get(name);
    if (known !== undefined) return known;
    this.names.set(name, name);
    return name;
  }
}

function fingerprintOf(entry: SliceEntry | undefined): string | undefined {
  if (!entry) return undefined;
  return entry.endpoints ? JSON.stringify([entry.nodes, entry.endpoints]) : entry.nodes.join(',');
}

function sliceKey(slice: V1EndpointSlice): string {
  return `${slice.metadata?.namespace ?? ''}/${slice.metadata?.name ?? ''}`;
}
