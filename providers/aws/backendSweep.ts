// The periodic resync's cleanup of the cluster's shared backend security group: once no load
// balancer of this cluster is left and no Service wants one, the node groups' rules that admit
// NodePorts from the backend group are revoked and the group is deleted. Only after that state was
// seen on two sweeps in a row (a create in progress makes its anchor security group first, so it
// shows up in between), and only for the group and rules that carry this cluster's ownership tags.
// Each step is safe to repeat: a run interrupted between revoke and delete is finished by the next.
import { DeleteSecurityGroupCommand, DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, RevokeSecurityGroupIngressCommand, type Filter } from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isCode, type AwsApi } from './awsApi.js';
import { clusterTagKey, clusterOwns, ROLE_TAG, tagMap } from './tags.js';

export type BackendSweepOutcome =
  /** There is no backend group of this cluster. */
  | 'absent'
  /** Something still needs it (a Service, an anchor, a load balancer using it). */
  | 'inUse'
  /** Unused for the first time: deleted on the next sweep if it stays so. */
  | 'watching'
  /** AWS still holds a dependency (the ENIs of a just-deleted NLB go asynchronously): tried again next sweep. */
  | 'dependencyViolation'
  | 'deleted';

export interface BackendSweepInput {
  /** How many Services want a load balancer from this provider; undefined (not started) counts as busy. */
  services: number | undefined;
  /** How many owned per-Service (anchor) security groups exist. */
  anchors: number;
}

export class BackendSweeper {
  /** The backend group ID seen unused on the previous sweep. */
  private idle?: string;

  constructor(
    private readonly api: AwsApi,
    private readonly clusterName: string,
    private readonly vpcId: string | undefined,
    /** Called after a deletion: cached views of the backend group are stale. */
    private readonly onDeleted: () => void,
  ) {}

  async sweep(input: BackendSweepInput): Promise<{ outcome: BackendSweepOutcome; groupIds: string[] }> {
    // While Services exist (the steady state), this costs no call at all.
    if (input.services === undefined || input.services > 0 || input.anchors > 0) {
      this.idle = undefined;
      return { outcome: 'inUse', groupIds: [] };
    }
    const ids = (await this.ownedBackendGroups()).sort();
    if (ids.length === 0) {
      this.idle = undefined;
      return { outcome: 'absent', groupIds: [] };
    }
    if (await this.usedByLoadBalancer(ids)) {
      this.idle = undefined;
      return { outcome: 'inUse', groupIds: ids };
    }
    const key = ids.join(',');
    if (this.idle !== key) {
      this.idle = key;
      return { outcome: 'watching', groupIds: ids };
    }
    for (const id of ids) {
      await this.revokeNodeRules(id);
      try {
        await this.api.ec2('DeleteSecurityGroup', true, (c) => c.send(new DeleteSecurityGroupCommand({ GroupId: id })));
      } catch (error) {
        if (isCode(error, 'InvalidGroup.NotFound')) continue;
        if (isCode(error, 'DependencyViolation')) {
          this.onDeleted();
          return { outcome: 'dependencyViolation', groupIds: ids };
        }
        throw error;
      }
    }
    this.idle = undefined;
    this.onDeleted();
    return { outcome: 'deleted', groupIds: ids };
  }

  private async ownedBackendGroups(): Promise<string[]> {
    const filters: Filter[] = [
      { Name: `tag:${clusterTagKey(this.clusterName)}`, Values: ['owned'] },
      { Name: `tag:${ROLE_TAG}`, Values: ['backend'] },
      ...(this.vpcId ? [{ Name: 'vpc-id', Values: [this.vpcId] }] : []),
    ];
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.api.ec2('DescribeSecurityGroups', false, (c) => c.send(new DescribeSecurityGroupsCommand({ Filters: filters, NextToken: token })));
      // The filter is what AWS does; the check is what we promise (never touch a group without our tags).
      for (const g of page.SecurityGroups ?? []) {
        const tags = tagMap(g.Tags);
        if (g.GroupId && clusterOwns(tags, this.clusterName) && tags[ROLE_TAG] === 'backend') ids.push(g.GroupId);
      }
      token = page.NextToken;
    } while (token);
    return ids;
  }

  /** Any load balancer (ours or not) that has the group attached keeps it. */
  private async usedByLoadBalancer(ids: string[]): Promise<boolean> {
    let marker: string | undefined;
    do {
      const page = await this.api.elb('DescribeLoadBalancers', false, (c) => c.send(new DescribeLoadBalancersCommand({ Marker: marker, PageSize: 400 })));
      if ((page.LoadBalancers ?? []).some((lb) => (lb.SecurityGroups ?? []).some((g) => ids.includes(g)))) return true;
      marker = page.NextMarker;
    } while (marker);
    return false;
  }

  /** Revokes exactly the rules this provider added: tagged node-access by this cluster and sourced from this group. */
  private async revokeNodeRules(backendId: string): Promise<void> {
    let token: string | undefined;
    const ruleIds = new Map<string, string[]>();
    do {
      const page = await this.api.ec2('DescribeSecurityGroupRules', false, (c) =>
        c.send(
          new DescribeSecurityGroupRulesCommand({
            Filters: [
              { Name: `tag:${clusterTagKey(this.clusterName)}`, Values: ['owned'] },
              { Name: `tag:${ROLE_TAG}`, Values: ['node-access'] },
            ],
            NextToken: token,
          }),
        ),
      );
      for (const r of page.SecurityGroupRules ?? []) {
        const tags = tagMap(r.Tags);
        if (r.IsEgress || !r.GroupId || r.ReferencedGroupInfo?.GroupId !== backendId || !clusterOwns(tags, this.clusterName) || tags[ROLE_TAG] !== 'node-access') continue;
        if (!r.SecurityGroupRuleId) continue;
        ruleIds.set(r.GroupId, [...(ruleIds.get(r.GroupId) ?? []), r.SecurityGroupRuleId]);
      }
      token = page.NextToken;
    } while (token);
    for (const [groupId, ids] of ruleIds) {
      // By rule ID: exactly the rules identified above, nothing else in the node group.
      try {
        await this.api.ec2('RevokeSecurityGroupIngress', true, (c) => c.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, SecurityGroupRuleIds: ids })));
      } catch (error) {
        // Gone already (a repeated run) or the node group itself is gone.
        if (!isCode(error, 'InvalidSecurityGroupRuleId.NotFound', 'InvalidPermission.NotFound', 'InvalidGroup.NotFound')) throw error;
      }
    }
  }
}
