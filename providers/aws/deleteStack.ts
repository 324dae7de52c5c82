// Deletes one load balancer of a Service and everything hanging off it, in an order that a later
// run can always finish: the load balancer (its listeners go with it), the target groups, and last
// the security group (with its source-range rules), which is the anchor the next run finds the rest
// from. The node groups' rules belong to the cluster's shared backend group and stay.
import { DeleteSecurityGroupCommand } from '@aws-sdk/client-ec2';
import { DeleteLoadBalancerCommand, DeleteTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isCode, type AwsApi } from './awsApi.js';
import type { ObservedStack } from './awsTypes.js';
import { TARGET_GROUP_PROTOCOLS, targetGroupName } from './names.js';
import { describeElbTags, describeTargetGroupsByName } from './observe.js';
import { clusterOwns, SERVICE_UID_TAG } from './tags.js';

/** AWS needs a moment before a just-deleted NLB releases its target groups and security group. */
export class StillReleasingError extends Error {
  constructor(readonly resource: string) {
    super(`${resource} is still in use by a load balancer being deleted`);
    this.name = 'StillReleasingError';
  }
}

export async function deleteTargetGroup(api: AwsApi, arn: string): Promise<void> {
  try {
    await api.elb('DeleteTargetGroup', true, (c) => c.send(new DeleteTargetGroupCommand({ TargetGroupArn: arn })));
  } catch (error) {
    if (isCode(error, 'TargetGroupNotFoundException', 'TargetGroupNotFound')) return;
    if (isCode(error, 'ResourceInUseException', 'ResourceInUse')) throw new StillReleasingError(`target group ${arn}`);
    throw error;
  }
}

/** Finds target groups by name and deletes those this cluster owns for this Service. */
export async function deleteOwnedTargetGroupsByName(api: AwsApi, clusterName: string, uid: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const found = await describeTargetGroupsByName(api, names);
  if (found.length === 0) return;
  const tags = await describeElbTags(api, found.map((g) => g.TargetGroupArn!));
  for (const g of found) {
    const t = tags.get(g.TargetGroupArn!) ?? {};
    if (clusterOwns(t, clusterName) && t[SERVICE_UID_TAG] === uid) await deleteTargetGroup(api, g.TargetGroupArn!);
  }
}

export async function deleteStack(api: AwsApi, clusterName: string, uid: string, stack: ObservedStack): Promise<void> {
  const lb = stack.loadBalancer;
  if (lb?.owned) {
    try {
      await api.elb('DeleteLoadBalancer', true, (c) => c.send(new DeleteLoadBalancerCommand({ LoadBalancerArn: lb.arn })));
    } catch (error) {
      if (!isCode(error, 'LoadBalancerNotFoundException', 'LoadBalancerNotFound')) throw error;
    }
  }
  for (const g of stack.targetGroups) if (g.owned) await deleteTargetGroup(api, g.arn);
  // Target groups the load balancer no longer shows (an interrupted create or delete): every port
  // the security group still opens may have one, so look them up by their deterministic names.
  const attached = new Set(stack.targetGroups.map((g) => g.name));
  const ports = [...new Set(stack.securityGroup.ingress.filter((r) => r.protocol !== 'icmp').map((r) => r.port))];
  const complete = lb !== undefined && ports.every((p) => stack.targetGroups.some((g) => g.port !== undefined && stack.listeners.some((l) => l.port === p && l.targetGroupArn === g.arn)));
  if (!complete) {
    const names = ports.flatMap((p) => TARGET_GROUP_PROTOCOLS.map((proto) => targetGroupName(stack.lbName, p, proto))).filter((n) => !attached.has(n));
    await deleteOwnedTargetGroupsByName(api, clusterName, uid, names);
  }
  try {
    await api.ec2('DeleteSecurityGroup', true, (c) => c.send(new DeleteSecurityGroupCommand({ GroupId: stack.securityGroup.id })));
  } catch (error) {
    if (isCode(error, 'InvalidGroup.NotFound')) return;
    if (isCode(error, 'DependencyViolation')) throw new StillReleasingError(`security group ${stack.securityGroup.id}`);
    throw error;
  }
}
