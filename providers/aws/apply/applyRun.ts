// What the executors of one apply share: the plan, the dependencies, and the ARNs and IDs learnt
// while its steps run (a step creates what a later step of the same plan refers to).
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import type { Listener, LoadBalancer, TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ProviderEvent } from '../../provider.js';
import type { AwsApi } from '../awsApi.js';
import type { AwsPlan, DesiredStack, ObservedStack } from '../awsTypes.js';
import { describeTargetGroupsByName } from '../observe.js';
import type { AwsQuotas } from '../quotas.js';
import { HELD_ADDRESSES_TAG, clusterOwns, tagMap } from '../tags.js';
import { AwsOwnershipConflictError } from '../planActions.js';

export interface ApplyDeps {
  api: AwsApi;
  clusterName: string;
  provisioningRetryMs: number;
  emit(event: ProviderEvent): void;
  /** Test hook: called before each step; throwing simulates a crash at that point. */
  beforeStep?(index: number, kind: string): void;
  /** The cached network view is stale (the backend group or node rules changed). */
  networkChanged(): void;
  quotas: AwsQuotas;
  /** After a plan ran through: the stack it made or changed, as observe would read it back (see written.ts). */
  written?(stack: ObservedStack, what: 'create' | 'membership'): void;
}

export interface KnownLoadBalancer {
  arn: string;
  dnsName: string;
  state: string;
}

export class ApplyRun {
  readonly d: DesiredStack;
  readonly uid: string;
  sgId: string | undefined;
  lb: KnownLoadBalancer | undefined;
  backendId: string | undefined;
  readonly tgArns: Map<string, string>;
  /** Replaced NLBs deleted, but whose interfaces (holding addresses the new one needs) are not yet released. */
  readonly stillReleasing = new Set<string>();
  /** Tag naming the addresses the new NLB needs from a replaced one, when there are any. */
  readonly heldTag: Record<string, string>;
  /**
   * The anchor was made by this run (not found after a crash): no NLB of ours can carry its name,
   * since a run makes the anchor first and a delete removes it last. See nlbNameIsNew.
   */
  anchorMade = false;
  /** What AWS answered to the creates of this run, and the targets it accepted: the record of what was written. */
  readonly written: { loadBalancer?: LoadBalancer; groups: Map<string, TargetGroup>; listeners: Listener[]; targets: Map<string, { id: string; port: number }[]>; refused: boolean } = {
    groups: new Map(),
    listeners: [],
    targets: new Map(),
    refused: false,
  };

  constructor(
    readonly plan: AwsPlan,
    readonly deps: ApplyDeps,
  ) {
    this.d = plan.desired;
    this.uid = plan.desired.ref.uid;
    this.sgId = plan.current?.securityGroup.id;
    const lb = plan.current?.loadBalancer;
    this.lb = lb ? { arn: lb.arn, dnsName: lb.dnsName, state: lb.state } : undefined;
    this.tgArns = new Map((plan.current?.targetGroups ?? []).map((g) => [g.name, g.arn]));
    this.backendId = plan.network.backend?.id;
    this.heldTag = this.d.heldAddresses.length > 0 ? { [HELD_ADDRESSES_TAG]: this.d.heldAddresses.join(' ') } : {};
  }

  /**
   * Whether CreateLoadBalancer may skip its look for an NLB with the name: our own cannot exist
   * (anchorMade), and the answer tells another's (it lacks the anchor made now), so the look is
   * needed only then. With the user's security groups there is no such mark: looked for first.
   */
  get nlbNameIsNew(): boolean {
    return this.anchorMade && this.d.ownSecurityGroups === undefined;
  }

  get api(): AwsApi {
    return this.deps.api;
  }

  get clusterName(): string {
    return this.deps.clusterName;
  }

  needSg(): string {
    if (!this.sgId) throw new Error(`security group of ${this.d.lbName} is not known yet`);
    return this.sgId;
  }

  needLb(): string {
    if (!this.lb) throw new Error(`load balancer ${this.d.lbName} is not known yet`);
    return this.lb.arn;
  }

  needBackend(): string {
    if (!this.backendId) throw new Error(`the cluster's backend security group is not known yet`);
    return this.backendId;
  }

  /** A target group's ARN: learnt earlier in this run, or read by its name. */
  async targetGroupArn(name: string): Promise<string> {
    const known = this.tgArns.get(name);
    if (known) return known;
    const [found] = await describeTargetGroupsByName(this.api, [name]);
    if (!found?.TargetGroupArn) throw new Error(`target group ${name} is not known yet`);
    this.tgArns.set(name, found.TargetGroupArn);
    return found.TargetGroupArn;
  }

  /** The security group with this name in the VPC, if any; one without our tags (or `owns`) is a conflict. */
  async findSecurityGroup(name: string, owns: (tags: Record<string, string>) => boolean): Promise<string | undefined> {
    const res = await this.api.ec2('DescribeSecurityGroups', false, (c) =>
      c.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [name] }, { Name: 'vpc-id', Values: [this.d.vpcId] }] })),
    );
    const group = res.SecurityGroups?.[0];
    if (!group?.GroupId) return undefined;
    const tags = tagMap(group.Tags);
    if (!clusterOwns(tags, this.clusterName) || !owns(tags)) throw new AwsOwnershipConflictError(`security group ${name} (${group.GroupId}) exists without this cluster's ownership tags; it is left alone`);
    return group.GroupId;
  }
}
