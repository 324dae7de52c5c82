// Annotations our own components write on Services: reports for users and for the speakers, never
// requests. They are not refused as unknown requests, and writing them does not re-run a reconcile.

/** The node announcing a metal Service's address (written by the speaker that owns it). */
export const ANNOUNCING_NODE_ANNOTATION = 'kube-lb-provisioner.io/announcing-node';
/**
 * The nodes with a ready endpoint of a metal Service with externalTrafficPolicy: Local, sorted and
 * comma-separated (written by the controller when the set changes). The speakers read this instead
 * of watching every EndpointSlice in the cluster.
 */
export const ENDPOINT_NODES_ANNOTATION = 'kube-lb-provisioner.io/endpoint-nodes';

export const WRITTEN_BY_US: ReadonlySet<string> = new Set([ANNOUNCING_NODE_ANNOTATION, ENDPOINT_NODES_ANNOTATION]);

/** The endpoint nodes a Service's annotation lists (empty when absent). */
export function endpointNodesOf(annotations: Readonly<Record<string, string>> | undefined): string[] {
  const raw = annotations?.[ENDPOINT_NODES_ANNOTATION] ?? '';
  return raw === '' ? [] : raw.split(',');
}
