// The fields each kind has, for fieldValidation (Strict rejects unknown fields, Warn reports them
// in a Warning header), so a typo such as `spec.prots` gets the answer Kubernetes gives instead of
// being silently dropped. Shapes apply to every element when the value is a list.

import { ownValue } from './ownProperties.js';

export type Shape = 'any' | { [field: string]: Shape };

const any = 'any' as const;

const objectMeta: Shape = {
  name: any, generateName: any, namespace: any, selfLink: any, uid: any, resourceVersion: any, generation: any,
  creationTimestamp: any, deletionTimestamp: any, deletionGracePeriodSeconds: any, labels: any, annotations: any,
  ownerReferences: { apiVersion: any, kind: any, name: any, uid: any, controller: any, blockOwnerDeletion: any },
  finalizers: any, managedFields: any,
};

const top = (rest: Record<string, Shape>): Shape => ({ apiVersion: any, kind: any, metadata: objectMeta, ...rest });

const servicePort: Shape = { name: any, protocol: any, appProtocol: any, port: any, targetPort: any, nodePort: any };

const shapes: Record<string, Shape> = {
  services: top({
    spec: {
      ports: servicePort, selector: any, clusterIP: any, clusterIPs: any, type: any, externalIPs: any, sessionAffinity: any,
      loadBalancerIP: any, loadBalancerSourceRanges: any, externalName: any, externalTrafficPolicy: any, healthCheckNodePort: any,
      publishNotReadyAddresses: any, sessionAffinityConfig: { clientIP: { timeoutSeconds: any } }, ipFamilies: any, ipFamilyPolicy: any,
      allocateLoadBalancerNodePorts: any, loadBalancerClass: any, internalTrafficPolicy: any, trafficDistribution: any,
    },
    status: { loadBalancer: { ingress: { ip: any, hostname: any, ipMode: any, ports: { port: any, protocol: any, error: any } } }, conditions: any },
  }),
  configmaps: top({ data: any, binaryData: any, immutable: any }),
  secrets: top({ data: any, stringData: any, type: any, immutable: any }),
  customresourcedefinitions: top({ spec: any, status: any }),
  namespaces: top({ spec: { finalizers: any }, status: { phase: any, conditions: any } }),
  nodes: top({
    spec: { podCIDR: any, podCIDRs: any, providerID: any, unschedulable: any, taints: { key: any, value: any, effect: any, timeAdded: any }, configSource: any, externalID: any },
    status: any,
  }),
  leases: top({ spec: { holderIdentity: any, leaseDurationSeconds: any, acquireTime: any, renewTime: any, leaseTransitions: any, strategy: any, preferredHolder: any } }),
  endpointslices: top({ addressType: any, endpoints: any, ports: { name: any, protocol: any, port: any, appProtocol: any } }),
  'core/events': top({
    involvedObject: any, reason: any, message: any, source: any, firstTimestamp: any, lastTimestamp: any, count: any, type: any,
    eventTime: any, series: any, action: any, related: any, reportingComponent: any, reportingInstance: any,
  }),
  'events.k8s.io/events': top({
    eventTime: any, series: any, reportingController: any, reportingInstance: any, action: any, reason: any, regarding: any, related: any,
    note: any, type: any, deprecatedSource: any, deprecatedFirstTimestamp: any, deprecatedLastTimestamp: any, deprecatedCount: any,
  }),
};

function walk(value: unknown, shape: Shape, path: string, out: string[], prune: boolean): void {
  if (shape === 'any' || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, shape, `${path}[${i}]`, out, prune));
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    const child = Object.hasOwn(shape, k) ? shape[k] : undefined;
    const at = path ? `${path}.${k}` : k;
    if (child === undefined) {
      out.push(at);
      if (prune) delete obj[k];
    } else walk(v, child, at, out, prune);
  }
}

function shapeOf(group: string, storage: string): Shape | undefined {
  return ownValue(shapes, storage === 'events' ? (group === 'events.k8s.io' ? 'events.k8s.io/events' : 'core/events') : storage);
}

/** Paths of fields the kind does not have, e.g. ["spec.prots", "spec.ports[0].nmae"]. */
export function unknownFields(group: string, storage: string, obj: unknown): string[] {
  const shape = shapeOf(group, storage);
  const out: string[] = [];
  if (shape) walk(obj, shape, '', out, false);
  return out;
}

/** Remove unknown fields in place (as decoding into the Go types does); returns their paths. */
export function pruneUnknownFields(group: string, storage: string, obj: unknown): string[] {
  const shape = shapeOf(group, storage);
  const out: string[] = [];
  if (shape) walk(obj, shape, '', out, true);
  return out;
}
