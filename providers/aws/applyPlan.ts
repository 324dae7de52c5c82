// Carries out an AwsPlan step by step. Every step is safe to repeat after a crash at any point:
// creates look for an owned resource with the deterministic name first (AWS would otherwise hand
// back a foreign one with the same name), deletes treat "not found" as done.
import { CreateSecurityGroupCommand, CreateTagsCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  AddTagsCommand,
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DeleteListenerCommand,
  DeregisterTargetsCommand,
  DescribeListenersCommand,
  ModifyListenerCommand,
  ModifyLoadBalancerAttributesCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
  SetSubnetsCommand,
  type Action,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { ServiceConfigError, type ApplyResult, type ProviderEvent } from '../provider.js';
import { targetGroupAttributesField } from './annotations.js';
import { isCode, rootError, type AwsApi } from './awsApi.js';
import type { AwsPlan, DesiredPortGroup, HealthCheckSettings } from './awsTypes.js';
import { deleteOwnedTargetGroupsByName, deleteStack, deleteTargetGroup, StillReleasingError } from './deleteStack.js';
import { describeElbTags, describeLoadBalancersByName, describeTargetGroupsByName } from './observe.js';
import { AwsOwnershipConflictError, ingressFor } from './planActions.js';
import { securityGroupText } from './awsText.js';
import { loadBalancerQuotaMessage, type AwsQuotas } from './quotas.js';
import { registerRunningTargets } from './registerTargets.js';
import { backendSecurityGroupName } from './names.js';
import { authorizeIngress, cidrPermissions, revokeIngress } from './securityGroupRules.js';
import { ADDRESSES_TAG, clusterTagKey, HELD_ADDRESSES_TAG, isOwned, LOAD_BALANCER_NAME_TAG, PLACEMENT_TAG, ROLE_TAG, SERVICE_PORT_TAG, SERVICE_UID_TAG, tagMap, toTagList } from './tags.js';

/** On every node rule this provider adds (with the cluster and role tags). */
export const NODE_RULE_DESCRIPTION = 'kube-lb-provisioner: NodePorts from the NLBs';

export interface ApplyDeps {
  api: AwsApi;
  clusterName: string;
  provisioningRetryMs: number;
  emit(event: ProviderEvent): void;
  /** Test hook: called before each step; throwing simulates a crash at that point. */
  beforeStep?(index: number, kind: string): void;
  /** The cached environment is stale (the backend group or node rules changed). */
  environmentChanged(): void;
  quotas: AwsQuotas;
}

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

function forward(arn: string): Action[] {
  return [{ Type: 'forward', TargetGroupArn: arn }];
}

export async function applyPlan(plan: AwsPlan, deps: ApplyDeps): Promise<ApplyResult> {
  const { api, clusterName } = deps;
  const d = plan.desired;
  const uid = d.ref.uid;
  let sgId = plan.current?.securityGroup.id;
  let lb = plan.current?.loadBalancer ? { arn: plan.current.loadBalancer.arn, dnsName: plan.current.loadBalancer.dnsName, state: plan.current.loadBalancer.state } : undefined;
  const tgArns = new Map((plan.current?.targetGroups ?? []).map((g) => [g.name, g.arn]));
  let backendId = plan.env.backend?.id;

  // Said when something changes (a create, a membership change), not on every steady resync.
  const changing = plan.actions.some((a) => a.mutating);
  for (const node of changing ? d.skippedNodes : []) {
    deps.emit({ ref: d.ref, type: 'Warning', reason: 'UnAvailableLoadBalancer', message: `node ${node.name} is not a target: ${node.reason}` });
  }

  const heldTag: Record<string, string> = d.heldAddresses.length > 0 ? { [HELD_ADDRESSES_TAG]: d.heldAddresses.join(' ') } : {};
  // Replaced NLBs that hold addresses the new one needs, deleted but with their interfaces (and so
  // their anchor security group) not yet released.
  const stillReleasing = new Set<string>();

  const needSg = () => {
    if (!sgId) throw new Error(`security group of ${d.lbName} is not known yet`);
    return sgId;
  };
  const needLb = () => {
    if (!lb) throw new Error(`load balancer ${d.lbName} is not known yet`);
    return lb.arn;
  };
  const targetGroupArn = async (name: string): Promise<string> => {
    const known = tgArns.get(name);
    if (known) return known;
    const [found] = await describeTargetGroupsByName(api, [name]);
    if (!found?.TargetGroupArn) throw new Error(`target group ${name} is not known yet`);
    tgArns.set(name, found.TargetGroupArn);
    return found.TargetGroupArn;
  };

  const createSecurityGroup = async () => {
    const find = async () => {
      const res = await api.ec2('DescribeSecurityGroups', false, (c) =>
        c.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [d.lbName] }, { Name: 'vpc-id', Values: [d.vpcId] }] })),
      );
      const group = res.SecurityGroups?.[0];
      if (!group) return undefined;
      const tags = tagMap(group.Tags);
      if (!isOwned(tags, clusterName) || tags[SERVICE_UID_TAG] !== uid) throw new AwsOwnershipConflictError(`security group ${d.lbName} (${group.GroupId}) exists without this cluster's ownership tags; it is left alone`);
      return group.GroupId;
    };
    try {
      const res = await api.ec2('CreateSecurityGroup', true, (c) =>
        c.send(
          new CreateSecurityGroupCommand({
            GroupName: d.lbName,
            Description: securityGroupText(`kube-lb-provisioner: NLB of ${d.ref.namespace}/${d.ref.name}`),
            VpcId: d.vpcId,
            TagSpecifications: [{ ResourceType: 'security-group', Tags: toTagList({ ...d.tags, ...heldTag, Name: d.lbName, [LOAD_BALANCER_NAME_TAG]: d.lbName, [PLACEMENT_TAG]: d.placement }) }],
          }),
        ),
      );
      sgId = res.GroupId;
    } catch (error) {
      if (!isCode(error, 'InvalidGroup.Duplicate')) throw error;
      sgId = await find();
    }
  };

  const ensureBackend = async () => {
    const name = backendSecurityGroupName(clusterName);
    const find = async () => {
      const res = await api.ec2('DescribeSecurityGroups', false, (c) =>
        c.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }, { Name: 'vpc-id', Values: [d.vpcId] }] })),
      );
      const group = res.SecurityGroups?.[0];
      if (!group?.GroupId) return undefined;
      const tags = tagMap(group.Tags);
      if (!isOwned(tags, clusterName) || tags[ROLE_TAG] !== 'backend') throw new AwsOwnershipConflictError(`security group ${name} (${group.GroupId}) exists without this cluster's ownership tags; it is left alone`);
      return group.GroupId;
    };
    backendId = await find();
    if (backendId) return;
    try {
      const res = await api.ec2('CreateSecurityGroup', true, (c) =>
        c.send(
          new CreateSecurityGroupCommand({
            GroupName: name,
            // No apostrophe: CreateSecurityGroup refuses it (see awsText.ts).
            Description: securityGroupText(`kube-lb-provisioner: shared backend group of the NLBs of cluster ${clusterName}`),
            VpcId: d.vpcId,
            TagSpecifications: [{ ResourceType: 'security-group', Tags: toTagList({ [clusterTagKey(clusterName)]: 'owned', [ROLE_TAG]: 'backend', Name: name }) }],
          }),
        ),
      );
      backendId = res.GroupId;
    } catch (error) {
      // Another worker created it a moment ago.
      if (!isCode(error, 'InvalidGroup.Duplicate')) throw error;
      backendId = await find();
    }
    deps.environmentChanged();
  };
  // The garbage collection deletes the backend group once no load balancer is left; a plan made
  // against an older view would attach a deleted group. So a new NLB looks for it (one read) and, if
  // it had to be made again, opens the node groups from the new one.
  const reestablishBackend = async () => {
    if (plan.actions.some((a) => a.step.op === 'ensureBackendSecurityGroup')) return;
    await ensureBackend();
    if (backendId === plan.env.backend?.id) return;
    for (const groupId of d.nodeSecurityGroupIds) await authorizeNodeRules(groupId, d.nodeAccess);
  };
  const authorizeNodeRules = async (groupId: string, rules: { protocol: 'tcp' | 'udp'; fromPort: number; toPort: number }[]) => {
    const source = needBackend();
    await authorizeIngress(
      api,
      groupId,
      rules.map((r) => ({ IpProtocol: r.protocol, FromPort: r.fromPort, ToPort: r.toPort, UserIdGroupPairs: [{ GroupId: source, Description: NODE_RULE_DESCRIPTION }] })),
      [{ ResourceType: 'security-group-rule', Tags: toTagList({ [clusterTagKey(clusterName)]: 'owned', [ROLE_TAG]: 'node-access' }) }],
    );
    deps.environmentChanged();
  };
  const needBackend = () => {
    if (!backendId) throw new Error(`the cluster's backend security group is not known yet`);
    return backendId;
  };

  const createTargetGroup = async (g: DesiredPortGroup) => {
    const [existing] = await describeTargetGroupsByName(api, [g.targetGroupName]);
    if (existing?.TargetGroupArn) {
      const tags = (await describeElbTags(api, [existing.TargetGroupArn])).get(existing.TargetGroupArn) ?? {};
      if (!isOwned(tags, clusterName) || tags[SERVICE_UID_TAG] !== uid) throw new AwsOwnershipConflictError(`target group ${g.targetGroupName} exists without this cluster's ownership tags; it is left alone`);
      tgArns.set(g.targetGroupName, existing.TargetGroupArn);
      return;
    }
    const res = await api.elb('CreateTargetGroup', true, (c) =>
      c.send(
        new CreateTargetGroupCommand({
          Name: g.targetGroupName,
          Protocol: g.protocol,
          Port: g.nodePort,
          VpcId: d.vpcId,
          TargetType: 'instance',
          ...healthCheckParams(g.healthCheck),
          Tags: toTagList({ ...d.tags, [SERVICE_PORT_TAG]: `${g.port}/${g.protocol}` }),
        }),
      ),
    );
    tgArns.set(g.targetGroupName, res.TargetGroups![0]!.TargetGroupArn!);
  };

  const createLoadBalancer = async () => {
    const [existing] = await describeLoadBalancersByName(api, [d.lbName]);
    if (existing?.LoadBalancerArn) {
      const tags = (await describeElbTags(api, [existing.LoadBalancerArn])).get(existing.LoadBalancerArn) ?? {};
      if (!isOwned(tags, clusterName) || tags[SERVICE_UID_TAG] !== uid) {
        throw new AwsOwnershipConflictError(`a load balancer named ${d.lbName} exists without the tag kubernetes.io/cluster/${clusterName}=owned; it is left alone`);
      }
      lb = { arn: existing.LoadBalancerArn, dnsName: existing.DNSName ?? '', state: existing.State?.Code ?? 'provisioning' };
      return;
    }
    const tags: Record<string, string> = { ...d.tags, ...heldTag, [PLACEMENT_TAG]: d.placement };
    if (d.addresses.length > 0) tags[ADDRESSES_TAG] = d.addresses.join(' ');
    const res = await api.elb('CreateLoadBalancer', true, (c) =>
      c.send(
        new CreateLoadBalancerCommand({
          Name: d.lbName,
          Type: 'network',
          Scheme: d.scheme,
          IpAddressType: 'ipv4',
          SubnetMappings: d.subnetMappings,
          SecurityGroups: [needSg(), needBackend()],
          Tags: toTagList(tags),
        }),
      ),
    ).catch((error: unknown) => {
      if (isCode(rootError(error), 'TooManyLoadBalancersException', 'TooManyLoadBalancers')) {
        deps.environmentChanged();
        throw new ServiceConfigError('spec.type', loadBalancerQuotaMessage(undefined, deps.quotas));
      }
      if (!isCode(rootError(error), 'ResourceInUseException', 'ResourceInUse') || d.heldAddresses.length === 0) throw error;
      // Our replaced NLB's interfaces still hold the address: wait for AWS to release them.
      if (plan.retiring.some((s) => s.holds.some((a) => d.heldAddresses.includes(a)))) {
        throw new StillReleasingError(`${d.heldAddresses.join(', ')} (held by the replaced NLB's network interfaces)`);
      }
      throw new ServiceConfigError(d.addressField ?? 'spec.loadBalancerIP', `AWS says ${d.heldAddresses.join(', ')} is in use by another resource: ${(rootError(error) as Error).message}`);
    });
    const created = res.LoadBalancers![0]!;
    lb = { arn: created.LoadBalancerArn!, dnsName: created.DNSName ?? '', state: created.State?.Code ?? 'provisioning' };
  };

  const createListener = async (g: DesiredPortGroup) => {
    const tgArn = await targetGroupArn(g.targetGroupName);
    try {
      await api.elb('CreateListener', true, (c) =>
        c.send(new CreateListenerCommand({ LoadBalancerArn: needLb(), Protocol: g.protocol, Port: g.port, DefaultActions: forward(tgArn), Tags: toTagList(d.tags) })),
      );
    } catch (error) {
      if (!isCode(error, 'DuplicateListenerException', 'DuplicateListener')) throw error;
      // A crashed run created it (with other settings): point it where it belongs.
      const res = await api.elb('DescribeListeners', false, (c) => c.send(new DescribeListenersCommand({ LoadBalancerArn: needLb() })));
      const listener = res.Listeners?.find((l) => l.Port === g.port);
      if (!listener?.ListenerArn) throw error;
      await api.elb('ModifyListener', true, (c) => c.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, Protocol: g.protocol, Port: g.port, DefaultActions: forward(tgArn) })));
    }
  };

  let index = 0;
  try {
    for (const action of plan.actions) {
      deps.beforeStep?.(index++, action.kind);
      const step = action.step;
      switch (step.op) {
        case 'announceReplacement': {
          const retireAt = plan.actions.findIndex((a) => a.step.op === 'retireStack');
          const first = retireAt >= 0 && retireAt < plan.actions.findIndex((a) => a.step.op === 'createLoadBalancer');
          deps.emit({
            ref: d.ref,
            type: 'Normal',
            reason: 'EnsuringLoadBalancer',
            message: first
              ? `replacing NLB ${step.from.join(', ')} with ${d.lbName}: its subnets or scheme changed and cannot be modified in place; the old one goes first because it holds an address the new one needs (a short outage, longer while AWS releases its network interfaces)`
              : `replacing NLB ${step.from.join(', ')} with ${d.lbName}: its addresses or subnets changed and cannot be modified in place; the old one is deleted once the new one is active`,
          });
          break;
        }
        case 'createSecurityGroup':
          await createSecurityGroup();
          break;
        case 'authorizeIngress':
          await authorizeIngress(api, needSg(), cidrPermissions(step.rules));
          break;
        case 'revokeIngress':
          await revokeIngress(api, needSg(), cidrPermissions(step.rules));
          break;
        case 'createTargetGroup':
          await createTargetGroup(step.group);
          break;
        case 'modifyTargetGroup':
          await api.elb('ModifyTargetGroup', true, (c) => c.send(new ModifyTargetGroupCommand({ TargetGroupArn: step.arn, ...healthCheckParams(step.healthCheck) })));
          break;
        case 'modifyTargetGroupAttributes': {
          const arn = await targetGroupArn(step.targetGroupName);
          const Attributes = Object.entries(step.attributes).map(([Key, Value]) => ({ Key, Value }));
          try {
            await api.elb('ModifyTargetGroupAttributes', true, (c) => c.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: arn, Attributes })));
          } catch (error) {
            // An unknown key or a value out of range is the user's to fix, not something to retry fast.
            if (!isCode(error, 'ValidationError', 'InvalidConfigurationRequest', 'InvalidConfigurationRequestException')) throw error;
            const pairs = Object.entries(step.attributes).map(([k, v]) => `${k}=${v}`).join(', ');
            throw new ServiceConfigError(targetGroupAttributesField(Object.keys(step.attributes)), `AWS refused target group attributes ${pairs}: ${(error as Error).message}`);
          }
          break;
        }
        case 'createLoadBalancer':
          await reestablishBackend();
          await createLoadBalancer();
          break;
        case 'enableCrossZone':
          await api.elb('ModifyLoadBalancerAttributes', true, (c) =>
            c.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: needLb(), Attributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'true' }] })),
          );
          break;
        case 'createListener':
          await createListener(step.group);
          break;
        case 'modifyListener': {
          const tgArn = await targetGroupArn(step.group.targetGroupName);
          await api.elb('ModifyListener', true, (c) =>
            c.send(new ModifyListenerCommand({ ListenerArn: step.arn, Protocol: step.group.protocol, Port: step.group.port, DefaultActions: forward(tgArn) })),
          );
          break;
        }
        case 'deleteListener':
          try {
            await api.elb('DeleteListener', true, (c) => c.send(new DeleteListenerCommand({ ListenerArn: step.arn })));
          } catch (error) {
            if (!isCode(error, 'ListenerNotFoundException', 'ListenerNotFound')) throw error;
          }
          break;
        case 'deleteTargetGroup':
          await deleteTargetGroup(api, step.arn);
          break;
        case 'deleteTargetGroupsByName':
          await deleteOwnedTargetGroupsByName(api, clusterName, uid, step.names);
          break;
        case 'registerTargets': {
          const refused = await registerRunningTargets(api, await targetGroupArn(step.targetGroupName), step.targets);
          for (const { target, state } of refused) {
            deps.emit({ ref: d.ref, type: 'Warning', reason: 'UnAvailableLoadBalancer', message: `instance ${target.id} is ${state}, and AWS registers running instances only: it is not a target of ${d.lbName} for now` });
          }
          break;
        }
        case 'deregisterTargets': {
          const arn = await targetGroupArn(step.targetGroupName);
          try {
            await api.elb('DeregisterTargets', true, (c) => c.send(new DeregisterTargetsCommand({ TargetGroupArn: arn, Targets: step.targets.map((t) => ({ Id: t.id, Port: t.port })) })));
          } catch (error) {
            // A terminated instance is already gone from the group.
            if (!isCode(error, 'InvalidTargetException', 'InvalidTarget')) throw error;
          }
          break;
        }
        case 'tagResources':
          for (let i = 0; i < step.elbArns.length; i += 20) {
            const arns = step.elbArns.slice(i, i + 20);
            await api.elb('AddTags', true, (c) => c.send(new AddTagsCommand({ ResourceArns: arns, Tags: toTagList(step.tags) })));
          }
          if (step.securityGroupId) {
            const id = step.securityGroupId;
            await api.ec2('CreateTags', true, (c) => c.send(new CreateTagsCommand({ Resources: [id], Tags: toTagList(step.tags) })));
          }
          break;
        case 'ensureBackendSecurityGroup':
          await ensureBackend();
          break;
        case 'authorizeNodeRules':
          await authorizeNodeRules(step.groupId, step.rules);
          break;
        case 'setSubnets':
          await api.elb('SetSubnets', true, (c) => c.send(new SetSubnetsCommand({ LoadBalancerArn: step.arn, Subnets: step.subnetIds })));
          deps.emit({ ref: d.ref, type: 'Normal', reason: 'UpdatedLoadBalancer', message: `NLB ${d.lbName} now serves from subnets ${step.subnetIds.join(', ')}` });
          break;
        case 'retireStack':
          try {
            await deleteStack(api, clusterName, uid, step.stack);
          } catch (error) {
            // The old NLB is gone but its interfaces are not yet: go on to the create, which waits on the address.
            if (!(error instanceof StillReleasingError) || !step.first) throw error;
            stillReleasing.add(step.stack.lbName);
            break;
          }
          deps.emit({ ref: d.ref, type: 'Normal', reason: 'UpdatedLoadBalancer', message: `deleted replaced NLB ${step.stack.lbName}` });
          break;
      }
    }
  } catch (error) {
    if (error instanceof StillReleasingError) return { state: 'inProgress', retryAfterMs: deps.provisioningRetryMs, reason: error.message };
    throw error;
  }

  if (!lb || lb.state === 'provisioning') {
    return { state: 'inProgress', retryAfterMs: deps.provisioningRetryMs, reason: `NLB ${d.lbName} is provisioning` };
  }
  if (lb.state === 'failed') throw new Error(`NLB ${d.lbName} failed to provision; delete it in AWS or recreate the Service`);
  const retired = new Set(plan.actions.flatMap((a) => (a.step.op === 'retireStack' && !stillReleasing.has(a.step.stack.lbName) ? [a.step.stack.lbName] : [])));
  const remaining = plan.retiring.filter((s) => !retired.has(s.lbName));
  if (remaining.length > 0) {
    return { state: 'inProgress', retryAfterMs: deps.provisioningRetryMs, reason: `replaced NLB ${remaining.map((s) => s.lbName).join(', ')} is still to be deleted` };
  }
  if (plan.ingress) return { state: 'ready', ingress: plan.ingress };
  return { state: 'ready', ingress: plan.current ? ingressFor({ ...plan.current, loadBalancer: { ...plan.current.loadBalancer!, dnsName: lb.dnsName } }) : [{ hostname: lb.dnsName }] };
}
