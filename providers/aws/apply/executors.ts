// One small executor per step kind (as the AWS Load Balancer Controller gives each resource its
// own synthesizer). The table is total: a new step kind does not compile until it has one.
import type { AwsStep } from '../awsTypes.js';
import type { ApplyRun } from './applyRun.js';
import { createListener, deleteListener, modifyListener, modifyListenerAttributes, syncListenerCertificates } from './listenerSteps.js';
import { announceReplacement, createLoadBalancer, enableCrossZone, modifyLoadBalancerAttributes, retireStack, setIpAddressType, setIpv6SourceNat, setSecurityGroups, setSubnets, tagResources } from './loadBalancerSteps.js';
import { authorizeCidrIngress, authorizeNodeRules, createSecurityGroup, ensureBackendSecurityGroup, revokeCidrIngress } from './securityGroupSteps.js';
import {
  createTargetGroup,
  deleteOneTargetGroup,
  deleteTargetGroupsByName,
  deregisterTargets,
  modifyTargetGroup,
  modifyTargetGroupAttributes,
  registerTargets,
} from './targetGroupSteps.js';

type Executors = { [Op in AwsStep['op']]: (run: ApplyRun, step: Extract<AwsStep, { op: Op }>) => Promise<void> };

const executors: Executors = {
  announceReplacement,
  createSecurityGroup,
  authorizeIngress: authorizeCidrIngress,
  revokeIngress: revokeCidrIngress,
  createTargetGroup,
  modifyTargetGroup,
  modifyTargetGroupAttributes,
  createLoadBalancer,
  enableCrossZone,
  modifyLoadBalancerAttributes,
  createListener,
  modifyListener,
  syncListenerCertificates,
  modifyListenerAttributes,
  deleteListener,
  deleteTargetGroup: deleteOneTargetGroup,
  deleteTargetGroupsByName,
  registerTargets,
  deregisterTargets,
  ensureBackendSecurityGroup,
  tagResources,
  authorizeNodeRules,
  retireStack,
  setSubnets,
  setIpAddressType,
  setIpv6SourceNat,
  setSecurityGroups,
};

export function executeStep(run: ApplyRun, step: AwsStep): Promise<void> {
  // The table pairs each op with its own step type; TypeScript cannot follow that through an index.
  const execute = executors[step.op] as (run: ApplyRun, step: AwsStep) => Promise<void>;
  return execute(run, step);
}
