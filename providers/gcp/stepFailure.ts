// Pure: what a step that Compute refused means for the Service. Some refusals only say the plan
// was made from a stale view (look again); some are the user's to fix (a config error naming the
// field); the rest are cloud errors the queue retries.
import { ServiceConfigError } from '../provider.js';
import { httpStatusOf, isAlreadyExists, isNotFound, isResourceNotReady, isStaleFingerprint, isUserFacing, messageOf, reasonOf } from './apiErrors.js';
import type { Step } from './planActions.js';

export type StepFailure =
  /** Done already (a retry after a lost reply, an insert from before a restart): observe will see it. */
  | { kind: 'done' }
  /** Group membership someone else changed since our read: read the groups again and re-plan. */
  | { kind: 'groupsStale' }
  /** Changed by someone else since it was read (412), or busy with another operation: look again. */
  | { kind: 'lookAgain' }
  | { kind: 'config'; error: ServiceConfigError }
  | { kind: 'other'; error: unknown };

/** Which Service field a failed step is about, for the Warning Event. */
export function fieldOf(step: Step, status: number | undefined, requestedIP: boolean): string {
  if (status === 403) return 'spec';
  switch (step.op) {
    case 'insertForwardingRule':
      if (step.body.ipVersion === 'IPV6') return 'spec.ipFamilies';
      return requestedIP ? 'spec.loadBalancerIP' : 'spec';
    case 'insertAddress':
      return requestedIP ? 'spec.loadBalancerIP' : 'spec';
    case 'insertFirewall':
    case 'updateFirewall':
      return 'spec.loadBalancerSourceRanges';
    case 'insertHealthCheck':
    case 'updateHealthCheck':
      return 'spec.healthCheckNodePort';
    default:
      return 'spec.ports';
  }
}

export function classifyStepFailure(step: Step, description: string, error: unknown, requestedIP: boolean): StepFailure {
  if (isAlreadyExists(error) || (isNotFound(error) && step.op.startsWith('delete'))) return { kind: 'done' };
  const reason = reasonOf(error);
  // (Removal of a non-member has no documented reason; its message is the only sign.)
  if (reason === 'memberAlreadyExists' || /not a member/i.test(messageOf(error)) || (isAlreadyExists(error) && step.op === 'insertInstanceGroup')) return { kind: 'groupsStale' };
  if (isStaleFingerprint(error) || isResourceNotReady(error)) return 'zone' in step ? { kind: 'groupsStale' } : { kind: 'lookAgain' };
  if (reason === 'instanceInMultipleLoadBalancedIgs')
    return {
      kind: 'config',
      error: new ServiceConfigError(
        'spec',
        `GCP refused "${description}": ${messageOf(error)} A node already sits in another load-balanced instance group (a node pool's or an Ingress's); set the provider's externalInstanceGroupsPrefix to that group's name prefix so it is reused, or label the node node.kubernetes.io/exclude-from-external-load-balancers`,
      ),
    };
  if (isUserFacing(error)) return { kind: 'config', error: new ServiceConfigError(fieldOf(step, httpStatusOf(error), requestedIP), `GCP rejected "${description}": ${messageOf(error)}`) };
  return { kind: 'other', error };
}
