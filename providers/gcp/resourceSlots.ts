// Pure: which of a Service's own resources (observed.ts) a step changes. After this Service's
// operations finish, observe re-reads only those and keeps the rest of its last read, which no
// step of ours has touched since (observeCacheMs bounds how old that read may be).
import { healthCheckFirewallName, ipv6Twin, serviceFirewallName } from './names.js';
import type { Step } from './planActions.js';

export type ResourceSlot =
  | 'healthCheck'
  | 'backendService'
  | 'forwardingRule'
  | 'firewall'
  | 'healthCheckFirewall'
  | 'address'
  | 'forwardingRuleV6'
  | 'firewallV6'
  | 'healthCheckFirewallV6';

export function slotsOf(step: Step, name: string): ResourceSlot[] {
  switch (step.op) {
    case 'insertAddress':
    case 'deleteAddress':
      return ['address'];
    case 'insertHealthCheck':
    case 'updateHealthCheck':
      return ['healthCheck'];
    case 'insertBackendService':
    case 'updateBackendService':
    case 'deleteBackendService':
      return ['backendService'];
    case 'insertFirewall':
    case 'updateFirewall':
    case 'deleteFirewall': {
      const fw = 'body' in step ? step.body.name : step.name;
      const slots: Record<string, ResourceSlot> = {
        [serviceFirewallName(name)]: 'firewall',
        [healthCheckFirewallName(name)]: 'healthCheckFirewall',
        [ipv6Twin(serviceFirewallName(name))]: 'firewallV6',
        [ipv6Twin(healthCheckFirewallName(name))]: 'healthCheckFirewallV6',
      };
      return slots[fw] ? [slots[fw]] : [];
    }
    case 'insertForwardingRule':
    case 'deleteForwardingRule':
    case 'patchForwardingRule': {
      const rule = step.op === 'insertForwardingRule' ? step.body.name : step.name;
      // A rule's address lists the rule among its users.
      return [rule === name ? 'forwardingRule' : 'forwardingRuleV6', 'address'];
    }
    case 'insertInstanceGroup':
    case 'addInstances':
    case 'removeInstances':
      return []; // the shared groups are read afresh on every observe
  }
}
