// Resource names and ownership marks (pure). Names follow the upstream GCE cloud provider:
// 'a' + the Service UID without dashes, truncated to 32 characters; descriptions carry JSON
// naming the Service and the cluster, which is how ownership is decided before any change.
import { createHash } from 'node:crypto';
import type { ServiceRef } from '../provider.js';

export function loadBalancerName(uid: string): string {
  return `a${uid.replace(/-/g, '')}`.slice(0, 32).toLowerCase();
}

/** GKE names a dual-stack Service's IPv6 forwarding rule and firewalls after the IPv4 ones, with this suffix. */
export function ipv6Twin(name: string): string {
  return `${name}-ipv6`;
}

export function serviceFirewallName(lbName: string): string {
  return `k8s-fw-${lbName}`;
}

export function healthCheckFirewallName(lbName: string): string {
  return `k8s-${lbName}-http-hc`;
}

/** One unmanaged instance group per zone, shared by every Service of the cluster. */
export function instanceGroupName(clusterName: string): string {
  return `k8s-ig--${createHash('sha256').update(clusterName).digest('hex').slice(0, 16)}`;
}

export const SERVICE_NAME_KEY = 'kubernetes.io/service-name';
export const CLUSTER_KEY = 'kubernetes.io/cluster';
export const SERVICE_UID_KEY = 'kube-lb-provisioner.io/service-uid';

export function serviceDescription(ref: ServiceRef, clusterName: string): string {
  return JSON.stringify({ [SERVICE_NAME_KEY]: `${ref.namespace}/${ref.name}`, [CLUSTER_KEY]: clusterName, [SERVICE_UID_KEY]: ref.uid });
}

export function clusterDescription(clusterName: string): string {
  return JSON.stringify({ [CLUSTER_KEY]: clusterName });
}

export interface Ownership {
  cluster?: string;
  service?: ServiceRef;
}

export function parseOwnership(description: string | null | undefined): Ownership {
  if (!description) return {};
  try {
    const parsed = JSON.parse(description) as Record<string, unknown>;
    if (typeof parsed !== 'object' || parsed === null) return {};
    const cluster = typeof parsed[CLUSTER_KEY] === 'string' ? parsed[CLUSTER_KEY] : undefined;
    const svc = parsed[SERVICE_NAME_KEY];
    const uid = parsed[SERVICE_UID_KEY];
    const out: Ownership = {};
    if (cluster !== undefined) out.cluster = cluster;
    if (typeof svc === 'string' && svc.includes('/')) {
      const [namespace, name] = svc.split('/', 2) as [string, string];
      out.service = { namespace, name, uid: typeof uid === 'string' ? uid : '' };
    }
    return out;
  } catch {
    return {};
  }
}

/** Its ownership description names this cluster and, when `uid` is given, that Service. */
export function ownershipMatches(description: string | null | undefined, clusterName: string, uid?: string): boolean {
  const o = parseOwnership(description);
  if (o.cluster !== clusterName) return false;
  return uid === undefined || o.service?.uid === uid;
}

/** gce://<project>/<zone>/<name> -> its parts, or undefined for anything else. */
export function parseProviderID(providerID: string | undefined): { project: string; zone: string; instance: string } | undefined {
  const m = /^gce:\/\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(providerID ?? '');
  return m ? { project: m[1]!, zone: m[2]!, instance: m[3]! } : undefined;
}

/** The resource name at the end of a (partial or full) Compute URL. */
export function lastSegment(url: string | null | undefined): string {
  return (url ?? '').split('/').pop() ?? '';
}
