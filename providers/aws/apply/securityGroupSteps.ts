// Executors of the security group steps: the NLB's own (anchor) group and its CIDR rules, the
// cluster's shared backend group, and the node groups' rules that admit NodePorts from it.
import { CreateSecurityGroupCommand } from '@aws-sdk/client-ec2';
import { isCode } from '../awsApi.js';
import { securityGroupText } from '../awsText.js';
import type { AwsStep } from '../awsTypes.js';
import { backendSecurityGroupName } from '../names.js';
import { authorizeIngress, cidrPermissions, revokeIngress } from '../securityGroupRules.js';
import { clusterTagKey, LOAD_BALANCER_NAME_TAG, PLACEMENT_TAG, ROLE_TAG, SERVICE_UID_TAG, toTagList } from '../tags.js';
import type { ApplyRun } from './applyRun.js';

type Step<Op extends AwsStep['op']> = Extract<AwsStep, { op: Op }>;

/** On every node rule this provider adds (with the cluster and role tags). */
export const NODE_RULE_DESCRIPTION = 'kube-lb-provisioner: NodePorts from the NLBs';

export async function createSecurityGroup(run: ApplyRun): Promise<void> {
  const { d } = run;
  try {
    const res = await run.api.ec2('CreateSecurityGroup', true, (c) =>
      c.send(
        new CreateSecurityGroupCommand({
          GroupName: d.lbName,
          Description: securityGroupText(`kube-lb-provisioner: NLB of ${d.ref.namespace}/${d.ref.name}`),
          VpcId: d.vpcId,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: toTagList({ ...d.tags, ...run.heldTag, Name: d.lbName, [LOAD_BALANCER_NAME_TAG]: d.lbName, [PLACEMENT_TAG]: d.placement }) }],
        }),
      ),
    );
    run.sgId = res.GroupId;
    run.anchorMade = true;
  } catch (error) {
    if (!isCode(error, 'InvalidGroup.Duplicate')) throw error;
    run.sgId = await run.findSecurityGroup(d.lbName, (tags) => tags[SERVICE_UID_TAG] === run.uid);
  }
}

export async function authorizeCidrIngress(run: ApplyRun, step: Step<'authorizeIngress'>): Promise<void> {
  await authorizeIngress(run.api, run.needSg(), cidrPermissions(step.rules));
}

export async function revokeCidrIngress(run: ApplyRun, step: Step<'revokeIngress'>): Promise<void> {
  await revokeIngress(run.api, run.needSg(), cidrPermissions(step.rules));
}

/** Finds the cluster's backend group, or makes it. */
export async function ensureBackendSecurityGroup(run: ApplyRun): Promise<void> {
  const name = backendSecurityGroupName(run.clusterName);
  const isBackend = (tags: Record<string, string>) => tags[ROLE_TAG] === 'backend';
  run.backendId = await run.findSecurityGroup(name, isBackend);
  if (run.backendId) return;
  try {
    const res = await run.api.ec2('CreateSecurityGroup', true, (c) =>
      c.send(
        new CreateSecurityGroupCommand({
          GroupName: name,
          // No apostrophe: CreateSecurityGroup refuses it (see awsText.ts).
          Description: securityGroupText(`kube-lb-provisioner: shared backend group of the NLBs of cluster ${run.clusterName}`),
          VpcId: run.d.vpcId,
          TagSpecifications: [{ ResourceType: 'security-group', Tags: toTagList({ [clusterTagKey(run.clusterName)]: 'owned', [ROLE_TAG]: 'backend', Name: name }) }],
        }),
      ),
    );
    run.backendId = res.GroupId;
  } catch (error) {
    // Another worker created it a moment ago.
    if (!isCode(error, 'InvalidGroup.Duplicate')) throw error;
    run.backendId = await run.findSecurityGroup(name, isBackend);
  }
  run.deps.networkChanged();
}

export async function authorizeNodeRules(run: ApplyRun, step: Pick<Step<'authorizeNodeRules'>, 'groupId' | 'rules'>): Promise<void> {
  const source = run.needBackend();
  await authorizeIngress(
    run.api,
    step.groupId,
    step.rules.map((r) => ({ IpProtocol: r.protocol, FromPort: r.fromPort, ToPort: r.toPort, UserIdGroupPairs: [{ GroupId: source, Description: NODE_RULE_DESCRIPTION }] })),
    [{ ResourceType: 'security-group-rule', Tags: toTagList({ [clusterTagKey(run.clusterName)]: 'owned', [ROLE_TAG]: 'node-access' }) }],
  );
  run.deps.networkChanged();
}

/**
 * The sweep deletes the backend group once no load balancer is left; a plan made against an older
 * view would attach a deleted group. So a new NLB looks for it (one read) and, if it had to be made
 * again, opens the node groups from the new one.
 */
export async function reestablishBackend(run: ApplyRun): Promise<void> {
  if (run.plan.actions.some((a) => a.step.op === 'ensureBackendSecurityGroup')) return;
  await ensureBackendSecurityGroup(run);
  if (run.backendId === run.plan.network.backend?.id) return;
  for (const groupId of run.d.nodeSecurityGroupIds) await authorizeNodeRules(run, { groupId, rules: run.d.nodeAccess });
}
