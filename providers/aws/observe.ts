// Reads what AWS holds for one Service. The anchor is the Service's security group: it is found by
// tag (EC2 can filter on tags, ELB cannot), it is created before anything else and deleted last, and
// it names its load balancer. Describes are batched by 20 names/ARNs. The same assembly serves the
// list-level snapshot of a whole resync (readListSnapshot), which ReadCache compares with its deep reads.
import { DescribeSecurityGroupsCommand, type IpPermission, type SecurityGroup } from '@aws-sdk/client-ec2';
import {
  DescribeListenerAttributesCommand,
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type Listener,
  type LoadBalancer,
  type TargetGroup,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { ServiceRef } from '../provider.js';
import { isCode, type AwsApi } from './awsApi.js';
import type { AwsNetwork, AwsObserved, IngressRule, ObservedListener, ObservedStack, ObservedTargetGroup } from './awsTypes.js';
import { ELB_BATCH, inBatches } from './batches.js';
import { listLoadBalancers, listTargetGroups } from './listAll.js';
import { ADDRESSES_TAG, ATTRIBUTES_TAG, LISTENER_ATTRIBUTES_TAG, clusterTagKey, HELD_ADDRESSES_TAG, clusterOwns, LOAD_BALANCER_NAME_TAG, PLACEMENT_TAG, SERVICE_UID_TAG, tagMap } from './tags.js';

function splitAddresses(tag: string | undefined): string[] {
  return (tag ?? '').split(' ').filter((a) => a !== '');
}

export function ingressRules(permissions: IpPermission[] | undefined): IngressRule[] {
  const rules: IngressRule[] = [];
  for (const p of permissions ?? []) {
    if (p.IpProtocol === 'icmp' && p.FromPort !== undefined && p.ToPort !== undefined) {
      for (const r of p.IpRanges ?? []) if (r.CidrIp) rules.push({ protocol: 'icmp', port: p.FromPort, icmpCode: p.ToPort, source: r.CidrIp });
      continue;
    }
    // ICMPv6 (AWS may answer with its protocol number, 58).
    if ((p.IpProtocol === 'icmpv6' || p.IpProtocol === '58') && p.FromPort !== undefined && p.ToPort !== undefined) {
      for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) rules.push({ protocol: 'icmpv6', port: p.FromPort, icmpCode: p.ToPort, source: r.CidrIpv6 });
      continue;
    }
    if ((p.IpProtocol !== 'tcp' && p.IpProtocol !== 'udp') || p.FromPort === undefined || p.FromPort !== p.ToPort) continue;
    const protocol = p.IpProtocol;
    for (const r of p.IpRanges ?? []) if (r.CidrIp) rules.push({ protocol, port: p.FromPort, source: r.CidrIp });
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) rules.push({ protocol, port: p.FromPort, source: r.CidrIpv6 });
    for (const l of p.PrefixListIds ?? []) if (l.PrefixListId) rules.push({ protocol, port: p.FromPort, source: l.PrefixListId });
  }
  return rules;
}

/** The owned security groups (anchors) of one Service, or of every Service of the cluster. */
export async function describeAnchors(api: AwsApi, clusterName: string, uid?: string): Promise<SecurityGroup[]> {
  const filters = [
    { Name: `tag:${clusterTagKey(clusterName)}`, Values: ['owned'] },
    uid !== undefined ? { Name: `tag:${SERVICE_UID_TAG}`, Values: [uid] } : { Name: 'tag-key', Values: [SERVICE_UID_TAG] },
  ];
  const groups: SecurityGroup[] = [];
  let token: string | undefined;
  do {
    const page = await api.ec2('DescribeSecurityGroups', false, (c) => c.send(new DescribeSecurityGroupsCommand({ Filters: filters, NextToken: token })));
    groups.push(...(page.SecurityGroups ?? []));
    token = page.NextToken;
  } while (token);
  return groups.filter((g) => tagMap(g.Tags)[LOAD_BALANCER_NAME_TAG] !== undefined);
}

/** DescribeLoadBalancers by name, 20 at a time; AWS fails the whole call if one is missing, so fall back to one by one. */
export async function describeLoadBalancersByName(api: AwsApi, names: string[]): Promise<LoadBalancer[]> {
  const found: LoadBalancer[] = [];
  for (const batch of inBatches(names, ELB_BATCH)) {
    try {
      const res = await api.elb('DescribeLoadBalancers', false, (c) => c.send(new DescribeLoadBalancersCommand({ Names: batch })));
      found.push(...(res.LoadBalancers ?? []));
    } catch (error) {
      if (!isCode(error, 'LoadBalancerNotFoundException', 'LoadBalancerNotFound')) throw error;
      if (batch.length === 1) continue;
      for (const name of batch) found.push(...(await describeLoadBalancersByName(api, [name])));
    }
  }
  return found;
}

/** DescribeTargetGroups by name with the same one-by-one fallback. */
export async function describeTargetGroupsByName(api: AwsApi, names: string[]): Promise<TargetGroup[]> {
  const found: TargetGroup[] = [];
  for (const batch of inBatches(names, ELB_BATCH)) {
    try {
      const res = await api.elb('DescribeTargetGroups', false, (c) => c.send(new DescribeTargetGroupsCommand({ Names: batch })));
      found.push(...(res.TargetGroups ?? []));
    } catch (error) {
      if (!isCode(error, 'TargetGroupNotFoundException', 'TargetGroupNotFound')) throw error;
      if (batch.length === 1) continue;
      for (const name of batch) found.push(...(await describeTargetGroupsByName(api, [name])));
    }
  }
  return found;
}

export async function describeElbTags(api: AwsApi, arns: string[]): Promise<Map<string, Record<string, string>>> {
  const tags = new Map<string, Record<string, string>>();
  for (const batch of inBatches(arns, ELB_BATCH)) {
    const res = await api.elb('DescribeTags', false, (c) => c.send(new DescribeTagsCommand({ ResourceArns: batch })));
    for (const d of res.TagDescriptions ?? []) if (d.ResourceArn) tags.set(d.ResourceArn, tagMap(d.Tags));
  }
  return tags;
}

export function healthCheckOf(tg: TargetGroup): ObservedTargetGroup['healthCheck'] {
  const hc: ObservedTargetGroup['healthCheck'] = {
    protocol: (tg.HealthCheckProtocol ?? 'TCP') as 'TCP' | 'HTTP' | 'HTTPS',
    port: tg.HealthCheckPort ?? 'traffic-port',
  };
  if (hc.protocol !== 'TCP' && tg.HealthCheckPath) hc.path = tg.HealthCheckPath;
  if (tg.HealthCheckIntervalSeconds !== undefined) hc.intervalSeconds = tg.HealthCheckIntervalSeconds;
  if (tg.HealthCheckTimeoutSeconds !== undefined) hc.timeoutSeconds = tg.HealthCheckTimeoutSeconds;
  if (tg.HealthyThresholdCount !== undefined) hc.healthyThreshold = tg.HealthyThresholdCount;
  if (tg.UnhealthyThresholdCount !== undefined) hc.unhealthyThreshold = tg.UnhealthyThresholdCount;
  if (tg.Matcher?.HttpCode !== undefined) hc.successCodes = tg.Matcher.HttpCode;
  return hc;
}

/** A target group's attributes as key -> value (the diff compares only the keys it manages). */
export async function describeTargetGroupAttributes(api: AwsApi, arn: string): Promise<Record<string, string>> {
  const res = await api.elb('DescribeTargetGroupAttributes', false, (c) => c.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn })));
  return Object.fromEntries((res.Attributes ?? []).filter((a) => a.Key !== undefined).map((a) => [a.Key!, a.Value ?? '']));
}

export async function describeListenerAttributes(api: AwsApi, arn: string): Promise<Record<string, string>> {
  const res = await api.elb('DescribeListenerAttributes', false, (c) => c.send(new DescribeListenerAttributesCommand({ ListenerArn: arn })));
  return Object.fromEntries((res.Attributes ?? []).filter((a) => a.Key !== undefined).map((a) => [a.Key!, a.Value ?? '']));
}

export async function describeTargets(api: AwsApi, arn: string): Promise<{ id: string; port: number }[]> {
  const res = await api.elb('DescribeTargetHealth', false, (c) => c.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })));
  return (res.TargetHealthDescriptions ?? [])
    // Draining targets are already on their way out: deregistering them again would be a wasted call.
    .filter((d) => d.TargetHealth?.State !== 'draining' && d.Target?.Id)
    .map((d) => ({ id: d.Target!.Id!, port: d.Target!.Port ?? 0 }));
}

/** The stacks of one Service's anchors, before anything is read from ELB. */
export function stacksOf(anchors: SecurityGroup[]): ObservedStack[] {
  return anchors.map((g) => {
    const tags = tagMap(g.Tags);
    return {
      lbName: tags[LOAD_BALANCER_NAME_TAG]!,
      placement: tags[PLACEMENT_TAG] ?? '',
      securityGroup: { id: g.GroupId!, ingress: ingressRules(g.IpPermissions), tags },
      holds: splitAddresses(tags[HELD_ADDRESSES_TAG]),
      listeners: [],
      targetGroups: [],
    };
  });
}

/** What DescribeLoadBalancers and DescribeTags say of a stack's NLB (attributes are a deep read). */
export function withLoadBalancer(stack: ObservedStack, lb: LoadBalancer, lbTags: Record<string, string>, clusterName: string, uid: string): NonNullable<ObservedStack['loadBalancer']> {
  const reported = (lb.AvailabilityZones ?? []).flatMap((z) => (z.LoadBalancerAddresses ?? []).filter((a) => a.AllocationId && a.IpAddress).map((a) => a.IpAddress!));
  const privates = (lb.AvailabilityZones ?? []).flatMap((z) => (z.LoadBalancerAddresses ?? []).flatMap((a) => [a.PrivateIPv4Address, a.IPv6Address].filter((x): x is string => x !== undefined)));
  stack.holds = [...new Set([...stack.holds, ...reported, ...privates, ...splitAddresses(lbTags[ADDRESSES_TAG]), ...splitAddresses(lbTags[HELD_ADDRESSES_TAG])])];
  stack.loadBalancer = {
    arn: lb.LoadBalancerArn!,
    dnsName: lb.DNSName ?? '',
    state: lb.State?.Code ?? 'provisioning',
    owned: clusterOwns(lbTags, clusterName) && lbTags[SERVICE_UID_TAG] === uid,
    tags: lbTags,
    addresses: reported.length > 0 ? reported : splitAddresses(lbTags[ADDRESSES_TAG]),
    securityGroups: lb.SecurityGroups ?? [],
    ipAddressType: lb.IpAddressType ?? 'ipv4',
    ipv6SourceNat: lb.EnablePrefixForIpv6SourceNat ?? 'off',
    zones: (lb.AvailabilityZones ?? []).map((z) => ({
      zone: z.ZoneName ?? '',
      subnetId: z.SubnetId ?? '',
      // An Elastic IP fixes the zone's mapping; AWS-chosen private addresses do not.
      pinned: (z.LoadBalancerAddresses ?? []).some((a) => a.AllocationId !== undefined),
    })),
  };
  return stack.loadBalancer;
}

/** What DescribeTargetGroups and DescribeTags say of a target group (targets and attributes are deep reads). */
export function targetGroupOf(g: TargetGroup, gTags: Record<string, string>, clusterName: string, uid: string): ObservedTargetGroup {
  return {
    arn: g.TargetGroupArn!,
    name: g.TargetGroupName ?? '',
    protocol: g.Protocol ?? '',
    port: g.Port ?? 0,
    owned: clusterOwns(gTags, clusterName) && gTags[SERVICE_UID_TAG] === uid,
    tags: gTags,
    healthCheck: healthCheckOf(g),
    targets: [],
  };
}

/** What DescribeListeners (or CreateListener) says of a listener (its attributes are a deep read). */
export function listenerOf(l: Listener): ObservedListener {
  return {
    arn: l.ListenerArn!,
    port: l.Port ?? 0,
    protocol: l.Protocol ?? '',
    targetGroupArn: l.DefaultActions?.find((a) => a.Type === 'forward')?.TargetGroupArn ?? l.DefaultActions?.[0]?.TargetGroupArn,
    ...(l.Certificates?.[0]?.CertificateArn ? { certificateArn: l.Certificates[0].CertificateArn } : {}),
    ...(l.SslPolicy ? { sslPolicy: l.SslPolicy } : {}),
    ...(l.AlpnPolicy?.[0] ? { alpnPolicy: l.AlpnPolicy[0] } : {}),
  };
}

/** What list-level reads show of the whole cluster: every anchor, and the NLBs, groups and tags they lead to. */
export interface ListSnapshot {
  anchors: SecurityGroup[];
  loadBalancers: Map<string, LoadBalancer>;
  targetGroups: TargetGroup[];
  tags: Map<string, Record<string, string>>;
}

/**
 * One page-wise read of every anchor, NLB and target group, and DescribeTags 20 ARNs a call for
 * ours: a few calls for a whole resync. `listenerGroups` are groups our listeners forward to that
 * may not list their NLB (see observeService).
 */
export async function readListSnapshot(api: AwsApi, clusterName: string, listenerGroups: ReadonlySet<string>, anchorsRead?: Promise<SecurityGroup[]>): Promise<ListSnapshot> {
  const [anchors, lbs, groups] = await Promise.all([anchorsRead ?? describeAnchors(api, clusterName), listLoadBalancers(api), listTargetGroups(api)]);
  const names = new Set(anchors.map((g) => tagMap(g.Tags)[LOAD_BALANCER_NAME_TAG]));
  const loadBalancers = new Map(lbs.filter((lb) => names.has(lb.LoadBalancerName)).map((lb) => [lb.LoadBalancerName!, lb]));
  const lbArns = new Set([...loadBalancers.values()].map((lb) => lb.LoadBalancerArn!));
  const targetGroups = groups.filter((g) => (g.LoadBalancerArns ?? []).some((a) => lbArns.has(a)) || listenerGroups.has(g.TargetGroupArn ?? ''));
  const tags = await describeElbTags(api, [...lbArns, ...targetGroups.map((g) => g.TargetGroupArn!)]);
  return { anchors, loadBalancers, targetGroups, tags };
}

/** One Service's stacks as the snapshot shows them: everything but listeners, targets and attributes. */
export function listLevelStacks(snapshot: ListSnapshot, clusterName: string, uid: string, listenerGroups: ReadonlySet<string>): ObservedStack[] {
  const stacks = stacksOf(snapshot.anchors.filter((g) => tagMap(g.Tags)[SERVICE_UID_TAG] === uid));
  for (const stack of stacks) {
    const lb = snapshot.loadBalancers.get(stack.lbName);
    if (!lb) continue;
    const arn = lb.LoadBalancerArn!;
    withLoadBalancer(stack, lb, snapshot.tags.get(arn) ?? {}, clusterName, uid);
    stack.targetGroups = snapshot.targetGroups
      .filter((g) => (g.LoadBalancerArns ?? []).includes(arn) || listenerGroups.has(g.TargetGroupArn!))
      .map((g) => targetGroupOf(g, snapshot.tags.get(g.TargetGroupArn!) ?? {}, clusterName, uid));
  }
  return stacks;
}

/** The list-level part of stacks, as a comparable key (what a snapshot can confirm unchanged). */
export function listLevelKey(stacks: ObservedStack[]): string {
  // Keys sorted: tags come back from AWS in another order than they were written in.
  const sortedKeys = (_: string, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v);
  return JSON.stringify(
    stacks.map((s) => ({
      ...s,
      // Rules in a stable order: AWS's grouping of them need not be the order they were written in.
      securityGroup: { ...s.securityGroup, ingress: [...s.securityGroup.ingress].map((r) => JSON.stringify(r)).sort() },
      holds: [...s.holds].sort(),
      listeners: undefined,
      loadBalancer: s.loadBalancer && { ...s.loadBalancer, attributes: undefined, crossZone: undefined },
      targetGroups: [...s.targetGroups].sort((a, b) => a.arn.localeCompare(b.arn)).map((g) => ({ ...g, targets: undefined, attributes: undefined })),
    })),
    sortedKeys,
  );
}

/**
 * Every read of one Service: the list-level ones scoped to it, then the deep ones (readDeep).
 * A delete needs no targets or attributes (`forDelete`): two reads fewer per port.
 */
export async function observeService(api: AwsApi, clusterName: string, ref: ServiceRef, network: AwsNetwork, forDelete = false): Promise<AwsObserved> {
  const anchors = await describeAnchors(api, clusterName, ref.uid);
  if (anchors.length === 0) return { ref, stacks: [], network };

  const stacks = stacksOf(anchors);
  const lbs = await describeLoadBalancersByName(
    api,
    stacks.map((s) => s.lbName),
  );
  const perLb = await Promise.all(
    lbs.map(async (lb) => {
      const arn = lb.LoadBalancerArn!;
      const [listeners, groups] = await Promise.all([
        describeListeners(api, arn).then((Listeners) => ({ Listeners })),
        api
          .elb('DescribeTargetGroups', false, (c) => c.send(new DescribeTargetGroupsCommand({ LoadBalancerArn: arn })))
          // moto answers "not found" for a load balancer without target groups; AWS answers an empty list.
          .catch((error: unknown) => {
            if (isCode(error, 'TargetGroupNotFoundException', 'TargetGroupNotFound')) return { TargetGroups: [] };
            throw error;
          }),
      ]);
      // A group a listener forwards to but the load balancer's list lacks (moto does not link a group
      // that ModifyListener switched to; AWS does) is read by ARN, so the plan does not make it again.
      const listed = new Set((groups.TargetGroups ?? []).map((g) => g.TargetGroupArn));
      const missing = [...new Set((listeners.Listeners ?? []).flatMap((l) => (l.DefaultActions ?? []).map((a) => a.TargetGroupArn ?? '')))].filter((a) => a !== '' && !listed.has(a));
      const extra =
        missing.length === 0
          ? []
          : ((
              await api
                .elb('DescribeTargetGroups', false, (c) => c.send(new DescribeTargetGroupsCommand({ TargetGroupArns: missing })))
                .catch((error: unknown) => {
                  if (isCode(error, 'TargetGroupNotFoundException', 'TargetGroupNotFound')) return { TargetGroups: [] };
                  throw error;
                })
            ).TargetGroups ?? []);
      return { lb, listeners: listeners.Listeners ?? [], groups: [...(groups.TargetGroups ?? []), ...extra] };
    }),
  );
  const tags = await describeElbTags(api, perLb.flatMap((p) => [p.lb.LoadBalancerArn!, ...p.groups.map((g) => g.TargetGroupArn!)]));

  for (const { lb, listeners, groups } of perLb) {
    const stack = stacks.find((s) => s.lbName === lb.LoadBalancerName);
    if (!stack) continue;
    withLoadBalancer(stack, lb, tags.get(lb.LoadBalancerArn!) ?? {}, clusterName, ref.uid);
    stack.targetGroups = groups.map((g) => targetGroupOf(g, tags.get(g.TargetGroupArn!) ?? {}, clusterName, ref.uid));
    if (forDelete) stack.listeners = listeners.map(listenerOf);
    else await readDeep(api, stack, listeners);
  }

  return { ref, stacks, network };
}

/** A TLS listener's SNI certificates (not the default); AWS allows 25 per listener, one page holds 400. */
async function describeExtraCertificates(api: AwsApi, listenerArn: string): Promise<string[]> {
  const res = await api.elb('DescribeListenerCertificates', false, (c) => c.send(new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn, PageSize: 400 })));
  return (res.Certificates ?? []).filter((c) => !c.IsDefault && c.CertificateArn).map((c) => c.CertificateArn!);
}

/** DescribeListeners of one NLB. */
export async function describeListeners(api: AwsApi, lbArn: string): Promise<Listener[]> {
  const res = await api.elb('DescribeListeners', false, (c) => c.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn })));
  return res.Listeners ?? [];
}

/**
 * The deep reads of a stack whose list-level part is known, each for drift that list-level reads
 * cannot show: its listeners (given, as DescribeListeners answered), for each of our groups its
 * targets (DescribeTargetHealth: membership) and attributes (stickiness, PROXY protocol), and the
 * NLB's and listeners' attributes where we manage them (their tags say so).
 */
export async function readDeep(api: AwsApi, stack: ObservedStack, listeners: Listener[]): Promise<void> {
  const loadBalancer = stack.loadBalancer;
  if (!loadBalancer) return;
  const lbTags = loadBalancer.tags;
  if (loadBalancer.owned && (lbTags[ADDRESSES_TAG] !== undefined || lbTags[ATTRIBUTES_TAG] !== undefined)) {
    const res = await api.elb('DescribeLoadBalancerAttributes', false, (c) => c.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: loadBalancer.arn })));
    loadBalancer.attributes = Object.fromEntries((res.Attributes ?? []).filter((a) => a.Key !== undefined).map((a) => [a.Key!, a.Value ?? '']));
    loadBalancer.crossZone = loadBalancer.attributes['load_balancing.cross_zone.enabled'] === 'true';
  }
  const listenerAttributes = loadBalancer.owned && lbTags[LISTENER_ATTRIBUTES_TAG] !== undefined;
  stack.listeners = await Promise.all(listeners.map(async (l) => ({
    ...(listenerAttributes ? { attributes: await describeListenerAttributes(api, l.ListenerArn!) } : {}),
    ...(loadBalancer.owned && l.Protocol === 'TLS' ? { extraCertificates: await describeExtraCertificates(api, l.ListenerArn!) } : {}),
    ...listenerOf(l),
  })));
  stack.targetGroups = await Promise.all(
    stack.targetGroups.map(async (group) => {
      if (!group.owned) return group;
      return { ...group, targets: await describeTargets(api, group.arn), attributes: await describeTargetGroupAttributes(api, group.arn) };
    }),
  );
}
