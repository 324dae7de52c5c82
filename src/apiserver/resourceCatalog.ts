// The resources this API server serves, with what discovery, the store and the patch logic need to
// know about each. Core events and events.k8s.io events share one storage, as in Kubernetes.

export interface ResourceDefinition {
  group: string; // '' for core
  version: string;
  resource: string; // plural
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories?: string[];
  /** Has a /status subresource whose writes are separated from the main endpoint. */
  hasStatus: boolean;
  /** metadata.generation tracks spec changes. */
  tracksGeneration: boolean;
  /** Several resources may share one storage (events). */
  storage: string;
  /** Names follow DNS-1035 labels (services) or DNS-1123 subdomains (most others). */
  nameRule: 'dns1035Label' | 'dns1123Label' | 'dns1123Subdomain';
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const resourceCatalog: readonly ResourceDefinition[] = [
  { group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], hasStatus: true, tracksGeneration: false, storage: 'namespaces', nameRule: 'dns1123Label' },
  { group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], hasStatus: true, tracksGeneration: false, storage: 'nodes', nameRule: 'dns1123Subdomain' },
  { group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'], hasStatus: true, tracksGeneration: true, storage: 'services', nameRule: 'dns1035Label' },
  { group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], hasStatus: false, tracksGeneration: false, storage: 'configmaps', nameRule: 'dns1123Subdomain' },
  { group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'], hasStatus: false, tracksGeneration: false, storage: 'events', nameRule: 'dns1123Subdomain' },
  // No short name here: kubectl 1.32 warns that `ev` is ambiguous when both groups claim it.
  { group: 'events.k8s.io', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'events', nameRule: 'dns1123Subdomain' },
  { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'endpointslices', nameRule: 'dns1123Subdomain' },
  { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'leases', nameRule: 'dns1123Subdomain' },
];

export const resourceVerbs = allVerbs;

export function apiVersionOf(def: ResourceDefinition): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

export function findResource(group: string, version: string, resource: string): ResourceDefinition | undefined {
  return resourceCatalog.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of resourceCatalog) seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  return [...seen.values()];
}
