// Fields tagged `omitempty` in the Kubernetes API types disappear when they are empty: a real server
// never returns `finalizers: []` or `labels: {}`. Applied to every object before it is stored.
import type { KubeObject } from './objectStore.js';

const metadataFields = ['labels', 'annotations', 'finalizers', 'ownerReferences', 'managedFields'];

const perStorage: Record<string, string[][]> = {
  services: [
    ['spec', 'ports'], ['spec', 'selector'], ['spec', 'externalIPs'], ['spec', 'loadBalancerSourceRanges'], ['spec', 'clusterIPs'],
    ['spec', 'ipFamilies'], ['status', 'loadBalancer', 'ingress'], ['status', 'conditions'],
  ],
  nodes: [['spec', 'podCIDRs'], ['spec', 'taints'], ['status', 'addresses'], ['status', 'conditions']],
  namespaces: [['spec', 'finalizers'], ['status', 'conditions']],
  configmaps: [['data'], ['binaryData']],
  secrets: [['data'], ['stringData']],
};

function isEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  return v !== null && typeof v === 'object' && Object.keys(v).length === 0;
}

function dropAt(obj: Record<string, unknown>, path: readonly string[]): void {
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return;
    cur = (cur as Record<string, unknown>)[k];
  }
  if (cur === null || typeof cur !== 'object') return;
  const last = path[path.length - 1]!;
  if (Object.hasOwn(cur, last) && isEmpty((cur as Record<string, unknown>)[last])) delete (cur as Record<string, unknown>)[last];
}

/** Remove empty omitempty lists and maps in place. */
export function omitEmptyFields(storage: string, obj: KubeObject): void {
  for (const f of metadataFields) dropAt(obj.metadata as Record<string, unknown>, [f]);
  for (const path of Object.hasOwn(perStorage, storage) ? perStorage[storage]! : []) dropAt(obj, path);
}
