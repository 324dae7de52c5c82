// The playground's tiny stand-in for Deployments and the EndpointSlice controller: every Service
// with a selector gets one EndpointSlice of ready endpoints placed on the up nodes. How many, and
// where, the annotation below says, so scaling can be tried with kubectl:
//   playground.kube-lb-provisioner.io/endpoints: "2"               two, spread over the nodes by name
//   playground.kube-lb-provisioner.io/endpoints: "node-1,node-3"   one on each node named
// Without it, one endpoint per up node. Pure.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export const ENDPOINTS_ANNOTATION = 'playground.kube-lb-provisioner.io/endpoints';
export const MANAGED_BY = 'playground.kube-lb-provisioner.io';

/** The nodes the Service's endpoints sit on (one entry each), or an error naming the annotation. */
export function placeEndpoints(service: V1Service, upNodes: readonly string[]): string[] | { error: string } {
  const raw = service.metadata?.annotations?.[ENDPOINTS_ANNOTATION]?.trim();
  const nodes = [...upNodes].sort();
  if (raw === undefined || raw === '') return nodes;
  if (/^\d+$/.test(raw)) {
    const count = Number(raw);
    if (count > 1000) return { error: `${ENDPOINTS_ANNOTATION}: ${raw} is more than the playground's 1000 endpoints` };
    return nodes.length === 0 ? [] : Array.from({ length: count }, (_, i) => nodes[i % nodes.length] as string);
  }
  const named = raw.split(',').map((s) => s.trim());
  if (named.some((n) => !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n))) {
    return { error: `${ENDPOINTS_ANNOTATION}: "${raw}" is neither a count nor a comma-separated list of node names` };
  }
  return named.filter((n) => upNodes.includes(n));
}

/** The EndpointSlice the playground keeps for this Service, or undefined if it keeps none. */
export function simulatedSlice(service: V1Service, endpointNodes: readonly string[], nodeIndex: (node: string) => number): V1EndpointSlice | undefined {
  const spec = service.spec;
  if (!spec?.selector || Object.keys(spec.selector).length === 0 || spec.type === 'ExternalName') return undefined;
  const name = service.metadata?.name ?? '';
  const perNode = new Map<string, number>();
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${name}-playground`,
      namespace: service.metadata?.namespace ?? 'default',
      labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
    },
    addressType: 'IPv4',
    endpoints: endpointNodes.map((node) => {
      const k = (perNode.get(node) ?? 0) + 1;
      perNode.set(node, k);
      return { addresses: [`10.244.${nodeIndex(node) % 256}.${k % 256}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: node };
    }),
    ports: (spec.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      protocol: p.protocol ?? 'TCP',
      port: typeof p.targetPort === 'number' ? p.targetPort : p.port,
    })),
  };
}

/** Do two slices carry the same endpoints and ports (what the playground writes)? */
export function sameSlice(a: V1EndpointSlice, b: V1EndpointSlice): boolean {
  const essence = (s: V1EndpointSlice) =>
    JSON.stringify([
      (s.endpoints ?? []).map((e) => [e.addresses, e.nodeName, e.conditions?.ready]),
      (s.ports ?? []).map((p) => [p.name ?? '', p.protocol, p.port]),
      s.metadata?.labels?.['kubernetes.io/service-name'],
    ]);
  return essence(a) === essence(b);
}
