// Deterministic resource names, so a restarted controller finds what a crashed one created.
// Load balancer and target group names are limited to 32 characters [a-zA-Z0-9-] by AWS.
import { createHash } from 'node:crypto';

function digest(parts: readonly string[], length: number): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, length);
}

/** k8s-<28 hex> (32 chars): one name per cluster, Service uid and placement (a new placement is a new NLB). */
export function loadBalancerName(clusterName: string, uid: string, placementKey: string): string {
  return `k8s-${digest([clusterName, uid, placementKey], 28)}`;
}

/**
 * k8s-<20 hex>-<port><t|u|b|s>[i|v] (at most 32 chars): per load balancer, Service port, protocol,
 * target type and address family. A group's target type and IP address type cannot change, so ip
 * targets are another group (suffix i), and IPv6 ip targets another again (suffix v; IPv6 target
 * groups take ip targets only).
 */
export function targetGroupName(lbName: string, port: number, protocol: TargetGroupProtocol, targetType: 'instance' | 'ip' = 'instance', family: 'ipv4' | 'ipv6' = 'ipv4'): string {
  const letter = protocol === 'TCP' ? 't' : protocol === 'UDP' ? 'u' : protocol === 'TLS' ? 's' : 'b';
  const suffix = targetType === 'ip' ? (family === 'ipv6' ? 'v' : 'i') : '';
  return `k8s-${digest([lbName], 20)}-${port}${letter}${suffix}`;
}

/** The cluster's shared backend security group. */
export function backendSecurityGroupName(clusterName: string): string {
  return `k8s-backend-${digest([clusterName], 16)}`;
}

/** TLS: to the targets too (aws-load-balancer-backend-protocol: ssl). */
export type TargetGroupProtocol = 'TCP' | 'UDP' | 'TCP_UDP' | 'TLS';
export const TARGET_GROUP_PROTOCOLS: readonly TargetGroupProtocol[] = ['TCP', 'UDP', 'TCP_UDP', 'TLS'];
