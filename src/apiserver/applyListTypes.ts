// How server-side apply merges each list, from the API types' listType/listMapKeys markers
// (`+listType=map` with its keys, `+listType=set`, otherwise atomic), and for custom resources from
// the schema's x-kubernetes-list-type / x-kubernetes-list-map-keys. Lists not named are atomic.
import type { SchemaNode } from './customResourceVersion.js';
import { ownValue } from './ownProperties.js';

export type ApplyListType = { kind: 'map'; keys: string[] } | { kind: 'set' } | { kind: 'atomic' };

const metadata: Record<string, ApplyListType> = {
  'metadata.finalizers': { kind: 'set' },
  'metadata.ownerReferences': { kind: 'map', keys: ['uid'] },
};

const builtin: Record<string, Record<string, ApplyListType>> = {
  services: {
    'spec.ports': { kind: 'map', keys: ['port', 'protocol'] },
    'status.conditions': { kind: 'map', keys: ['type'] },
  },
  nodes: {
    'spec.podCIDRs': { kind: 'set' },
    'status.addresses': { kind: 'map', keys: ['type'] },
    'status.conditions': { kind: 'map', keys: ['type'] },
  },
  namespaces: { 'status.conditions': { kind: 'map', keys: ['type'] }, 'spec.finalizers': { kind: 'set' } },
  customresourcedefinitions: {
    'spec.versions': { kind: 'map', keys: ['name'] },
    'status.conditions': { kind: 'map', keys: ['type'] },
  },
};

/** The schema node at a dotted path; lists are looked through to their items. */
function schemaAt(schema: SchemaNode | undefined, path: string): SchemaNode | undefined {
  let node = schema;
  for (const part of path.split('.')) {
    if (node?.type === 'array') node = node.items;
    if (!node) return undefined;
    const props = node.properties;
    node = props && Object.hasOwn(props, part) ? props[part] : typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
  }
  return node;
}

/** `path` is dotted without indices (`spec.ports`, `spec.ports.ipFamilies` for nested lists). */
export function applyListType(storage: string, schema: SchemaNode | undefined, path: string): ApplyListType {
  const known = ownValue(metadata, path) ?? ownValue(ownValue(builtin, storage), path);
  if (known) return known;
  const node = schema ? schemaAt(schema, path) : undefined;
  if (node?.['x-kubernetes-list-type'] === 'set') return { kind: 'set' };
  if (node?.['x-kubernetes-list-type'] === 'map' && Array.isArray(node['x-kubernetes-list-map-keys'])) return { kind: 'map', keys: node['x-kubernetes-list-map-keys'] };
  return { kind: 'atomic' };
}

/** Defaults of list-map keys a client may leave out (the server defaults them before merging). */
export function defaultedKeys(path: string): Record<string, unknown> {
  return path === 'spec.ports' ? { protocol: 'TCP' } : {};
}
