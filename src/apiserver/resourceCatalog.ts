// The resources this API server serves, with what discovery, the store and the patch logic need to
// know about each: the built-in kinds, plus the ones CustomResourceDefinitions add while it runs.
// Core events and events.k8s.io events share one storage, as in Kubernetes; every served version of
// a custom resource shares its CRD's storage.
import type { CustomResourceVersion } from './customResourceVersion.js';

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
  /** Several resources may share one storage (events, the versions of a custom resource). */
  storage: string;
  /** Names follow DNS-1035 labels (services) or DNS-1123 subdomains (most others). */
  nameRule: 'dns1035Label' | 'dns1123Label' | 'dns1123Subdomain';
  /** Set for custom resources: schema, printer columns, the CRD it comes from. */
  custom?: CustomResourceVersion;
}

const allVerbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const builtinResources: readonly ResourceDefinition[] = [
  { group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], hasStatus: true, tracksGeneration: false, storage: 'namespaces', nameRule: 'dns1123Label' },
  { group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], hasStatus: true, tracksGeneration: false, storage: 'nodes', nameRule: 'dns1123Subdomain' },
  { group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ['all'], hasStatus: true, tracksGeneration: true, storage: 'services', nameRule: 'dns1035Label' },
  { group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'], hasStatus: false, tracksGeneration: false, storage: 'configmaps', nameRule: 'dns1123Subdomain' },
  { group: '', version: 'v1', resource: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'secrets', nameRule: 'dns1123Subdomain' },
  { group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'], hasStatus: false, tracksGeneration: false, storage: 'events', nameRule: 'dns1123Subdomain' },
  // No short name here: kubectl 1.32 warns that `ev` is ambiguous when both groups claim it.
  { group: 'events.k8s.io', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'events', nameRule: 'dns1123Subdomain' },
  { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'endpointslices', nameRule: 'dns1123Subdomain' },
  { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', singular: 'lease', kind: 'Lease', namespaced: true, shortNames: [], hasStatus: false, tracksGeneration: false, storage: 'leases', nameRule: 'dns1123Subdomain' },
  { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions', singular: 'customresourcedefinition', kind: 'CustomResourceDefinition', namespaced: false, shortNames: ['crd', 'crds'], categories: ['api-extensions'], hasStatus: true, tracksGeneration: true, storage: 'customresourcedefinitions', nameRule: 'dns1123Subdomain' },
];

export const resourceVerbs = allVerbs;

export function apiVersionOf(def: Pick<ResourceDefinition, 'group' | 'version'>): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

/** Kubernetes' version order: GA before beta before alpha, higher numbers first, others last by name. */
export function compareVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    return [m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  const ra = rank(a);
  const rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
  return ra[3] < rb[3] ? -1 : ra[3] > rb[3] ? 1 : 0;
}

/** The served set: built-ins and the custom resources of established CRDs, replaced as CRDs change. */
export class ResourceCatalog {
  private custom: ResourceDefinition[] = [];
  private everything: readonly ResourceDefinition[] = builtinResources;

  all(): readonly ResourceDefinition[] {
    return this.everything;
  }

  /** Replace the custom resources of one CRD (an empty list when it is gone). */
  setCustom(crdName: string, defs: ResourceDefinition[]): void {
    this.custom = [...this.custom.filter((d) => d.custom?.crdName !== crdName), ...defs];
    this.everything = [...builtinResources, ...this.custom];
  }

  customOf(crdName: string): ResourceDefinition[] {
    return this.custom.filter((d) => d.custom?.crdName === crdName);
  }

  find(group: string, version: string, resource: string): ResourceDefinition | undefined {
    return this.everything.find((r) => r.group === group && r.version === version && r.resource === resource);
  }

  byResource(resource: string): ResourceDefinition | undefined {
    return this.everything.find((r) => r.resource === resource);
  }

  /** Group versions, each group's versions in Kubernetes' preference order (the first is preferred). */
  groupVersions(): { group: string; version: string }[] {
    const byGroup = new Map<string, Set<string>>();
    for (const r of this.everything) {
      let versions = byGroup.get(r.group);
      if (!versions) byGroup.set(r.group, (versions = new Set()));
      versions.add(r.version);
    }
    return [...byGroup].flatMap(([group, versions]) => [...versions].sort(compareVersions).map((version) => ({ group, version })));
  }
}
