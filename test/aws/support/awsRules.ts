// AWS's documented rules that moto_server does not enforce, checked by the fault proxy before a
// request reaches moto. Each rule cites where AWS states it. Quotas default to AWS's defaults and
// can be lowered per test (they are adjustable per account on AWS too). Stateful rules (addresses
// held by a deleted NLB until its network interfaces are released) are kept here, since moto
// forgets an NLB the moment it is deleted.
import { DescribeAddressesCommand, DescribeInstancesCommand, DescribeManagedPrefixListsCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, type EC2Client, type Subnet } from '@aws-sdk/client-ec2';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  type ElasticLoadBalancingV2Client,
  type LoadBalancer,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import ipaddr from 'ipaddr.js';
import { cidrContains } from '../../../providers/common/cidr.js';

export interface AwsQuotas {
  /** NLB quotas page (docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-limits.html): "Listeners per load balancer: 50". */
  listenersPerLoadBalancer: number;
  /** Same page: "Targets per Availability Zone per Network Load Balancer: 500"; a target in two target groups counts twice. */
  targetsPerZonePerLoadBalancer: number;
  /** Same page: "Network Load Balancers per Region: 50". */
  loadBalancersPerRegion: number;
  /** ELB tagging (…/network/load-balancer-tags.html) and EC2 tag restrictions (…/AWSEC2/latest/UserGuide/Using_Tags.html): 50 tags per resource. */
  tagsPerResource: number;
  /** VPC quotas (…/vpc/latest/userguide/amazon-vpc-limits.html): "Inbound or outbound rules per security group: 60", counted for IPv4 and IPv6 separately. */
  inboundRulesPerGroupPerFamily: number;
}

export const AWS_DEFAULT_QUOTAS: AwsQuotas = {
  listenersPerLoadBalancer: 50,
  targetsPerZonePerLoadBalancer: 500,
  loadBalancersPerRegion: 50,
  tagsPerResource: 50,
  inboundRulesPerGroupPerFamily: 60,
};

export interface RuleViolation {
  code: string;
  message: string;
}

export interface AwsRulesState {
  quotas: AwsQuotas;
  /**
   * How many requests a deleted NLB's addresses and security groups keep refusing (ResourceInUse,
   * DependencyViolation) before its interfaces count as released. AWS releases them some time after
   * DeleteLoadBalancer; a count keeps the tests free of clocks. 0 (the default) releases them at
   * once, as moto does; the tests of replacements raise it.
   */
  releaseAfterRefusals: number;
}

/** Addresses and groups an NLB holds; after its deletion they stay held until released. */
interface Holding {
  name: string;
  allocationIds: string[];
  privateIps: string[];
  securityGroups: string[];
  /** Set once the NLB is deleted: refusals left before its interfaces are gone. */
  releasingFor?: number;
}

// EC2 API reference, CreateSecurityGroupRequest (GroupName, Description) and IpRange.Description:
// "Valid characters: a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", up to 255 characters.
const SG_TEXT = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/;
// UserIdGroupPair.Description: the same set without "&".
const SG_PAIR_TEXT = /^[a-zA-Z0-9 ._\-:/()#,@[\]+=;{}!$*]*$/;
// ELB tags (load-balancer-tags.html; CloudFormation's pattern ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$):
// letters, spaces and numbers in UTF-8 plus + - = . _ : / @, key up to 128, value up to 256, no leading/trailing spaces.
const ELB_TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
// ELB API reference, CreateLoadBalancerInput.Name / CreateTargetGroupInput.Name: at most 32
// alphanumerics or hyphens, not beginning or ending with a hyphen (load balancers: nor "internal-").
const ELB_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/;

/** Collects Prefix.N.Field parameters into objects by N (the query protocol's list encoding). */
export function members(params: URLSearchParams, prefix: string): Record<string, string>[] {
  const out = new Map<number, Record<string, string>>();
  for (const [key, value] of params) {
    if (!key.startsWith(`${prefix}.`)) continue;
    const rest = key.slice(prefix.length + 1);
    const dot = rest.indexOf('.');
    const index = Number(dot < 0 ? rest : rest.slice(0, dot));
    if (!Number.isInteger(index)) continue;
    const entry = out.get(index) ?? {};
    entry[dot < 0 ? '' : rest.slice(dot + 1)] = value;
    out.set(index, entry);
  }
  return [...out.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
}

/** Sub-members of one member: { 'Tag.1.Key': 'a', ... } -> [{ Key: 'a' }]. */
function sub(entry: Record<string, string>, prefix: string): Record<string, string>[] {
  return members(new URLSearchParams(Object.entries(entry)), prefix);
}

function checkEc2Tags(tags: Record<string, string>[], limit: number): RuleViolation | undefined {
  if (tags.length > limit) return { code: 'TagLimitExceeded', message: `The maximum number of tags (${limit}) per resource has been exceeded` };
  for (const t of tags) {
    // EC2 API reference, Tag: keys up to 127 Unicode characters, not beginning with aws:; values up to 256.
    const key = t.Key ?? '';
    if (key.length === 0 || key.length > 127 || key.toLowerCase().startsWith('aws:')) return { code: 'InvalidParameterValue', message: `Tag key "${key}" is not valid` };
    if ((t.Value ?? '').length > 256) return { code: 'InvalidParameterValue', message: `Tag value for "${key}" exceeds 256 characters` };
  }
  return undefined;
}

function checkElbTags(tags: Record<string, string>[], existing: number, limit: number): RuleViolation | undefined {
  const keys = new Set(tags.map((t) => t.Key ?? ''));
  if (existing + keys.size > limit) return { code: 'TooManyTags', message: `You've reached the limit on the number of tags (${limit}) for this resource` };
  for (const t of tags) {
    const key = t.Key ?? '';
    const value = t.Value ?? '';
    const bad = (s: string) => !ELB_TAG_TEXT.test(s) || s !== s.trim();
    if (key === '' || key.length > 128 || bad(key) || key.startsWith('aws:')) return { code: 'ValidationError', message: `Tag key "${key}" is not valid` };
    if (value.length > 256 || bad(value)) return { code: 'ValidationError', message: `Tag value "${value}" of "${key}" is not valid` };
  }
  return undefined;
}

function checkSgText(field: string, value: string | undefined, pattern: RegExp): RuleViolation | undefined {
  if (value === undefined) return undefined;
  if (value.length > 255 || !pattern.test(value)) {
    return { code: 'InvalidParameterValue', message: `Value (${value}) for parameter ${field} is invalid. Character sets beyond ASCII are not supported.` };
  }
  return undefined;
}

/** A subnet's associated IPv6 blocks (moto writes the state as "{'State': 'associated'}"). */
function ipv6Ranges(subnet: Subnet | undefined): string[] {
  return (subnet?.Ipv6CidrBlockAssociationSet ?? []).filter((a) => /(^|')associated($|')/.test(a.Ipv6CidrBlockState?.State ?? 'associated')).map((a) => a.Ipv6CidrBlock ?? '');
}

/**
 * NLB user guide, IP address types, "Dualstack requirements": "The virtual private cloud (VPC) and
 * subnets that you specify for the Network Load Balancer must have associated IPv6 CIDR blocks."
 * moto makes a dualstack NLB in any subnet.
 */
function dualStackSubnets(ipAddressType: string, subnets: Subnet[]): RuleViolation | undefined {
  if (ipAddressType !== 'dualstack') return undefined;
  const lacking = subnets.find((s) => ipv6Ranges(s).length === 0);
  if (lacking) return { code: 'InvalidSubnet', message: `Subnet '${lacking.SubnetId}' does not have an IPv6 CIDR block; a dualstack load balancer needs one in each of its subnets` };
  return undefined;
}

/** NLB target groups, IP address type: "IPv6 target groups only support IP type targets" (moto makes an IPv6 instance group). */
function ipv6TargetGroupTargetType(p: URLSearchParams): RuleViolation | undefined {
  if (p.get('IpAddressType') === 'ipv6' && p.get('TargetType') !== 'ip') {
    return { code: 'ValidationError', message: `IPv6 target groups only support the ip target type, not '${p.get('TargetType') ?? 'instance'}'` };
  }
  return undefined;
}

/** Health check defaults by protocol (ELB API reference, CreateTargetGroupInput). */
function defaultTimeout(healthCheckProtocol: string): number {
  return healthCheckProtocol === 'HTTP' ? 6 : 10;
}

export class AwsRules {
  readonly state: AwsRulesState = { quotas: { ...AWS_DEFAULT_QUOTAS }, releaseAfterRefusals: 0 };
  private readonly holdings: Holding[] = [];
  // Followed from the requests moto answered, so the quota checks need no reads of their own (moto
  // is single-threaded; reads here would slow the benchmark that runs through this proxy).
  /** Names of the NLBs that exist: read once when first needed (NLBs made around the proxy after that are not seen). */
  private loadBalancerNames?: Set<string>;
  /** Target group ARN -> "instance:port" registered in it. */
  private readonly registered = new Map<string, Set<string>>();
  /** Target group ARN -> the NLB whose listener forwards to it. */
  private readonly loadBalancerOf = new Map<string, string>();
  private readonly zoneOf = new Map<string, string>();
  /** Names of the IPv6 target groups made through the proxy (a group's ARN carries its name). */
  private readonly ipv6Groups = new Set<string>();

  constructor(private readonly moto: { ec2: EC2Client; elbv2: ElasticLoadBalancingV2Client }) {}

  /** The first rule a request breaks, or undefined to let moto answer it. */
  async check(action: string, p: URLSearchParams): Promise<RuleViolation | undefined> {
    switch (action) {
      case 'CreateSecurityGroup': {
        const name = p.get('GroupName') ?? '';
        if (name.toLowerCase().startsWith('sg-')) return { code: 'InvalidParameterValue', message: `Group names may not be in the format sg-*` };
        return (
          checkSgText('GroupName', name, SG_TEXT) ??
          checkSgText('GroupDescription', p.get('GroupDescription') ?? undefined, SG_TEXT) ??
          this.ec2TagSpecifications(p)
        );
      }
      case 'AuthorizeSecurityGroupIngress':
        return this.authorizeIngress(p);
      case 'CreateTags': {
        const tags = members(p, 'Tag');
        const limit = this.state.quotas.tagsPerResource;
        for (const id of members(p, 'ResourceId').map((r) => r[''] ?? '')) {
          const existing = await this.ec2TagKeys(id);
          const merged = new Set([...existing, ...tags.map((t) => t.Key ?? '')]);
          if (merged.size > limit) return { code: 'TagLimitExceeded', message: `The maximum number of tags (${limit}) per resource has been exceeded` };
        }
        return checkEc2Tags(tags, Number.POSITIVE_INFINITY);
      }
      case 'DeleteSecurityGroup': {
        const id = p.get('GroupId') ?? '';
        const holder = this.holdings.find((h) => h.releasingFor !== undefined && h.securityGroups.includes(id));
        // ENIs of a deleted NLB keep its security groups in use for a while.
        if (holder) return this.refuse(holder, 'DependencyViolation', `resource ${id} has a dependent object`);
        return undefined;
      }
      case 'CreateLoadBalancer':
        return this.createLoadBalancer(p);
      case 'CreateTargetGroup':
        return (
          this.name('target group', p.get('Name') ?? '') ??
          ipv6TargetGroupTargetType(p) ??
          (await this.healthCheck(p, undefined)) ??
          checkElbTags(members(p, 'Tags.member'), 0, this.state.quotas.tagsPerResource)
        );
      case 'SetIpAddressType':
        return this.setIpAddressType(p);
      case 'ModifyTargetGroup':
        return this.healthCheck(p, p.get('TargetGroupArn') ?? '');
      case 'CreateListener':
        return this.tlsCertificates(p) ?? (await this.ipv6Listener(p, async () => ({ loadBalancerArn: p.get('LoadBalancerArn') ?? '' }))) ?? (await this.createListener(p));
      case 'ModifyListener':
        return this.tlsCertificates(p) ?? (await this.ipv6Listener(p, () => this.listener(p.get('ListenerArn') ?? '')));
      case 'ModifyListenerAttributes': {
        // ELB API reference, ListenerAttribute.Key: Network Load Balancers support "tcp.idle_timeout.seconds",
        // "The valid range is 60-6000 seconds" (moto accepts any key and value).
        for (const a of members(p, 'Attributes.member')) {
          const seconds = Number(a.Value);
          if (a.Key !== 'tcp.idle_timeout.seconds' || !Number.isInteger(seconds) || seconds < 60 || seconds > 6000) {
            return { code: 'ValidationError', message: `Listener attribute '${a.Key}' with value '${a.Value}' is not supported by network load balancers` };
          }
        }
        return undefined;
      }
      case 'AddTags': {
        const tags = members(p, 'Tags.member');
        for (const arn of members(p, 'ResourceArns.member').map((r) => r[''] ?? '')) {
          const res = await this.moto.elbv2.send(new DescribeTagsCommand({ ResourceArns: [arn] }));
          const have = new Set((res.TagDescriptions?.[0]?.Tags ?? []).map((t) => t.Key ?? ''));
          const added = tags.filter((t) => !have.has(t.Key ?? ''));
          const v = checkElbTags(added, have.size, this.state.quotas.tagsPerResource) ?? checkElbTags(tags, 0, Number.POSITIVE_INFINITY);
          if (v) return v;
        }
        return undefined;
      }
      case 'RegisterTargets':
        return this.registerTargets(p);
      case 'SetSubnets': {
        // ELB API reference, SetSubnetsInput.Subnets: "You can specify only one subnet per Availability Zone."
        const ids = [...members(p, 'Subnets.member').map((m) => m[''] ?? ''), ...members(p, 'SubnetMappings.member').map((m) => m.SubnetId ?? '')];
        const subnets = (await this.moto.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids })).catch(() => undefined))?.Subnets ?? [];
        const zones = subnets.map((s) => s.AvailabilityZone ?? '');
        if (new Set(ids).size !== ids.length || new Set(zones).size !== zones.length) return { code: 'InvalidConfigurationRequest', message: 'You can specify only one subnet per Availability Zone' };
        return this.setSubnetsSourceNat(p);
      }
      default:
        return undefined;
    }
  }

  /** Called with moto's answer, to follow what NLBs hold and what targets they have. */
  async after(action: string, p: URLSearchParams, ok: boolean, nameOfDeleted?: string): Promise<void> {
    if (!ok) return;
    const tg = p.get('TargetGroupArn') ?? '';
    const targets = members(p, 'Targets.member').map((t) => `${t.Id ?? ''}:${t.Port ?? ''}`);
    if (action === 'RegisterTargets') {
      const set = this.registered.get(tg) ?? new Set<string>();
      for (const t of targets) set.add(t);
      this.registered.set(tg, set);
    }
    if (action === 'DeregisterTargets') for (const t of targets) this.registered.get(tg)?.delete(t);
    if (action === 'DeleteTargetGroup') {
      this.registered.delete(tg);
      this.loadBalancerOf.delete(tg);
    }
    if (action === 'CreateListener' || action === 'ModifyListener') {
      const forwardTo = members(p, 'DefaultActions.member').map((a) => a.TargetGroupArn ?? '')[0];
      if (forwardTo && p.get('LoadBalancerArn')) this.loadBalancerOf.set(forwardTo, p.get('LoadBalancerArn')!);
    }
    if (action === 'CreateLoadBalancer') this.loadBalancerNames?.add(p.get('Name') ?? '');
    if (action === 'CreateTargetGroup' && p.get('IpAddressType') === 'ipv6') this.ipv6Groups.add(p.get('Name') ?? '');
    if (action === 'DeleteLoadBalancer' && nameOfDeleted !== undefined) this.loadBalancerNames?.delete(nameOfDeleted);
    if (action === 'CreateLoadBalancer') {
      const mappings = members(p, 'SubnetMappings.member');
      this.holdings.push({
        name: p.get('Name') ?? '',
        allocationIds: mappings.flatMap((m) => (m.AllocationId ? [m.AllocationId] : [])),
        privateIps: mappings.flatMap((m) => (m.PrivateIPv4Address ? [m.PrivateIPv4Address] : [])),
        securityGroups: members(p, 'SecurityGroups.member').map((m) => m[''] ?? ''),
      });
    }
    if (action === 'DeleteLoadBalancer' && nameOfDeleted !== undefined) {
      for (const h of this.holdings) if (h.name === nameOfDeleted && h.releasingFor === undefined) h.releasingFor = this.state.releaseAfterRefusals;
      this.drop();
    }
  }

  /** The name of the NLB an ARN points at (looked up before a delete, while moto still knows it). */
  async loadBalancerName(arn: string): Promise<string | undefined> {
    try {
      const res = await this.moto.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }));
      return res.LoadBalancers?.[0]?.LoadBalancerName;
    } catch {
      return undefined;
    }
  }

  private async existingLoadBalancers(): Promise<Set<string>> {
    if (!this.loadBalancerNames) {
      const names = new Set<string>();
      let marker: string | undefined;
      do {
        const page = await this.moto.elbv2.send(new DescribeLoadBalancersCommand({ Marker: marker }));
        for (const lb of page.LoadBalancers ?? []) names.add(lb.LoadBalancerName ?? '');
        marker = page.NextMarker;
      } while (marker);
      this.loadBalancerNames = names;
    }
    return this.loadBalancerNames;
  }

  private refuse(holder: Holding, code: string, message: string): RuleViolation {
    holder.releasingFor = (holder.releasingFor ?? 1) - 1;
    this.drop();
    return { code, message };
  }

  private drop(): void {
    for (let i = this.holdings.length - 1; i >= 0; i--) if (this.holdings[i]!.releasingFor !== undefined && this.holdings[i]!.releasingFor! <= 0) this.holdings.splice(i, 1);
  }

  private name(kind: string, name: string): RuleViolation | undefined {
    if (!ELB_NAME.test(name) || (kind === 'load balancer' && name.startsWith('internal-'))) {
      return { code: 'ValidationError', message: `The ${kind} name '${name}' must have at most 32 alphanumeric characters or hyphens, and must not begin or end with a hyphen` };
    }
    return undefined;
  }

  private ec2TagSpecifications(p: URLSearchParams): RuleViolation | undefined {
    for (const spec of members(p, 'TagSpecification')) {
      const v = checkEc2Tags(sub(spec, 'Tag'), this.state.quotas.tagsPerResource);
      if (v) return v;
    }
    return undefined;
  }

  private async ec2TagKeys(id: string): Promise<string[]> {
    if (!id.startsWith('sg-')) return [];
    const res = await this.moto.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })).catch(() => undefined);
    return (res?.SecurityGroups?.[0]?.Tags ?? []).map((t) => t.Key ?? '');
  }

  private async authorizeIngress(p: URLSearchParams): Promise<RuleViolation | undefined> {
    const permissions = members(p, 'IpPermissions');
    let v4 = 0;
    let v6 = 0;
    for (const perm of permissions) {
      for (const r of sub(perm, 'IpRanges')) {
        v4++;
        const v = checkSgText('IpRanges.Description', r.Description, SG_TEXT);
        if (v) return v;
      }
      for (const r of sub(perm, 'Ipv6Ranges')) {
        v6++;
        const v = checkSgText('Ipv6Ranges.Description', r.Description, SG_TEXT);
        if (v) return v;
      }
      for (const g of sub(perm, 'Groups')) {
        // A rule whose source is a group counts against both families' quotas.
        v4++;
        v6++;
        const v = checkSgText('UserIdGroupPair.Description', g.Description, SG_PAIR_TEXT);
        if (v) return v;
      }
      for (const l of sub(perm, 'PrefixListIds')) {
        const list = await this.prefixList(l.PrefixListId ?? '');
        if (list === undefined) return { code: 'InvalidPrefixListId.NotFound', message: `The prefix list ID '${l.PrefixListId}' does not exist` };
        if (list.family === 'IPv6') v6 += list.entries;
        else v4 += list.entries;
        const v = checkSgText('PrefixListId.Description', l.Description, SG_TEXT);
        if (v) return v;
      }
    }
    const tagged = this.ec2TagSpecifications(p);
    if (tagged) return tagged;
    const id = p.get('GroupId') ?? '';
    const res = await this.moto.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })).catch(() => undefined);
    for (const perm of res?.SecurityGroups?.[0]?.IpPermissions ?? []) {
      v4 += (perm.IpRanges?.length ?? 0) + (perm.UserIdGroupPairs?.length ?? 0);
      for (const l of perm.PrefixListIds ?? []) {
        const list = await this.prefixList(l.PrefixListId ?? '');
        if (list?.family === 'IPv6') v6 += list.entries;
        else v4 += list?.entries ?? 1;
      }
      v6 += (perm.Ipv6Ranges?.length ?? 0) + (perm.UserIdGroupPairs?.length ?? 0);
    }
    const limit = this.state.quotas.inboundRulesPerGroupPerFamily;
    if (v4 > limit || v6 > limit) {
      return { code: 'RulesPerSecurityGroupLimitExceeded', message: `The maximum number of rules per security group (${limit}) has been reached.` };
    }
    return undefined;
  }

  /**
   * VPC quotas (…/vpc/latest/userguide/amazon-vpc-limits.html): "When you reference a prefix list in a
   * security group rule, the maximum number of entries for the prefix list counts as the same number of
   * rules for the security group" (of the list's address family, the quota being per family). moto
   * counts one. Undefined: no such list (moto accepts any ID).
   */
  private async prefixList(id: string): Promise<{ entries: number; family: string } | undefined> {
    const res = await this.moto.ec2.send(new DescribeManagedPrefixListsCommand({ PrefixListIds: [id] })).catch(() => undefined);
    const list = res?.PrefixLists?.find((l) => l.PrefixListId === id);
    return list ? { entries: list.MaxEntries ?? 1, family: list.AddressFamily ?? 'IPv4' } : undefined;
  }

  private async createLoadBalancer(p: URLSearchParams): Promise<RuleViolation | undefined> {
    const name = p.get('Name') ?? '';
    const invalid = this.name('load balancer', name) ?? checkElbTags(members(p, 'Tags.member'), 0, this.state.quotas.tagsPerResource);
    if (invalid) return invalid;
    // CreateLoadBalancer: "If you attempt to create multiple load balancers with the same settings,
    // each call succeeds"; otherwise DuplicateLoadBalancerNameException, "A load balancer with the
    // specified name already exists" (moto makes a second one with the name). Compared here: the
    // scheme and the security groups. Read by name: the NLB may have been made around the proxy.
    const existing = (await this.moto.elbv2.send(new DescribeLoadBalancersCommand({ Names: [name] })).catch(() => undefined))?.LoadBalancers?.[0];
    if (existing) {
      const groups = (list: string[] | undefined) => [...(list ?? [])].sort().join(',');
      const same = (existing.Scheme ?? 'internet-facing') === (p.get('Scheme') ?? 'internet-facing') && groups(existing.SecurityGroups) === groups(members(p, 'SecurityGroups.member').map((m) => m[''] ?? ''));
      return same ? undefined : { code: 'DuplicateLoadBalancerName', message: `A load balancer with the name ${name} already exists` };
    }
    const names = await this.existingLoadBalancers();
    if (names.size >= this.state.quotas.loadBalancersPerRegion) {
      return { code: 'TooManyLoadBalancers', message: `You've reached the limit on the number of load balancers (${this.state.quotas.loadBalancersPerRegion}) for your account` };
    }
    const mappings = members(p, 'SubnetMappings.member');
    // ELB API reference, CreateLoadBalancerInput.SubnetMappings: "You can specify only one subnet per Availability Zone".
    const subnetIds = mappings.map((m) => m.SubnetId ?? '');
    const subnets = (await this.moto.ec2.send(new DescribeSubnetsCommand({ SubnetIds: subnetIds })).catch(() => undefined))?.Subnets ?? [];
    const zones = subnets.map((s) => s.AvailabilityZone ?? '');
    if (new Set(subnetIds).size !== subnetIds.length || new Set(zones).size !== zones.length) {
      return { code: 'InvalidConfigurationRequest', message: 'You can specify only one subnet per Availability Zone' };
    }
    // Network Load Balancer user guide, "Availability Zones and subnets": each subnet needs at least 8 free IP addresses.
    const full = subnets.find((s) => (s.AvailableIpAddressCount ?? 8) < 8);
    if (full) return { code: 'InvalidSubnet', message: `Not enough IP space available in ${full.SubnetId}. ELB requires at least 8 free IP addresses in each subnet.` };
    const dualStack = dualStackSubnets(p.get('IpAddressType') ?? 'ipv4', subnets);
    if (dualStack) return dualStack;
    const sourceNat = sourceNatPrefixes(p, mappings, subnets);
    if (sourceNat) return sourceNat;
    for (const m of mappings) {
      if (m.IPv6Address === undefined) continue;
      // LBC annotation guide, ipv6-addresses: "NLB must be dualstack", "You must specify the IPv6
      // addresses from the load balancer subnet IPv6 ranges" (SubnetMapping.IPv6Address).
      if (p.get('IpAddressType') !== 'dualstack') return { code: 'ValidationError', message: 'IPv6 addresses can only be specified for dualstack load balancers' };
      const ranges = ipv6Ranges(subnets.find((s) => s.SubnetId === m.SubnetId));
      if (!ranges.some((r) => cidrContains(r, m.IPv6Address!))) return { code: 'InvalidConfigurationRequest', message: `The IPv6 address '${m.IPv6Address}' is not in the IPv6 range of subnet '${m.SubnetId}'` };
    }
    for (const m of mappings) {
      // An address sits on one network interface: held by a live NLB, or a deleted one not yet released.
      const holder = this.holdings.find((h) => (m.AllocationId && h.allocationIds.includes(m.AllocationId)) || (m.PrivateIPv4Address && h.privateIps.includes(m.PrivateIPv4Address)));
      if (holder) {
        const what = m.AllocationId ?? m.PrivateIPv4Address ?? '';
        if (holder.releasingFor !== undefined) return this.refuse(holder, 'ResourceInUse', `The address ${what} is in use by a network interface`);
        return { code: 'ResourceInUse', message: `The address ${what} is in use by load balancer ${holder.name}` };
      }
      if (m.AllocationId) {
        const res = await this.moto.ec2.send(new DescribeAddressesCommand({ AllocationIds: [m.AllocationId] })).catch(() => undefined);
        if (res?.Addresses?.[0]?.AssociationId) return { code: 'ResourceInUse', message: `The allocation ID '${m.AllocationId}' is already associated` };
      }
    }
    return undefined;
  }

  /** SetSubnets' EnablePrefixForIpv6SourceNat, against the NLB's own IP address type (the request does not carry it). */
  private async setSubnetsSourceNat(p: URLSearchParams): Promise<RuleViolation | undefined> {
    if (p.get('EnablePrefixForIpv6SourceNat') !== 'on') return sourceNatValue(p.get('EnablePrefixForIpv6SourceNat'));
    const lb = (await this.moto.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [p.get('LoadBalancerArn') ?? ''] })).catch(() => undefined))?.LoadBalancers?.[0];
    return lb?.IpAddressType === 'dualstack' ? undefined : SOURCE_NAT_NEEDS_DUALSTACK;
  }

  private async healthCheck(p: URLSearchParams, modifiedArn: string | undefined): Promise<RuleViolation | undefined> {
    let protocol = p.get('HealthCheckProtocol') ?? undefined;
    let interval = p.has('HealthCheckIntervalSeconds') ? Number(p.get('HealthCheckIntervalSeconds')) : undefined;
    let timeout = p.has('HealthCheckTimeoutSeconds') ? Number(p.get('HealthCheckTimeoutSeconds')) : undefined;
    if (modifiedArn !== undefined) {
      const res = await this.moto.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [modifiedArn] })).catch(() => undefined);
      const tg = res?.TargetGroups?.[0];
      protocol ??= tg?.HealthCheckProtocol;
      interval ??= tg?.HealthCheckIntervalSeconds;
      timeout ??= tg?.HealthCheckTimeoutSeconds;
    }
    const effectiveInterval = interval ?? 30;
    const effectiveTimeout = timeout ?? defaultTimeout(protocol ?? 'TCP');
    // NLB health checks (…/network/target-group-health-checks.html): the timeout cannot exceed the interval.
    if (effectiveTimeout > effectiveInterval) {
      return { code: 'ValidationError', message: `Health check timeout '${effectiveTimeout}' must be smaller than or equal to the interval '${effectiveInterval}'` };
    }
    return undefined;
  }

  /** ELB API reference, CreateListenerInput/ModifyListenerInput.Certificates: "[HTTPS and TLS listeners] The default certificate for the listener. You must provide exactly one certificate." (moto's ModifyListener does not check it for TLS.) */
  private tlsCertificates(p: URLSearchParams): RuleViolation | undefined {
    if (p.get('Protocol') !== 'TLS') return undefined;
    const certificates = members(p, 'Certificates.member');
    if (certificates.length !== 1) return { code: 'ValidationError', message: 'You must provide exactly one certificate for a TLS listener' };
    return undefined;
  }

  private async createListener(p: URLSearchParams): Promise<RuleViolation | undefined> {
    const arn = p.get('LoadBalancerArn') ?? '';
    const res = await this.moto.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: arn })).catch(() => undefined);
    const count = res?.Listeners?.length ?? 0;
    if (count >= this.state.quotas.listenersPerLoadBalancer) {
      return { code: 'TooManyListeners', message: `You've reached the limit on the number of listeners (${this.state.quotas.listenersPerLoadBalancer}) per load balancer` };
    }
    return checkElbTags(members(p, 'Tags.member'), 0, this.state.quotas.tagsPerResource);
  }

  /** arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id> */
  private isIPv6Group(arn: string): boolean {
    return this.ipv6Groups.has(arn.split('/')[1] ?? '');
  }

  private async targetGroup(arn: string): Promise<TargetGroup | undefined> {
    const res = await this.moto.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [arn] })).catch(() => undefined);
    return res?.TargetGroups?.[0];
  }

  private async loadBalancer(arn: string): Promise<LoadBalancer | undefined> {
    const res = await this.moto.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] })).catch(() => undefined);
    return res?.LoadBalancers?.[0];
  }

  /** A listener's NLB and protocol (what a ModifyListener that does not change them keeps). */
  private async listener(listenerArn: string): Promise<{ loadBalancerArn: string; protocol?: string }> {
    const res = await this.moto.elbv2.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] })).catch(() => undefined);
    const l = res?.Listeners?.[0];
    return { loadBalancerArn: l?.LoadBalancerArn ?? '', ...(l?.Protocol ? { protocol: l.Protocol } : {}) };
  }

  /**
   * NLB target groups, IP address type: "IPv6 target groups can only be associated with dualstack
   * load balancers with TCP or TLS listeners" (moto forwards any listener to any group).
   */
  private async ipv6Listener(p: URLSearchParams, current: () => Promise<{ loadBalancerArn: string; protocol?: string }>): Promise<RuleViolation | undefined> {
    const forwardTo = members(p, 'DefaultActions.member').map((a) => a.TargetGroupArn ?? '').filter((a) => a !== '');
    for (const arn of forwardTo) {
      if (!this.isIPv6Group(arn)) continue;
      const { loadBalancerArn, protocol: kept } = await current();
      const lb = await this.loadBalancer(loadBalancerArn);
      if (lb?.IpAddressType !== 'dualstack') return { code: 'InvalidConfigurationRequest', message: `IPv6 target groups can only be associated with dualstack load balancers` };
      const protocol = p.get('Protocol') ?? kept ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'TLS') return { code: 'InvalidConfigurationRequest', message: `IPv6 target groups can only be used with TCP or TLS listeners, not ${protocol}` };
    }
    return undefined;
  }

  /** SetIpAddressType: dualstack needs IPv6 blocks on the NLB's subnets; back to ipv4 not while a listener forwards to an IPv6 group. */
  private async setIpAddressType(p: URLSearchParams): Promise<RuleViolation | undefined> {
    const lb = await this.loadBalancer(p.get('LoadBalancerArn') ?? '');
    if (!lb) return undefined;
    const type = p.get('IpAddressType') ?? '';
    if (type === 'dualstack') {
      const ids = (lb.AvailabilityZones ?? []).map((z) => z.SubnetId ?? '');
      const subnets = (await this.moto.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids })).catch(() => undefined))?.Subnets ?? [];
      return dualStackSubnets(type, subnets);
    }
    const listeners = (await this.moto.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn })).catch(() => undefined))?.Listeners ?? [];
    for (const l of listeners) {
      for (const a of l.DefaultActions ?? []) {
        if (a.TargetGroupArn && this.isIPv6Group(a.TargetGroupArn)) {
          return { code: 'InvalidConfigurationRequest', message: `Listener ${l.Port} forwards to an IPv6 target group, which needs a dualstack load balancer` };
        }
      }
    }
    return undefined;
  }

  private async registerTargets(p: URLSearchParams): Promise<RuleViolation | undefined> {
    const tgArn = p.get('TargetGroupArn') ?? '';
    const targets = members(p, 'Targets.member').map((t) => ({ id: t.Id ?? '', port: t.Port ?? '' }));
    // NLB target groups, IP address type: "All IP addresses within a target group must have the same
    // IP address type. For example, you can't register an IPv4 target with an IPv6 target group."
    const group = targets.some((t) => ipaddr.isValid(t.id)) ? await this.targetGroup(tgArn) : undefined;
    if (group?.TargetType === 'ip') {
      const family = group.IpAddressType === 'ipv6' ? 'ipv6' : 'ipv4';
      const other = targets.find((t) => (ipaddr.isValid(t.id) ? ipaddr.parse(t.id).kind() : '') !== family);
      if (other) return { code: 'InvalidTarget', message: `The IP address '${other.id}' is not an ${family === 'ipv6' ? 'IPv6' : 'IPv4'} address, as the target group's IP address type requires` };
    }
    const res = await this.moto.ec2.send(new DescribeInstancesCommand({ InstanceIds: targets.map((t) => t.id) })).catch(() => undefined);
    const instances = res?.Reservations?.flatMap((r) => r.Instances ?? []) ?? [];
    for (const i of instances) if (i.InstanceId) this.zoneOf.set(i.InstanceId, i.Placement?.AvailabilityZone ?? '');
    // ELB API reference, RegisterTargets: "If the target is an EC2 instance, it must be in the running state when you register it."
    const notRunning = instances.filter((i) => i.State?.Name !== 'running').map((i) => i.InstanceId ?? '');
    if (notRunning.length > 0) {
      return { code: 'InvalidTarget', message: `The following targets are not in a running state and cannot be registered: '${notRunning.join("', '")}'` };
    }
    // NLB quotas: targets per zone per NLB, summed over the target groups its listeners use.
    const lb = this.loadBalancerOf.get(tgArn);
    const groups = lb === undefined ? [tgArn] : [...this.loadBalancerOf].filter(([, l]) => l === lb).map(([tg]) => tg);
    const perZone = new Map<string, number>();
    for (const tg of groups) {
      const keys = new Set(this.registered.get(tg) ?? []);
      if (tg === tgArn) for (const t of targets) keys.add(`${t.id}:${t.port}`);
      for (const key of keys) {
        const zone = this.zoneOf.get(key.split(':')[0]!) ?? '';
        perZone.set(zone, (perZone.get(zone) ?? 0) + 1);
      }
    }
    const limit = this.state.quotas.targetsPerZonePerLoadBalancer;
    const over = [...perZone.entries()].find(([, n]) => n > limit);
    if (over) return { code: 'TooManyTargets', message: `You've reached the limit on the number of targets (${limit}) in Availability Zone ${over[0]}` };
    return undefined;
  }
}

// ELB API reference, CreateLoadBalancerInput / SetSubnetsInput.EnablePrefixForIpv6SourceNat:
// "[Network Load Balancers with UDP listeners] ... The IP address type must be dualstack", values
// on | off (moto ignores the parameter).
const SOURCE_NAT_NEEDS_DUALSTACK: RuleViolation = { code: 'ValidationError', message: 'EnablePrefixForIpv6SourceNat requires the dualstack IP address type' };

function sourceNatValue(value: string | null): RuleViolation | undefined {
  if (value === null || value === 'on' || value === 'off') return undefined;
  return { code: 'ValidationError', message: `1 validation error detected: Value '${value}' at 'enablePrefixForIpv6SourceNat' failed to satisfy constraint: Member must satisfy enum value set: [on, off]` };
}

/**
 * CreateLoadBalancer's source NAT settings: the switch as above, and SubnetMapping.SourceNatIpv6Prefix
 * "an IPv6 prefix (/80 netmask) from the subnet CIDR block or auto_assigned".
 */
function sourceNatPrefixes(p: URLSearchParams, mappings: Record<string, string>[], subnets: Subnet[]): RuleViolation | undefined {
  const value = p.get('EnablePrefixForIpv6SourceNat');
  const bad = sourceNatValue(value);
  if (bad) return bad;
  if (value === 'on' && p.get('IpAddressType') !== 'dualstack') return SOURCE_NAT_NEEDS_DUALSTACK;
  for (const m of mappings) {
    const prefix = m.SourceNatIpv6Prefix;
    if (prefix === undefined || prefix === 'auto_assigned') continue;
    const [address, length] = prefix.split('/');
    const ranges = ipv6Ranges(subnets.find((s) => s.SubnetId === m.SubnetId));
    if (length !== '80' || address === undefined || !ipaddr.IPv6.isValid(address) || !ranges.some((r) => cidrContains(r, address))) {
      return { code: 'ValidationError', message: `The source NAT IPv6 prefix '${prefix}' must be a /80 prefix from the IPv6 CIDR block of subnet '${m.SubnetId}', or auto_assigned` };
    }
  }
  return undefined;
}
