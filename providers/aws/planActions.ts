// Pure diff: what exists (observe) against what the Service wants (buildDesiredStack) gives an
// ordered, printable plan. Order matters for crash safety: the security group (our anchor) comes
// first and goes last; rules open before a port is served and close after it is gone.
import ipaddr from 'ipaddr.js';
import { ServiceConfigError, type DesiredLoadBalancer, type LoadBalancerIngress } from '../provider.js';
import type { AwsAction, AwsObserved, AwsPlan, AwsStep, DesiredPortGroup, DesiredStack, HealthCheckSettings, IngressRule, ObservedStack } from './awsTypes.js';
import { inBatches } from './batches.js';
import { AWS_DEFAULT_QUOTAS, checkLoadBalancerQuota, checkQuotas, type AwsQuotas } from './quotas.js';
import { buildDesiredStack, DEFAULT_HEALTH_CHECK_INTERVAL, defaultHealthCheckTimeout, withLoadBalancerName } from './desiredStack.js';
import { ATTRIBUTES_TAG, LISTENER_ATTRIBUTES_TAG, PLACEMENT_TAG } from './tags.js';
import { AWS_ANNOTATIONS } from './annotations.js';
import { TARGET_GROUP_PROTOCOLS, targetGroupName } from './names.js';

/** A resource with our name but without this cluster's ownership tag: never touched. */
/**
 * A resource with this Service's name that is not ours: only the user can remove or rename it, so
 * it is a config error (a Warning Event naming metadata.uid, retried at the slow end of the backoff),
 * not a cloud error retried at once.
 */
export class AwsOwnershipConflictError extends ServiceConfigError {
  constructor(message: string) {
    super('metadata.uid', message);
    this.name = 'AwsOwnershipConflictError';
  }
}

const ruleKey = (r: IngressRule) => `${r.protocol}/${r.port}${r.icmpCode !== undefined ? `.${r.icmpCode}` : ''}/${r.source}`;

export function healthCheckDiffers(observed: HealthCheckSettings, desired: HealthCheckSettings): boolean {
  if (observed.protocol !== desired.protocol || observed.port !== desired.port) return true;
  if (desired.protocol !== 'TCP' && (observed.path ?? '/') !== (desired.path ?? '/')) return true;
  // Optional settings are compared only when asked for, so AWS defaults do not cause endless updates.
  const optional = ['intervalSeconds', 'timeoutSeconds', 'healthyThreshold', 'unhealthyThreshold', 'successCodes'] as const;
  return optional.some((k) => desired[k] !== undefined && observed[k] !== desired[k]);
}

/**
 * ModifyTargetGroup keeps the timeout a group has when none is sent; AWS checks it against the new
 * interval. A timeout we do not manage that the new interval would undercut is sent as the protocol's
 * default, or the interval when that is shorter.
 */
export function withTimeoutWithinInterval(observed: HealthCheckSettings, desired: HealthCheckSettings): HealthCheckSettings {
  const interval = desired.intervalSeconds ?? observed.intervalSeconds ?? DEFAULT_HEALTH_CHECK_INTERVAL;
  const kept = observed.timeoutSeconds ?? defaultHealthCheckTimeout(observed.protocol);
  if (desired.timeoutSeconds !== undefined || kept <= interval) return desired;
  return { ...desired, timeoutSeconds: Math.min(defaultHealthCheckTimeout(desired.protocol), interval) };
}

/** What a new target group reports for the attributes we may set, so None on a new group is no call. */
export const TARGET_GROUP_ATTRIBUTE_DEFAULTS: Record<string, string> = { 'stickiness.enabled': 'false', 'proxy_protocol_v2.enabled': 'false' };

/** The desired attributes whose observed value (or AWS's default, for a new group) differs. */
export function attributesToChange(observed: Record<string, string> | undefined, desired: Record<string, string>): Record<string, string> {
  const have = { ...TARGET_GROUP_ATTRIBUTE_DEFAULTS, ...observed };
  return Object.fromEntries(Object.entries(desired).filter(([k, v]) => have[k] !== v));
}


function describeHealthCheck(hc: HealthCheckSettings): string {
  return `${hc.protocol}:${hc.port}${hc.path ? hc.path : ''}`;
}

/**
 * Status: the DNS name, then the Elastic IPs. With PROXY protocol the NLB's ip entries say ipMode
 * Proxy (KEP-1860), so kube-proxy does not short-circuit in-cluster traffic to them past the NLB (the
 * Pods would get it without the PROXY header). ipMode applies to ip entries only, not to the hostname.
 */
export function ingressFor(stack: ObservedStack, proxyProtocol = false): LoadBalancerIngress[] {
  const lb = stack.loadBalancer;
  if (!lb) return [];
  return [{ hostname: lb.dnsName }, ...lb.addresses.map((ip) => (proxyProtocol ? { ip, ipMode: 'Proxy' as const } : { ip }))];
}

export function planActions(observed: AwsObserved, desired: DesiredLoadBalancer, targetChunkSize = 100, quotas: AwsQuotas = AWS_DEFAULT_QUOTAS): AwsPlan {
  const stack = buildDesiredStack(desired, observed.network);
  checkQuotas(stack, quotas);
  if (!currentStackOf(observed, stack)?.loadBalancer) checkLoadBalancerQuota(observed.network.networkLoadBalancers, quotas);
  return planFromStack(observed, stack, targetChunkSize);
}

/**
 * The stack being converged: the one with the NLB's name, or one whose anchor records this placement
 * (adopted earlier), or one named as releases before in-place subnet changes named it (the subnets
 * annotation was part of the name then): that one is adopted under its name, not replaced.
 */
export function currentStackOf(observed: AwsObserved, stack: DesiredStack): ObservedStack | undefined {
  // A name the user chose is the only way to it (a new name is a new NLB).
  if (stack.customName) return observed.stacks.find((s) => s.lbName === stack.lbName);
  return (
    observed.stacks.find((s) => s.lbName === stack.lbName) ??
    observed.stacks.find((s) => s.placement === stack.placement) ??
    (stack.legacyLbName !== undefined ? observed.stacks.find((s) => s.lbName === stack.legacyLbName) : undefined)
  );
}

/** What every part of the AWS plan reads, and where it adds its steps. */
interface StackPlanning {
  observed: AwsObserved;
  stack: DesiredStack;
  /** The stack being converged, if it exists. */
  current: ObservedStack | undefined;
  /** Older stacks of this Service (a replaced placement). */
  retiring: ObservedStack[];
  /** The current stack's target groups, by name. */
  observedGroups: Map<string, ObservedStack['targetGroups'][number]>;
  add(step: AwsStep, description: string, extra?: { mutating?: boolean; membershipOnly?: boolean }): void;
}

/**
 * A replacement is announced; an old stack holding an address the successor needs goes first.
 * Answers those stacks (the others go once the successor is active).
 */
function planReplacement({ observed, stack, current, retiring, add }: StackPlanning): ObservedStack[] {
  if (!current && retiring.length > 0) {
    const from = retiring.map((s) => s.lbName);
    add({ op: 'announceReplacement', from }, `placement changed (scheme, subnets or addresses): a new NLB ${stack.lbName} replaces ${from.join(', ')}`, { mutating: false });
  }
  // An address (Elastic IP or private IPv4) sits on one network interface at a time, and an NLB's
  // interfaces outlive it for a while: if the successor needs an address an old stack holds, the old
  // one goes first (a short outage, which the replacement Event announces) and the create waits.
  const wanted = new Set(stack.heldAddresses);
  const blocking = current?.loadBalancer ? [] : retiring.filter((s) => s.holds.some((a) => wanted.has(a)));
  for (const old of blocking) {
    const shared = old.holds.filter((a) => wanted.has(a));
    add({ op: 'retireStack', stack: old, first: true }, `delete replaced NLB ${old.lbName} first: it holds ${shared.join(', ')}, which the new one needs`);
  }
  refuseAddressesInUse(observed, stack);

  return blocking;
}

/** 1. The security group: created first, it anchors everything else of this load balancer. Answers the rules to revoke (last). */
function planSecurityGroup({ stack, current, add }: StackPlanning): IngressRule[] {
  if (!current) add({ op: 'createSecurityGroup' }, `create security group ${stack.lbName} (anchor and source ranges of the NLB)`);
  const haveRules = new Map((current?.securityGroup.ingress ?? []).map((r) => [ruleKey(r), r]));
  const wantRules = new Map(stack.ingress.map((r) => [ruleKey(r), r]));
  const toAuthorize = [...wantRules.entries()].filter(([k]) => !haveRules.has(k)).map(([, r]) => r);
  const toRevoke = [...haveRules.entries()].filter(([k]) => !wantRules.has(k)).map(([, r]) => r);
  if (toAuthorize.length > 0) add({ op: 'authorizeIngress', rules: toAuthorize }, `allow ${toAuthorize.map(ruleKey).join(', ')} into the NLB`);

  return toRevoke;
}

/** 2. Target groups: created before the listeners that use them; health checks changed in place. */
function planTargetGroups({ stack, observedGroups, add }: StackPlanning): void {
  for (const g of stack.groups) {
    const have = observedGroups.get(g.targetGroupName);
    if (have && !have.owned) throw new AwsOwnershipConflictError(`target group ${g.targetGroupName} exists without this cluster's ownership tag; it is left alone`);
    if (!have) add({ op: 'createTargetGroup', group: g }, `create target group ${g.targetGroupName} ${g.protocol} for port ${g.port} (health check ${describeHealthCheck(g.healthCheck)})`);
    else if (healthCheckDiffers(have.healthCheck, g.healthCheck)) {
      add({ op: 'modifyTargetGroup', arn: have.arn, name: have.name, healthCheck: withTimeoutWithinInterval(have.healthCheck, g.healthCheck) }, `health check of ${have.name}: ${describeHealthCheck(have.healthCheck)} -> ${describeHealthCheck(g.healthCheck)}`);
    }
    // Stickiness (spec.sessionAffinity) and the annotation's attributes: set right after creation,
    // before a listener sends traffic, and changed in place afterwards.
    const attributes = attributesToChange(have?.attributes, g.attributes);
    if (Object.keys(attributes).length > 0) {
      const from = (k: string) => have?.attributes?.[k] ?? TARGET_GROUP_ATTRIBUTE_DEFAULTS[k] ?? '(default)';
      const what = Object.entries(attributes).map(([k, v]) => (have ? `${k} ${from(k)} -> ${v}` : `${k}=${v}`));
      add({ op: 'modifyTargetGroupAttributes', targetGroupName: g.targetGroupName, attributes }, `target group attributes of ${g.targetGroupName}: ${what.join(', ')}`);
    }
  }
}

/**
 * 3. The load balancer itself (asynchronous: it starts out provisioning), with the cluster's shared
 * backend security group next to its own; subnets changed in place.
 */
function planLoadBalancer({ observed, stack, current, add }: StackPlanning): void {
  if (!observed.network.backend) add({ op: 'ensureBackendSecurityGroup' }, `create the cluster's backend security group (shared by every NLB)`);
  if (!current?.loadBalancer) {
    const where = stack.subnetMappings.map((m) => m.SubnetId + [m.AllocationId ?? m.PrivateIPv4Address, m.IPv6Address].filter((a) => a !== undefined).map((a) => `=${a}`).join('')).join(', ');
    add({ op: 'createLoadBalancer' }, `create ${stack.scheme}${stack.ipAddressType === 'dualstack' ? ' dualstack' : ''} NLB ${stack.lbName} in ${where}`);
  }
  const lb = current?.loadBalancer;
  // Also after a crash between the create and this step: observe reads the attribute for NLBs with Elastic IPs.
  if (stack.crossZone && current?.loadBalancer?.crossZone !== true) {
    add({ op: 'enableCrossZone' }, `enable cross-zone load balancing on ${stack.lbName}: its Elastic IP is in one zone, its nodes in all of them`);
  }

  // Load balancer attributes: on a new NLB (not read: all of them, and the tag), else the ones that differ.
  const wantedAttributes = stack.loadBalancerAttributes;
  if (wantedAttributes) {
    const have = current?.loadBalancer?.attributes;
    const changed = have ? Object.fromEntries(Object.entries(wantedAttributes).filter(([k, v]) => have[k] !== v)) : wantedAttributes;
    if (Object.keys(changed).length > 0) {
      add(
        { op: 'modifyLoadBalancerAttributes', attributes: changed, tag: current?.loadBalancer?.tags[ATTRIBUTES_TAG] === undefined },
        `load balancer attributes of ${stack.lbName}: ${Object.entries(changed).map(([k, v]) => `${k}=${v}`).join(', ')}`,
      );
    }
  }

  // Your own security groups: changed in place (the managed pair is set at creation and never moves).
  // Back to the managed group: the anchor is not on the NLB.
  const have = lb?.securityGroups ?? [];
  if (lb && (stack.ownSecurityGroups || (have.length > 0 && !have.includes(current.securityGroup.id)))) {
    const backend = observed.network.backend?.id;
    const wanted = [...(stack.ownSecurityGroups ?? [current.securityGroup.id]), ...(stack.backendAttached && backend ? [backend] : [])];
    if ([...wanted].sort().join() !== [...have].sort().join()) {
      add({ op: 'setSecurityGroups', arn: lb.arn, groupIds: wanted }, `security groups of ${stack.lbName}: ${have.join(', ')} -> ${wanted.join(', ')}`);
    }
  }

  // 3b. Discovered subnets changed since the NLB was made: SetSubnets adds, moves and removes zones in place.
  const subnets = current?.loadBalancer?.state === 'active' ? subnetsToSet(current.loadBalancer.zones, stack, observed.network) : undefined;
  if (subnets) add({ op: 'setSubnets', arn: current!.loadBalancer!.arn, subnetIds: subnets.subnetIds }, `subnets of NLB ${stack.lbName}: ${subnets.changes.join(', ')}`);

  // 3c. To dualstack once its subnets have IPv6 (3b), before listeners forward to IPv6 groups (those
  // need a dual-stack NLB); back to ipv4 only after they stopped (planIPv4).
  if (lb?.state === 'active' && stack.ipAddressType === 'dualstack' && (lb.ipAddressType ?? 'ipv4') !== 'dualstack') {
    add({ op: 'setIpAddressType', arn: lb.arn, ipAddressType: 'dualstack' }, `IP address type of ${stack.lbName}: ${lb.ipAddressType ?? 'ipv4'} -> dualstack (in place)`);
  }

  // 3d. IPv6 source NAT prefixes, when the annotation sets them, once dual-stack (3c) and before
  // listeners (UDP ones use them): SetSubnets with the subnets it keeps (3b's, or its own).
  if (lb?.state === 'active' && stack.ipv6SourceNat !== undefined && (lb.ipv6SourceNat ?? 'off') !== stack.ipv6SourceNat) {
    const subnetIds = subnets?.subnetIds ?? lb.zones.map((z) => z.subnetId);
    add({ op: 'setIpv6SourceNat', arn: lb.arn, subnetIds, enable: stack.ipv6SourceNat }, `IPv6 source NAT prefixes of ${stack.lbName}: ${lb.ipv6SourceNat ?? 'off'} -> ${stack.ipv6SourceNat} (in place)`);
  }
}

/** Back to ipv4 (SetIpAddressType, in place), once the listeners forward to IPv4 groups only. */
function planIPv4({ stack, current, add }: StackPlanning): void {
  const lb = current?.loadBalancer;
  if (lb?.state === 'active' && stack.ipAddressType === 'ipv4' && (lb.ipAddressType ?? 'ipv4') !== 'ipv4') {
    add({ op: 'setIpAddressType', arn: lb.arn, ipAddressType: 'ipv4' }, `IP address type of ${stack.lbName}: ${lb.ipAddressType} -> ipv4 (in place)`);
  }
}

/** A TLS listener's default certificate, or a policy the annotations set, differs (AWS's default policy is never compared). */
function tlsDiffers(listener: ObservedStack['listeners'][number], g: DesiredPortGroup): boolean {
  if (!g.tls) return false;
  return (
    listener.certificateArn !== g.tls.certificates[0] ||
    (g.tls.sslPolicy !== undefined && listener.sslPolicy !== g.tls.sslPolicy) ||
    (g.tls.alpnPolicy !== undefined && listener.alpnPolicy !== g.tls.alpnPolicy)
  );
}

/**
 * The SNI certificates (ssl-cert after the first) to add to and remove from a TLS listener. Known
 * only after a deep read; unread, a modified listener gets all of them added, as on create. The
 * default certificate is never removed this way (AWS refuses; ModifyListener replaces it).
 */
function sniChanges(listener: ObservedStack['listeners'][number], g: DesiredPortGroup, modified: boolean): { add: string[]; remove: string[] } | undefined {
  const defaultCert = g.tls?.certificates[0];
  const want = new Set(g.tls?.certificates.slice(1).filter((c) => c !== defaultCert));
  const have = listener.extraCertificates;
  if (have === undefined) return modified && want.size > 0 ? { add: [...want], remove: [] } : undefined;
  const add = [...want].filter((c) => !have.includes(c));
  const remove = have.filter((c) => !want.has(c) && c !== defaultCert);
  return add.length > 0 || remove.length > 0 ? { add, remove } : undefined;
}

/** 4. Listeners, and the target groups of ports no longer served. */
function planListeners({ stack, current, observedGroups, add }: StackPlanning): void {
  const desiredPorts = new Set(stack.groups.map((g) => g.port));
  for (const g of stack.groups) {
    const listener = current?.listeners.find((l) => l.port === g.port);
    const tg = observedGroups.get(g.targetGroupName);
    if (!listener) {
      add({ op: 'createListener', group: g }, `create listener ${g.listenerProtocol}:${g.port} -> ${g.targetGroupName}${g.tls ? ` (certificate ${g.tls.certificates[0]})` : ''}`);
      continue;
    }
    const modify = listener.protocol !== g.listenerProtocol || !tg || listener.targetGroupArn !== tg.arn || tlsDiffers(listener, g);
    if (modify) add({ op: 'modifyListener', arn: listener.arn, group: g }, `listener ${listener.protocol}:${g.port} -> ${g.listenerProtocol}:${g.port} forwarding to ${g.targetGroupName}${g.tls ? ` (certificate ${g.tls.certificates[0]})` : ''}`);
    const sni = sniChanges(listener, g, modify);
    if (sni) add({ op: 'syncListenerCertificates', arn: listener.arn, ...sni }, `listener ${g.port}: SNI certificates${sni.add.length > 0 ? ` + ${sni.add.join(', ')}` : ''}${sni.remove.length > 0 ? ` - ${sni.remove.join(', ')}` : ''}`);
  }
  // listener-attributes.*: a new listener, or one not read yet (NLB not tagged), gets them all.
  const tagged = current?.loadBalancer?.tags[LISTENER_ATTRIBUTES_TAG] !== undefined;
  for (const g of stack.groups) {
    if (!g.listenerAttributes) continue;
    const have = current?.listeners.find((l) => l.port === g.port)?.attributes;
    const changed = have ? Object.fromEntries(Object.entries(g.listenerAttributes).filter(([k, v]) => have[k] !== v)) : g.listenerAttributes;
    if (Object.keys(changed).length > 0) {
      add({ op: 'modifyListenerAttributes', port: g.port, attributes: changed, tag: !tagged }, `listener ${g.listenerProtocol}:${g.port} attributes: ${Object.entries(changed).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    }
  }
  for (const l of current?.listeners ?? []) {
    if (!desiredPorts.has(l.port)) add({ op: 'deleteListener', arn: l.arn, port: l.port }, `delete listener ${l.protocol}:${l.port} (port removed)`);
  }
  const wantedGroupNames = new Set(stack.groups.map((g) => g.targetGroupName));
  for (const g of current?.targetGroups ?? []) {
    if (!wantedGroupNames.has(g.name) && g.owned) add({ op: 'deleteTargetGroup', arn: g.arn, name: g.name }, `delete target group ${g.name} (port or protocol changed)`);
  }
  // Ports still open in the security group but no longer served: an interrupted run may have left
  // their target groups unattached (invisible from the NLB), so look for them by name.
  const staleRulePorts = new Set((current?.securityGroup.ingress ?? []).filter((r) => r.protocol === 'tcp' || r.protocol === 'udp').map((r) => r.port).filter((p) => !desiredPorts.has(p)));
  const attachedNames = new Set((current?.targetGroups ?? []).map((g) => g.name));
  const leakCandidates = [...staleRulePorts]
    .flatMap((port) => TARGET_GROUP_PROTOCOLS.flatMap((p) => [targetGroupName(stack.lbName, port, p), targetGroupName(stack.lbName, port, p, 'ip'), targetGroupName(stack.lbName, port, p, 'ip', 'ipv6')]))
    .filter((n) => !attachedNames.has(n));
  if (leakCandidates.length > 0) add({ op: 'deleteTargetGroupsByName', names: leakCandidates }, `delete any owned target group left for removed ports ${[...staleRulePorts].join(', ')}`);
}

/** A target as compared: IPv6 addresses in one form (RFC 5952), whatever form AWS reports them in. */
function targetKey(t: { id: string; port: number }): string {
  return `${t.id.includes(':') && ipaddr.IPv6.isValid(t.id) ? ipaddr.IPv6.parse(t.id).toString() : t.id}/${t.port}`;
}

/** 5. Membership: only the change, chunked. */
function planMembership({ stack, observedGroups, add }: StackPlanning, targetChunkSize: number): void {
  for (const g of stack.groups) {
    const have = observedGroups.get(g.targetGroupName)?.targets ?? [];
    const haveKeys = new Set(have.map(targetKey));
    // ip targets whose endpoints are not known yet: leave the group as it is.
    const want = g.targetType === 'ip' ? g.targets : stack.instanceIds.map((id) => ({ id, port: g.nodePort }));
    if (want === undefined) continue;
    const wantKeys = new Set(want.map(targetKey));
    const register = want.filter((t) => !haveKeys.has(targetKey(t)));
    const deregister = have.filter((t) => !wantKeys.has(targetKey(t)));
    // Deregister first: a moved NodePort leaves the same instance under a new port.
    for (const part of inBatches(deregister, targetChunkSize)) {
      add({ op: 'deregisterTargets', targetGroupName: g.targetGroupName, targets: part }, `deregister ${part.length} target(s) from ${g.targetGroupName}`, { membershipOnly: true });
    }
    for (const part of inBatches(register, targetChunkSize)) {
      add({ op: 'registerTargets', targetGroupName: g.targetGroupName, targets: part, ...(g.targetType === 'ip' ? { targetType: 'ip' as const } : {}) }, g.targetType === 'ip' ? `register ${part.length} Pod ${g.ipAddressType === 'ipv6' ? 'IPv6' : 'IP'}(s) on ${g.targetGroupName}` : `register ${part.length} instance(s) on ${g.targetGroupName} port ${g.nodePort}`, { membershipOnly: true });
    }
  }
}

/** 6. Node security groups admit the NodePorts from the cluster's shared backend group. */
function planNodeRules({ observed, stack, add }: StackPlanning): void {
  const backend = observed.network.backend;
  const rules = backend?.nodeRules ?? [];
  for (const groupId of stack.nodeSecurityGroupIds) {
    const missing = stack.nodeAccess.filter(
      (want) => !rules.some((r) => r.groupId === groupId && r.protocol === want.protocol && r.fromPort <= want.fromPort && r.toPort >= want.toPort),
    );
    if (missing.length > 0) {
      add({ op: 'authorizeNodeRules', groupId, rules: missing }, `allow ${missing.map((p) => `${p.protocol}/${p.fromPort}-${p.toPort}`).join(', ')} from the backend group into node group ${groupId}`);
    }
  }
}

/** 7. The user's additional tags, on what exists already (new resources get them at creation). */
function planTags({ stack, current, add }: StackPlanning): void {
  if (current) {
    const lacks = (have: Record<string, string>) => Object.entries(stack.tags).some(([k, v]) => have[k] !== v);
    const elbArns = [
      ...(current.loadBalancer?.owned && lacks(current.loadBalancer.tags) ? [current.loadBalancer.arn] : []),
      ...current.targetGroups.filter((g) => g.owned && stack.groups.some((w) => w.targetGroupName === g.name) && lacks(g.tags)).map((g) => g.arn),
    ];
    const sgLacks = lacks(current.securityGroup.tags);
    if (elbArns.length > 0 || sgLacks) {
      const step: AwsStep = { op: 'tagResources', elbArns, tags: stack.tags, ...(sgLacks ? { securityGroupId: current.securityGroup.id } : {}) };
      add(step, `tag ${elbArns.length + (sgLacks ? 1 : 0)} resource(s) with ${Object.entries(stack.tags).map(([k, v]) => `${k}=${v}`).join(', ')}`);
    }
  }
}

/** An adopted NLB (named before in-place subnet changes) records its placement, so it is found by it once the subnets change. */
function planPlacementTag({ stack, current, add }: StackPlanning): void {
  if (!current || current.placement === stack.placement) return;
  const lb = current.loadBalancer?.owned ? [current.loadBalancer.arn] : [];
  add(
    { op: 'tagResources', elbArns: lb, securityGroupId: current.securityGroup.id, tags: { [PLACEMENT_TAG]: stack.placement } },
    `record placement ${stack.placement} on ${current.lbName} (named before subnets changed in place; kept, not replaced)`,
  );
}

export function planFromStack(observed: AwsObserved, wanted: DesiredStack, targetChunkSize: number): AwsPlan {
  const current = currentStackOf(observed, wanted);
  if (wanted.customName && current && current.placement !== '' && current.placement !== wanted.placement) {
    throw new ServiceConfigError(
      AWS_ANNOTATIONS.loadBalancerName,
      `the scheme or addresses changed, which takes a new NLB, and this annotation keeps the name of the current one (${wanted.lbName}): give the new NLB another name; the old one is deleted once the new one is active`,
    );
  }
  const stack = current ? withLoadBalancerName(wanted, current.lbName) : wanted;
  const actions: AwsAction[] = [];
  const add = (step: AwsStep, description: string, extra: { mutating?: boolean; membershipOnly?: boolean } = {}) =>
    actions.push({ kind: step.op, description, mutating: extra.mutating ?? true, ...(extra.membershipOnly ? { membershipOnly: true } : {}), step });

  const retiring = observed.stacks.filter((s) => s !== current);
  if (current?.loadBalancer && !current.loadBalancer.owned) {
    throw new AwsOwnershipConflictError(
      `a load balancer named ${stack.lbName} exists without the tag kubernetes.io/cluster/${stack.clusterName}=owned; it is left alone. Delete or rename it to let this Service get its load balancer`,
    );
  }
  const planning: StackPlanning = { observed, stack, current, retiring, observedGroups: new Map((current?.targetGroups ?? []).map((g) => [g.name, g])), add };

  const blocking = planReplacement(planning);
  const toRevoke = planSecurityGroup(planning);
  planTargetGroups(planning);
  planLoadBalancer(planning);
  planListeners(planning);
  planIPv4(planning);
  planMembership(planning, targetChunkSize);
  planNodeRules(planning);
  // Rules are revoked only after everything that may still need them.
  if (toRevoke.length > 0) add({ op: 'revokeIngress', rules: toRevoke }, `stop allowing ${toRevoke.map(ruleKey).join(', ')} into the NLB`);
  planTags(planning);
  planPlacementTag(planning);

  // 8. A replaced load balancer goes only once its successor is active.
  if (current?.loadBalancer?.state === 'active') {
    for (const old of retiring.filter((s) => !blocking.includes(s))) add({ op: 'retireStack', stack: old }, `delete replaced NLB ${old.lbName} and everything of it`);
  }

  const plan: AwsPlan = { ref: stack.ref, actions, desired: stack, network: observed.network, retiring };
  if (current) plan.current = current;
  if (current?.loadBalancer?.state === 'active' && actions.every((a) => !a.mutating)) plan.ingress = ingressFor(current, stack.proxyProtocol);
  return plan;
}

/**
 * An Elastic IP associated with something that is not one of this Service's NLBs cannot be used:
 * AWS would answer ResourceInUse on every attempt. (The environment is cached; a newer association
 * still shows up as ResourceInUse on create, which apply answers the same way.)
 */
function refuseAddressesInUse(observed: AwsObserved, stack: DesiredStack): void {
  const ours = new Set(observed.stacks.flatMap((s) => s.holds));
  for (const address of stack.addresses) {
    const eip = observed.network.addresses.find((a) => a.publicIp === address);
    if (eip?.associated && !ours.has(address)) {
      throw new ServiceConfigError(
        stack.addressField ?? 'spec.loadBalancerIP',
        `the Elastic IP ${address} (${eip.allocationId}) is already associated with another resource; disassociate it or choose another address`,
      );
    }
  }
}

/**
 * The subnets an existing NLB should be set to, when discovery changed them: a newly tagged zone is
 * added, a zone that lost its eligible subnets is removed, and a zone whose subnet is no longer
 * eligible moves to the one discovery picks there. SetSubnets does all three in place on an NLB
 * (it must list every subnet to keep). A subnet still eligible stays, even when discovery would pick
 * another one in its zone for a new NLB: moving costs that zone its connections. Subnets from the
 * annotation are set the same way (only listed ones kept). NLBs with addresses in their mappings are
 * not changed here (those subnets are part of the placement: a replacement).
 */
export function subnetsToSet(
  zones: { zone: string; subnetId: string; pinned: boolean }[],
  stack: Pick<DesiredStack, 'subnetMappings' | 'subnetCandidates'>,
  network: Pick<AwsObserved['network'], 'subnets'>,
): { subnetIds: string[]; changes: string[] } | undefined {
  if (zones.length === 0 || zones.some((z) => z.pinned)) return undefined;
  if (stack.subnetMappings.some((m) => m.AllocationId !== undefined || m.PrivateIPv4Address !== undefined || m.IPv6Address !== undefined)) return undefined;
  const zoneOf = (id: string) => network.subnets.find((s) => s.id === id)?.zone ?? '';
  // Subnets from the annotation: exactly those (a kept subnet must be listed); discovered: any eligible one.
  const candidates = new Set(stack.subnetCandidates ?? stack.subnetMappings.map((m) => m.SubnetId));
  const current = new Map(zones.map((z) => [z.zone, z.subnetId]));
  const wanted = new Map<string, string>();
  for (const m of stack.subnetMappings) {
    const zone = zoneOf(m.SubnetId);
    const kept = current.get(zone);
    wanted.set(zone, kept !== undefined && candidates.has(kept) ? kept : m.SubnetId);
  }
  const changes: string[] = [];
  for (const [zone, id] of wanted) {
    const had = current.get(zone);
    if (had === undefined) changes.push(`enable ${zone} (${id})`);
    else if (had !== id) changes.push(`move ${zone} from ${had} to ${id}`);
  }
  for (const [zone, id] of current) if (!wanted.has(zone)) changes.push(`remove ${zone} (${id})`);
  if (changes.length === 0) return undefined;
  return { subnetIds: [...wanted.values()], changes };
}
