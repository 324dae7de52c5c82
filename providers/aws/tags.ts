// The tags that mark what this cluster owns. Ownership is always decided by the cluster tag with
// value "owned" (never by a resource's name) so a foreign resource with a matching name is left alone.
export const SERVICE_NAME_TAG = 'kubernetes.io/service-name';
export const SERVICE_UID_TAG = 'kube-lb-provisioner.io/service-uid';
/** On the managed security group: the name of the load balancer it belongs to (our anchor). */
export const LOAD_BALANCER_NAME_TAG = 'kube-lb-provisioner.io/load-balancer-name';
/** On the security group and the load balancer: what placement (scheme, subnets, IPs) was asked for. */
export const PLACEMENT_TAG = 'kube-lb-provisioner.io/placement';
/** On the load balancer: the addresses its Elastic IPs carry, for status when AWS does not report them. */
export const ADDRESSES_TAG = 'kube-lb-provisioner.io/addresses';
/**
 * On the security group and the load balancer: every address the NLB asks for (Elastic IPs' public
 * addresses and private IPv4s). An address stays on the NLB's network interfaces until they are
 * released, a while after the NLB is deleted; the anchor outlives the NLB, so a replacement that
 * needs one of these addresses knows to wait for it.
 */
export const HELD_ADDRESSES_TAG = 'kube-lb-provisioner.io/held-addresses';
/** On the load balancer: its attributes are managed (aws-load-balancer-attributes), so observe reads them. */
export const ATTRIBUTES_TAG = 'kube-lb-provisioner.io/attributes';
/** On the load balancer: its listeners' attributes are managed (listener-attributes.*), so observe reads them. */
export const LISTENER_ATTRIBUTES_TAG = 'kube-lb-provisioner.io/listener-attributes';
/** On target groups: "<port>/<protocol>" of the Service port. */
export const SERVICE_PORT_TAG = 'kube-lb-provisioner.io/service-port';

/** Marks the cluster's shared backend security group ("backend") and the node rules it needs ("node-access"). */
export const ROLE_TAG = 'kube-lb-provisioner.io/role';

export function clusterTagKey(clusterName: string): string {
  return `kubernetes.io/cluster/${clusterName}`;
}

export interface Tag {
  Key: string;
  Value: string;
}

export function tagMap(tags: readonly { Key?: string | undefined; Value?: string | undefined }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

export function toTagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Key, Value]) => ({ Key, Value }));
}

/** Carries kubernetes.io/cluster/<cluster>=owned (anything else of ours is never touched). */
export function clusterOwns(tags: Record<string, string>, clusterName: string): boolean {
  return tags[clusterTagKey(clusterName)] === 'owned';
}
