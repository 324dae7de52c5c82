// What observe reads back from Compute for one Service, reduced to the fields the diff compares.
// `owned` is false when a resource with our name exists but carries another owner's description:
// such a resource is never modified or deleted.
import type { ServiceRef } from '../provider.js';

export interface ObservedHealthCheck {
  owned: boolean;
  port?: number;
  path?: string;
  /** Seconds between probes, and failed probes before a node is unhealthy. */
  checkIntervalSec?: number;
  unhealthyThreshold?: number;
}

export interface ObservedBackendService {
  owned: boolean;
  protocol: string;
  scheme: string;
  healthCheck: string;
  /** Compute's sessionAffinity; NONE when the field is absent (Compute's default). */
  sessionAffinity: string;
  /** The instance groups it has as backends, as "zone/name". */
  groups: string[];
}

export interface ObservedForwardingRule {
  owned: boolean;
  /** The address; an IPv6 rule's /96 range is reduced to its first address, as status shows it. */
  ip: string;
  protocol: string;
  scheme: string;
  backendService: string;
  /** PREMIUM or STANDARD; internal rules are Premium. */
  networkTier: string;
  /** Internal rules: the subnetwork URL. */
  subnetwork?: string;
  allowGlobalAccess?: boolean;
  ports: string[];
  portRange?: string;
  allPorts: boolean;
}

export interface ObservedFirewall {
  owned: boolean;
  sourceRanges: string[];
  /** "tcp:80", sorted. */
  allowed: string[];
  targetTags: string[];
}

export type AddressOwner = 'thisService' | 'otherService' | 'foreign';

export interface ObservedAddress {
  name: string;
  ip: string;
  type: string;
  /** PREMIUM or STANDARD (Compute's default when absent is PREMIUM). */
  networkTier: string;
  /** Internal addresses: the subnetwork URL. */
  subnetwork?: string;
  owner: AddressOwner;
  /** Names of the forwarding rules using it. */
  users: string[];
}

export interface ObservedGroup {
  zone: string;
  owned: boolean;
  /** Instance names. */
  instances: string[];
}

/** A group made by someone else whose name has the configured prefix (see instanceGroupReuse.ts). */
export interface ExternalGroup {
  zone: string;
  name: string;
  /** Instance names. */
  instances: string[];
}

/** An operation of this Service that finished with an error, reported once. */
export interface OperationFailure {
  action: string;
  field: string;
  status: number;
  message: string;
}

export interface GcpObserved {
  ref: ServiceRef;
  name: string;
  /** Operations of this Service still running (descriptions). */
  pendingOperations: string[];
  /** Zones whose shared instance group has an operation running. */
  groupZonesBusy: string[];
  /** The provider's shared-group generation when this was read (bumped by every group operation). */
  groupGeneration: number;
  failures: OperationFailure[];
  /** True when the Service's own resources come from the last read, not a new one. */
  fromCache?: boolean;
  /** When this Service's own resources were read afresh (absent for a cached or skipped read). */
  readAt?: number;
  healthCheck?: ObservedHealthCheck;
  backendService?: ObservedBackendService;
  forwardingRule?: ObservedForwardingRule;
  firewall?: ObservedFirewall;
  healthCheckFirewall?: ObservedFirewall;
  /** True when the dual-stack twins (`-ipv6`) below were read; they are read only for Services that want or had them. */
  ipv6Read?: boolean;
  forwardingRuleV6?: ObservedForwardingRule;
  firewallV6?: ObservedFirewall;
  healthCheckFirewallV6?: ObservedFirewall;
  /** Every address of the region: our own one, and any static address loadBalancerIP may name. */
  addresses: ObservedAddress[];
  /** True when `addresses` (apart from our own, always read) comes from the shared cached list. */
  addressListCached?: boolean;
  /** The cluster's shared instance groups, by zone. */
  groups: ObservedGroup[];
  /** Others' groups that may be reused as backends (only with externalInstanceGroupsPrefix). */
  externalGroups: ExternalGroup[];
}

