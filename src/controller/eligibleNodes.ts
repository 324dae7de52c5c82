// Node eligibility, as the upstream service controller decides it. Pure.
import type { V1Node } from '@kubernetes/client-node';
import type { NodeTarget } from '../../providers/provider.js';

export const EXCLUDE_FROM_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';
export const AUTOSCALER_DELETION_TAINT = 'ToBeDeletedByClusterAutoscaler';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

// Go's strconv.ParseBool spellings of false: upstream parses the label's value with it.
const GO_BOOL_FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/**
 * Whether the exclude label takes a node out of load balancers. As upstream since March 2025: the
 * label excludes unless its value parses as a boolean false, so `""`, `true` and `foo` exclude and
 * `false` (or `0`, `False`) keeps the node. One predicate for the controller and the speaker.
 */
export function excludedByLabel(labels: Readonly<Record<string, string>> | undefined): boolean {
  const value = labels?.[EXCLUDE_FROM_LB_LABEL];
  return value !== undefined && !GO_BOOL_FALSE.has(value);
}

export interface EligibilityOptions {
  /** The provider addresses nodes by spec.providerID (clouds); nodes without one are skipped. */
  needsProviderID: boolean;
}

export type IneligibleReason = 'excludeLabel' | 'autoscalerTaint' | 'beingDeleted' | 'noProviderID';

/** Why a node is not a load-balancer target, or undefined when it is one. */
export function ineligibility(node: V1Node, options: EligibilityOptions): IneligibleReason | undefined {
  if (excludedByLabel(node.metadata?.labels)) return 'excludeLabel';
  if ((node.spec?.taints ?? []).some((t) => t.key === AUTOSCALER_DELETION_TAINT)) return 'autoscalerTaint';
  if (node.metadata?.deletionTimestamp) return 'beingDeleted';
  if (options.needsProviderID && !node.spec?.providerID) return 'noProviderID';
  return undefined;
}

export function eligibleNodes(nodes: readonly V1Node[], options: EligibilityOptions): V1Node[] {
  return nodes.filter((n) => ineligibility(n, options) === undefined);
}

export function nodeTarget(node: V1Node): NodeTarget {
  const addresses = node.status?.addresses ?? [];
  const target: NodeTarget = {
    name: node.metadata?.name ?? '',
    internalIPs: addresses.filter((a) => a.type === 'InternalIP').map((a) => a.address),
    externalIPs: addresses.filter((a) => a.type === 'ExternalIP').map((a) => a.address),
    labels: { ...(node.metadata?.labels ?? {}) },
  };
  if (node.spec?.providerID) target.providerID = node.spec.providerID;
  const zone = node.metadata?.labels?.[ZONE_LABEL];
  if (zone) target.zone = zone;
  return target;
}

/** Eligible nodes as provider targets, sorted by name (the order DesiredLoadBalancer promises). */
export function eligibleTargets(nodes: readonly V1Node[], options: EligibilityOptions): NodeTarget[] {
  return eligibleNodes(nodes, options)
    .map(nodeTarget)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

