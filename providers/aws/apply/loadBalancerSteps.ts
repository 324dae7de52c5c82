// Executors of the load balancer steps: create (adopting our own after a crash), attributes,
// subnets, tags, and the replacement of an NLB whose placement cannot change in place.
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { AddTagsCommand, CreateLoadBalancerCommand, ModifyLoadBalancerAttributesCommand, SetIpAddressTypeCommand, SetSecurityGroupsCommand, SetSubnetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { ServiceConfigError } from '../../provider.js';
import { isCode, rootError } from '../awsApi.js';
import type { AwsStep } from '../awsTypes.js';
import { deleteStack, StillReleasingError } from '../deleteStack.js';
import { describeElbTags, describeLoadBalancersByName } from '../observe.js';
import { AwsOwnershipConflictError } from '../planActions.js';
import { loadBalancerQuotaMessage } from '../quotas.js';
import { AWS_ANNOTATIONS } from '../annotations.js';
import { ADDRESSES_TAG, ATTRIBUTES_TAG, clusterOwns, PLACEMENT_TAG, SERVICE_UID_TAG, toTagList } from '../tags.js';
import { ELB_BATCH, inBatches } from '../batches.js';
import type { ApplyRun } from './applyRun.js';
import { reestablishBackend } from './securityGroupSteps.js';

type Step<Op extends AwsStep['op']> = Extract<AwsStep, { op: Op }>;


export async function announceReplacement(run: ApplyRun, step: Step<'announceReplacement'>): Promise<void> {
  const { actions } = run.plan;
  const retireAt = actions.findIndex((a) => a.step.op === 'retireStack');
  const first = retireAt >= 0 && retireAt < actions.findIndex((a) => a.step.op === 'createLoadBalancer');
  run.deps.emit({
    ref: run.d.ref,
    type: 'Normal',
    reason: 'EnsuringLoadBalancer',
    message: first
      ? `replacing NLB ${step.from.join(', ')} with ${run.d.lbName}: its subnets or scheme changed and cannot be modified in place; the old one goes first because it holds an address the new one needs (a short outage, longer while AWS releases its network interfaces)`
      : `replacing NLB ${step.from.join(', ')} with ${run.d.lbName}: its addresses or subnets changed and cannot be modified in place; the old one is deleted once the new one is active`,
  });
}

/** Why AWS refused a CreateLoadBalancer, as the error the reconcile should see. */
function createRefusal(run: ApplyRun, error: unknown): unknown {
  const { d } = run;
  const root = rootError(error);
  if (isCode(root, 'TooManyLoadBalancersException', 'TooManyLoadBalancers')) {
    run.deps.networkChanged();
    return new ServiceConfigError('spec.type', loadBalancerQuotaMessage(undefined, run.deps.quotas));
  }
  if (!isCode(root, 'ResourceInUseException', 'ResourceInUse') || d.heldAddresses.length === 0) return error;
  // Our replaced NLB's interfaces still hold the address: wait for AWS to release them.
  if (run.plan.retiring.some((s) => s.holds.some((a) => d.heldAddresses.includes(a)))) {
    return new StillReleasingError(`${d.heldAddresses.join(', ')} (held by the replaced NLB's network interfaces)`);
  }
  return new ServiceConfigError(d.addressField ?? 'spec.loadBalancerIP', `AWS says ${d.heldAddresses.join(', ')} is in use by another resource: ${(root as Error).message}`);
}

export async function createLoadBalancer(run: ApplyRun): Promise<void> {
  const { d } = run;
  await reestablishBackend(run);
  if (!run.nlbNameIsNew && (await adoptLoadBalancer(run))) return;
  const tags: Record<string, string> = { ...d.tags, ...run.heldTag, [PLACEMENT_TAG]: d.placement };
  if (d.addresses.length > 0) tags[ADDRESSES_TAG] = d.addresses.join(' ');
  const res = await run.api
    .elb('CreateLoadBalancer', true, (c) =>
      c.send(
        new CreateLoadBalancerCommand({
          Name: d.lbName,
          Type: 'network',
          Scheme: d.scheme,
          IpAddressType: d.ipAddressType,
          ...(d.ipv6SourceNat ? { EnablePrefixForIpv6SourceNat: d.ipv6SourceNat } : {}),
          SubnetMappings: d.subnetMappings,
          SecurityGroups: securityGroupsOf(run),
          Tags: toTagList(tags),
        }),
      ),
    )
    .catch(async (error: unknown) => {
      // A same-named NLB with other settings: adopt ours, refuse another's.
      if (isCode(rootError(error), 'DuplicateLoadBalancerName', 'DuplicateLoadBalancerNameException') && (await adoptLoadBalancer(run))) return undefined;
      throw createRefusal(run, error);
    });
  if (!res) return;
  const created = res.LoadBalancers![0]!;
  // AWS answers a create with an existing NLB's name and settings with that NLB: one made now carries the anchor made now.
  if (run.nlbNameIsNew && !created.SecurityGroups?.includes(run.needSg())) {
    if (await adoptLoadBalancer(run)) return;
    throw new Error(`CreateLoadBalancer answered ${created.LoadBalancerArn} without security group ${run.needSg()}, and no NLB named ${d.lbName} is found`);
  }
  run.lb = { arn: created.LoadBalancerArn!, dnsName: created.DNSName ?? '', state: created.State?.Code ?? 'provisioning' };
  run.written.loadBalancer = created;
}

/** An existing NLB with the name: ours is adopted (a crashed run made it), another's is a conflict. */
async function adoptLoadBalancer(run: ApplyRun): Promise<boolean> {
  const { d } = run;
  const [existing] = await describeLoadBalancersByName(run.api, [d.lbName]);
  if (!existing?.LoadBalancerArn) return false;
  const tags = (await describeElbTags(run.api, [existing.LoadBalancerArn])).get(existing.LoadBalancerArn) ?? {};
  if (!clusterOwns(tags, run.clusterName) || tags[SERVICE_UID_TAG] !== run.uid) {
    throw new AwsOwnershipConflictError(`a load balancer named ${d.lbName} exists without the tag kubernetes.io/cluster/${run.clusterName}=owned; it is left alone`);
  }
  run.lb = { arn: existing.LoadBalancerArn, dnsName: existing.DNSName ?? '', state: existing.State?.Code ?? 'provisioning' };
  return true;
}

export async function enableCrossZone(run: ApplyRun): Promise<void> {
  await run.api.elb('ModifyLoadBalancerAttributes', true, (c) =>
    c.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: run.needLb(), Attributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }] })),
  );
}

export async function modifyLoadBalancerAttributes(run: ApplyRun, step: Step<'modifyLoadBalancerAttributes'>): Promise<void> {
  const arn = run.needLb();
  const Attributes = Object.entries(step.attributes).map(([Key, Value]) => ({ Key, Value }));
  try {
    await run.api.elb('ModifyLoadBalancerAttributes', true, (c) => c.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: arn, Attributes })));
  } catch (error) {
    // An unknown key or a bad value is the user's to fix.
    if (!isCode(error, 'ValidationError', 'InvalidConfigurationRequest', 'InvalidConfigurationRequestException')) throw error;
    const deprecated = Attributes.some((a) => a.Key.startsWith('access_logs.') || a.Key === 'load_balancing.cross_zone.enabled')
      ? ` (access_logs.* and load_balancing.cross_zone.enabled may also come from ${AWS_ANNOTATIONS.accessLogEnabled}, ${AWS_ANNOTATIONS.accessLogBucket}, ${AWS_ANNOTATIONS.accessLogPrefix} or ${AWS_ANNOTATIONS.crossZone})`
      : '';
    throw new ServiceConfigError(AWS_ANNOTATIONS.attributes, `AWS refused ${Attributes.map((a) => `${a.Key}=${a.Value}`).join(', ')}: ${(error as Error).message}${deprecated}`);
  }
  if (step.tag) await run.api.elb('AddTags', true, (c) => c.send(new AddTagsCommand({ ResourceArns: [arn], Tags: [{ Key: ATTRIBUTES_TAG, Value: 'managed' }] })));
}

/** What goes on the NLB: the managed group (or the user's) and the backend group when its rules are managed. */
function securityGroupsOf(run: ApplyRun): string[] {
  const own = run.d.ownSecurityGroups ?? [run.needSg()];
  return run.d.backendAttached ? [...own, run.needBackend()] : own;
}

export async function setSecurityGroups(run: ApplyRun, step: Step<'setSecurityGroups'>): Promise<void> {
  await run.api.elb('SetSecurityGroups', true, (c) => c.send(new SetSecurityGroupsCommand({ LoadBalancerArn: step.arn, SecurityGroups: step.groupIds })));
}

/** ip-address-type changed: in place (SetIpAddressType keeps the NLB, its DNS name and its IPv4 addresses). */
export async function setIpAddressType(run: ApplyRun, step: Step<'setIpAddressType'>): Promise<void> {
  try {
    await run.api.elb('SetIpAddressType', true, (c) => c.send(new SetIpAddressTypeCommand({ LoadBalancerArn: step.arn, IpAddressType: step.ipAddressType })));
  } catch (error) {
    // A subnet without an IPv6 block (the network view is cached) is the user's to fix.
    if (!isCode(error, 'InvalidSubnet', 'InvalidSubnetException', 'InvalidConfigurationRequest', 'InvalidConfigurationRequestException', 'ValidationError')) throw error;
    run.deps.networkChanged();
    throw new ServiceConfigError(AWS_ANNOTATIONS.ipAddressType, `AWS refused ${step.ipAddressType} on ${run.d.lbName}: ${(error as Error).message}`);
  }
  run.deps.emit({ ref: run.d.ref, type: 'Normal', reason: 'UpdatedLoadBalancer', message: `NLB ${run.d.lbName} is now ${step.ipAddressType}` });
}

export async function setSubnets(run: ApplyRun, step: Step<'setSubnets'>): Promise<void> {
  await run.api.elb('SetSubnets', true, (c) => c.send(new SetSubnetsCommand({ LoadBalancerArn: step.arn, Subnets: step.subnetIds })));
  run.deps.emit({ ref: run.d.ref, type: 'Normal', reason: 'UpdatedLoadBalancer', message: `NLB ${run.d.lbName} now serves from subnets ${step.subnetIds.join(', ')}` });
}

/** enable-prefix-for-ipv6-source-nat changed on an existing dualstack NLB: SetSubnets keeps its subnets and sets it. */
export async function setIpv6SourceNat(run: ApplyRun, step: Step<'setIpv6SourceNat'>): Promise<void> {
  try {
    await run.api.elb('SetSubnets', true, (c) => c.send(new SetSubnetsCommand({ LoadBalancerArn: step.arn, Subnets: step.subnetIds, EnablePrefixForIpv6SourceNat: step.enable })));
  } catch (error) {
    if (!isCode(error, 'InvalidConfigurationRequest', 'InvalidConfigurationRequestException', 'ValidationError', 'InvalidSubnet', 'InvalidSubnetException')) throw error;
    throw new ServiceConfigError(AWS_ANNOTATIONS.ipv6SourceNat, `AWS refused to turn IPv6 source NAT prefixes ${step.enable} on ${run.d.lbName}: ${(error as Error).message}`);
  }
  run.deps.emit({ ref: run.d.ref, type: 'Normal', reason: 'UpdatedLoadBalancer', message: `NLB ${run.d.lbName}: IPv6 source NAT prefixes ${step.enable}` });
}

export async function tagResources(run: ApplyRun, step: Step<'tagResources'>): Promise<void> {
  for (const arns of inBatches(step.elbArns, ELB_BATCH)) {
    await run.api.elb('AddTags', true, (c) => c.send(new AddTagsCommand({ ResourceArns: arns, Tags: toTagList(step.tags) })));
  }
  if (step.securityGroupId) {
    const id = step.securityGroupId;
    await run.api.ec2('CreateTags', true, (c) => c.send(new CreateTagsCommand({ Resources: [id], Tags: toTagList(step.tags) })));
  }
}

export async function retireStack(run: ApplyRun, step: Step<'retireStack'>): Promise<void> {
  try {
    await deleteStack(run.api, run.clusterName, run.uid, step.stack);
  } catch (error) {
    // The old NLB is gone but its interfaces are not yet: go on to the create, which waits on the address.
    if (!(error instanceof StillReleasingError) || !step.first) throw error;
    run.stillReleasing.add(step.stack.lbName);
    return;
  }
  run.deps.emit({ ref: run.d.ref, type: 'Normal', reason: 'UpdatedLoadBalancer', message: `deleted replaced NLB ${step.stack.lbName}` });
}
