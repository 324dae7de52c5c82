// The network view (NetworkCache): subnets, Elastic IPs, the nodes' security groups and the region's NLB count change rarely, so
// they are read in a few calls and cached for a while instead of on every reconcile. invalidate() forces a fresh read
// (after a Service asked for an IP we did not see, for instance).
import { DescribeAddressesCommand, DescribeManagedPrefixListsCommand, DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type Filter } from '@aws-sdk/client-ec2';
import { listLoadBalancers } from './listAll.js';
import type { AwsApi } from './awsApi.js';
import type { AwsNetwork, NodeRule } from './awsTypes.js';
import { clusterTagKey, ROLE_TAG, SERVICE_UID_TAG, tagMap } from './tags.js';

/** An IPv6 block in use ("associated"; moto writes the state as "{'State': 'associated'}"). */
function associated(state: string | undefined): boolean {
  return state === undefined || /(^|')associated($|')/.test(state);
}

export interface NetworkCacheOptions {
  clusterName: string;
  vpcId?: string;
  nodeSecurityGroupIds?: string[];
  nodePortRange: { from: number; to: number };
  ttlMs: number;
  now?: () => number;
}

export class NetworkCache {
  private value?: { network: AwsNetwork; at: number };
  private pending?: Promise<AwsNetwork>;

  constructor(
    private readonly api: AwsApi,
    private readonly options: NetworkCacheOptions,
  ) {}

  invalidate(): void {
    this.value = undefined;
  }

  async get(): Promise<AwsNetwork> {
    const now = (this.options.now ?? Date.now)();
    if (this.value && now - this.value.at < this.options.ttlMs) return this.value.network;
    this.pending ??= this.read().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async read(): Promise<AwsNetwork> {
    const at = (this.options.now ?? Date.now)();
    const vpcFilter: Filter[] = this.options.vpcId ? [{ Name: 'vpc-id', Values: [this.options.vpcId] }] : [];
    const subnets: AwsNetwork['subnets'] = [];
    let token: string | undefined;
    do {
      const page = await this.api.ec2('DescribeSubnets', false, (c) => c.send(new DescribeSubnetsCommand({ Filters: vpcFilter.length ? vpcFilter : undefined, NextToken: token })));
      for (const s of page.Subnets ?? []) {
        if (!s.SubnetId) continue;
        subnets.push({
          id: s.SubnetId,
          zone: s.AvailabilityZone ?? '',
          vpcId: s.VpcId ?? '',
          cidr: s.CidrBlock ?? '',
          tags: tagMap(s.Tags),
          ...(s.AvailableIpAddressCount !== undefined ? { freeIps: s.AvailableIpAddressCount } : {}),
          // A dual-stack NLB needs an IPv6 block in each of its subnets (only associated ones count).
          ipv6Cidrs: (s.Ipv6CidrBlockAssociationSet ?? []).filter((a) => a.Ipv6CidrBlock && associated(a.Ipv6CidrBlockState?.State)).map((a) => a.Ipv6CidrBlock!),
        });
      }
      token = page.NextToken;
    } while (token);

    const addressPage = await this.api.ec2('DescribeAddresses', false, (c) => c.send(new DescribeAddressesCommand({ Filters: [{ Name: 'domain', Values: ['vpc'] }] })));
    const addresses = (addressPage.Addresses ?? [])
      .filter((a) => a.AllocationId && a.PublicIp)
      .map((a) => ({ allocationId: a.AllocationId!, publicIp: a.PublicIp!, associated: Boolean(a.AssociationId) }));

    // One read of the cluster-tagged groups gives both the nodes' groups and our shared backend group.
    const discovered: string[] = [];
    let backendId: string | undefined;
    token = undefined;
    do {
      const page = await this.api.ec2('DescribeSecurityGroups', false, (c) =>
        c.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag-key', Values: [clusterTagKey(this.options.clusterName)] }, ...vpcFilter], NextToken: token })),
      );
      for (const g of page.SecurityGroups ?? []) {
        const tags = tagMap(g.Tags);
        if (!g.GroupId) continue;
        if (tags[ROLE_TAG] === 'backend' && tags[clusterTagKey(this.options.clusterName)] === 'owned') backendId = g.GroupId;
        // Our own per-load-balancer groups carry the service-uid tag; the nodes' groups do not.
        else if (tags[SERVICE_UID_TAG] === undefined && tags[ROLE_TAG] === undefined) discovered.push(g.GroupId);
      }
      token = page.NextToken;
    } while (token);
    const nodeSecurityGroupIds = this.options.nodeSecurityGroupIds ?? discovered;

    // Every NLB in the region counts against the account's quota, so a new one can be refused up front.
    const networkLoadBalancers = (await listLoadBalancers(this.api)).filter((lb) => lb.Type === 'network').length;

    // For aws-load-balancer-security-group-prefix-lists: a reference counts as the list's MaxEntries rules.
    const prefixLists: NonNullable<AwsNetwork['prefixLists']> = [];
    token = undefined;
    do {
      const page = await this.api.ec2('DescribeManagedPrefixLists', false, (c) => c.send(new DescribeManagedPrefixListsCommand({ NextToken: token })));
      for (const l of page.PrefixLists ?? []) {
        if (l.PrefixListId) prefixLists.push({ id: l.PrefixListId, family: l.AddressFamily === 'IPv6' ? 'IPv6' : 'IPv4', maxEntries: l.MaxEntries ?? 0 });
      }
      token = page.NextToken;
    } while (token);

    const network: AwsNetwork = { subnets, addresses, nodeSecurityGroupIds: [...nodeSecurityGroupIds].sort(), nodePortRange: this.options.nodePortRange, networkLoadBalancers, prefixLists };
    if (backendId) {
      const rules = await this.api.ec2('DescribeSecurityGroupRules', false, (c) =>
        c.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: `tag:${clusterTagKey(this.options.clusterName)}`, Values: ['owned'] }, { Name: `tag:${ROLE_TAG}`, Values: ['node-access'] }] })),
      );
      const nodeRules: NodeRule[] = [];
      for (const r of rules.SecurityGroupRules ?? []) {
        if (r.IsEgress || r.ReferencedGroupInfo?.GroupId !== backendId || !r.GroupId || (r.IpProtocol !== 'tcp' && r.IpProtocol !== 'udp')) continue;
        nodeRules.push({ groupId: r.GroupId, protocol: r.IpProtocol, fromPort: r.FromPort ?? 0, toPort: r.ToPort ?? 0 });
      }
      network.backend = { id: backendId, nodeRules };
    }
    this.value = { network, at };
    return network;
  }
}
