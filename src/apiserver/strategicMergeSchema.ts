// Patch strategies of the list fields strategic merge patch must know, per storage, taken from the
// Kubernetes API types' patchStrategy/patchMergeKey tags. Lists not named here are atomic (replaced).

import { ownValue } from './ownProperties.js';

export type ListStrategy = { kind: 'mergeByKey'; key: string } | { kind: 'mergePrimitives' };

const metadata: Record<string, ListStrategy> = {
  'metadata.finalizers': { kind: 'mergePrimitives' },
  'metadata.ownerReferences': { kind: 'mergeByKey', key: 'uid' },
};

const perStorage: Record<string, Record<string, ListStrategy>> = {
  services: {
    'spec.ports': { kind: 'mergeByKey', key: 'port' },
    'status.conditions': { kind: 'mergeByKey', key: 'type' },
  },
  nodes: {
    'spec.podCIDRs': { kind: 'mergePrimitives' },
    'status.addresses': { kind: 'mergeByKey', key: 'type' },
    'status.conditions': { kind: 'mergeByKey', key: 'type' },
  },
  namespaces: {
    'status.conditions': { kind: 'mergeByKey', key: 'type' },
  },
};

export function listStrategy(storage: string, path: string): ListStrategy | undefined {
  return ownValue(metadata, path) ?? ownValue(ownValue(perStorage, storage), path);
}
