// Pure: the status.conditions GKE's L4 controllers (kubernetes/ingress-gce, pkg/l4) write on a
// Service they serve: one per GCE resource made for it, status True, reason GCEResourceAllocated,
// the resource's name as the message. Users and tools read the resource names from them.
import type { ProviderConditions, ServiceCondition } from '../provider.js';
import { healthCheckFirewallName, ipv6Twin, serviceFirewallName } from './names.js';

const T = 'ServiceLoadBalancer';
const RULE_TYPE = { TCP: `${T}TCPForwardingRule`, UDP: `${T}UDPForwardingRule`, L3_DEFAULT: `${T}L3ForwardingRule` } as const;
const RULE_TYPE_V6 = { TCP: `${T}TCPIPv6ForwardingRule`, UDP: `${T}UDPIPv6ForwardingRule`, L3_DEFAULT: `${T}L3IPv6ForwardingRule` } as const;
const BACKEND_SERVICE = `${T}BackendService`;
const HEALTH_CHECK = `${T}HealthCheck`;
const FIREWALL = `${T}FirewallRule`;
const FIREWALL_V6 = `${T}IPv6FirewallRule`;
const HC_FIREWALL = `${T}FirewallRuleForHealthCheck`;
const HC_FIREWALL_V6 = `${T}FirewallRuleForHealthCheckIPv6`;

/** Every type this provider writes: those no longer true (a protocol change, back to single-stack) are removed. */
export const GKE_CONDITION_TYPES: readonly string[] = [
  BACKEND_SERVICE,
  HEALTH_CHECK,
  FIREWALL,
  FIREWALL_V6,
  HC_FIREWALL,
  HC_FIREWALL_V6,
  ...Object.values(RULE_TYPE),
  ...Object.values(RULE_TYPE_V6),
];

const allocated = (type: string, resource: string): ServiceCondition => ({ type, status: 'True', reason: 'GCEResourceAllocated', message: resource });

/** The conditions of a load balancer that serves: `name` is its a<uid> name. */
export function gkeConditions(name: string, ruleProtocol: keyof typeof RULE_TYPE, dualStack: boolean): ProviderConditions {
  const current = [
    allocated(BACKEND_SERVICE, name),
    allocated(HEALTH_CHECK, name),
    allocated(RULE_TYPE[ruleProtocol], name),
    allocated(FIREWALL, serviceFirewallName(name)),
    allocated(HC_FIREWALL, healthCheckFirewallName(name)),
  ];
  if (dualStack)
    current.push(
      allocated(RULE_TYPE_V6[ruleProtocol], ipv6Twin(name)),
      allocated(FIREWALL_V6, ipv6Twin(serviceFirewallName(name))),
      allocated(HC_FIREWALL_V6, ipv6Twin(healthCheckFirewallName(name))),
    );
  return { types: GKE_CONDITION_TYPES, current };
}
