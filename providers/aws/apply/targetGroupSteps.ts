// Executors of the target group steps: create (adopting our own after a crash), health check and
// attribute changes, membership, and deletes.
import {
  CreateTargetGroupCommand,
  DeregisterTargetsCommand,
  RegisterTargetsCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ServiceConfigError } from '../../provider.js';
import { targetGroupAttributesField } from '../annotations.js';
import { isCode } from '../awsApi.js';
import type { AwsStep, HealthCheckSettings } from '../awsTypes.js';
import { deleteOwnedTargetGroupsByName, deleteTargetGroup } from '../deleteStack.js';
import { describeElbTags, describeTargetGroupsByName } from '../observe.js';
import { AwsOwnershipConflictError } from '../planActions.js';
import { registerRunningTargets } from '../registerTargets.js';
import { clusterOwns, SERVICE_PORT_TAG, SERVICE_UID_TAG, toTagList } from '../tags.js';
import type { ApplyRun } from './applyRun.js';

type Step<Op extends AwsStep['op']> = Extract<AwsStep, { op: Op }>;

function healthCheckParams(hc: HealthCheckSettings) {
  return {
    HealthCheckProtocol: hc.protocol,
    HealthCheckPort: hc.port,
    HealthCheckPath: hc.protocol === 'TCP' ? undefined : (hc.path ?? '/'),
    HealthCheckIntervalSeconds: hc.intervalSeconds,
    HealthCheckTimeoutSeconds: hc.timeoutSeconds,
    HealthyThresholdCount: hc.healthyThreshold,
    UnhealthyThresholdCount: hc.unhealthyThreshold,
    Matcher: hc.successCodes !== undefined ? { HttpCode: hc.successCodes } : undefined,
  };
}

/** An existing group with the name: ours is adopted (a crashed run made it), another's is a conflict. */
async function adoptTargetGroup(run: ApplyRun, name: string): Promise<boolean> {
  const [existing] = await describeTargetGroupsByName(run.api, [name]);
  if (!existing?.TargetGroupArn) return false;
  const tags = (await describeElbTags(run.api, [existing.TargetGroupArn])).get(existing.TargetGroupArn) ?? {};
  if (!clusterOwns(tags, run.clusterName) || tags[SERVICE_UID_TAG] !== run.uid) throw new AwsOwnershipConflictError(`target group ${name} exists without this cluster's ownership tags; it is left alone`);
  run.tgArns.set(name, existing.TargetGroupArn);
  return true;
}

export async function createTargetGroup(run: ApplyRun, { group: g }: Step<'createTargetGroup'>): Promise<void> {
  // Looked for even when this run made the anchor: AWS answers a create of a group with the same
  // name and settings with that group, and nothing in the answer would tell another's from ours.
  if (await adoptTargetGroup(run, g.targetGroupName)) return;
  const res = await run.api.elb('CreateTargetGroup', true, (c) =>
    c.send(
      new CreateTargetGroupCommand({
        Name: g.targetGroupName,
        Protocol: g.protocol,
        Port: g.targetGroupPort,
        VpcId: run.d.vpcId,
        TargetType: g.targetType,
        IpAddressType: g.ipAddressType,
        ...healthCheckParams(g.healthCheck),
        Tags: toTagList({ ...run.d.tags, [SERVICE_PORT_TAG]: `${g.port}/${g.protocol}` }),
      }),
    ),
  );
  const created = res.TargetGroups![0]!;
  run.tgArns.set(g.targetGroupName, created.TargetGroupArn!);
  run.written.groups.set(g.targetGroupName, created);
}

export async function modifyTargetGroup(run: ApplyRun, step: Step<'modifyTargetGroup'>): Promise<void> {
  await run.api.elb('ModifyTargetGroup', true, (c) => c.send(new ModifyTargetGroupCommand({ TargetGroupArn: step.arn, ...healthCheckParams(step.healthCheck) })));
}

export async function modifyTargetGroupAttributes(run: ApplyRun, step: Step<'modifyTargetGroupAttributes'>): Promise<void> {
  const arn = await run.targetGroupArn(step.targetGroupName);
  const Attributes = Object.entries(step.attributes).map(([Key, Value]) => ({ Key, Value }));
  try {
    await run.api.elb('ModifyTargetGroupAttributes', true, (c) => c.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes })));
  } catch (error) {
    // An unknown key or a value out of range is the user's to fix, not something to retry fast.
    if (!isCode(error, 'ValidationError', 'InvalidConfigurationRequest', 'InvalidConfigurationRequestException')) throw error;
    const pairs = Object.entries(step.attributes).map(([k, v]) => `${k}=${v}`).join(', ');
    throw new ServiceConfigError(targetGroupAttributesField(Object.keys(step.attributes)), `AWS refused target group attributes ${pairs}: ${(error as Error).message}`);
  }
}

export async function registerTargets(run: ApplyRun, step: Step<'registerTargets'>): Promise<void> {
  if (step.targetType === 'ip') {
    const arn = await run.targetGroupArn(step.targetGroupName);
    await run.api.elb('RegisterTargets', true, (c) => c.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: step.targets.map((t) => ({ Id: t.id, Port: t.port })) })));
    run.written.targets.set(step.targetGroupName, [...(run.written.targets.get(step.targetGroupName) ?? []), ...step.targets]);
    return;
  }
  const refused = await registerRunningTargets(run.api, await run.targetGroupArn(step.targetGroupName), step.targets);
  run.written.targets.set(step.targetGroupName, [...(run.written.targets.get(step.targetGroupName) ?? []), ...step.targets]);
  if (refused.length > 0) run.written.refused = true;
  for (const { target, state } of refused) {
    run.deps.emit({ ref: run.d.ref, type: 'Warning', reason: 'UnAvailableLoadBalancer', message: `instance ${target.id} is ${state}, and AWS registers running instances only: it is not a target of ${run.d.lbName} for now` });
  }
}

export async function deregisterTargets(run: ApplyRun, step: Step<'deregisterTargets'>): Promise<void> {
  const arn = await run.targetGroupArn(step.targetGroupName);
  try {
    await run.api.elb('DeregisterTargets', true, (c) => c.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: step.targets.map((t) => ({ Id: t.id, Port: t.port })) })));
  } catch (error) {
    // A terminated instance is already gone from the group.
    if (!isCode(error, 'InvalidTargetException', 'InvalidTarget')) throw error;
  }
}

export async function deleteOneTargetGroup(run: ApplyRun, step: Step<'deleteTargetGroup'>): Promise<void> {
  await deleteTargetGroup(run.api, step.arn);
}

export async function deleteTargetGroupsByName(run: ApplyRun, step: Step<'deleteTargetGroupsByName'>): Promise<void> {
  await deleteOwnedTargetGroupsByName(run.api, run.clusterName, run.uid, step.names);
}
