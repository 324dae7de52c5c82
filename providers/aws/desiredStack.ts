// Pure: from the Service (DesiredLoadBalancer), its AWS annotations and the environment snapshot to
// the full AWS shape it should have. Everything a user can get wrong is a ServiceConfigError here.
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { ServiceConfigError, serviceKey, type DesiredLoadBalancer } from '../provider.js';
import { cidrContains, requireIPv4SourceRanges } from '../common/cidr.js';
import { AWS_ANNOTATIONS, parseAwsAnnotations, type AwsServiceOptions } from './annotations.js';
import type { AwsNetwork, DesiredPortGroup, DesiredStack, HealthCheckSettings, IngressRule, SubnetMapping } from './awsTypes.js';
import { loadBalancerName, targetGroupName, type TargetGroupProtocol } from './names.js';
import { instanceIdFromProviderID, zoneFromProviderID } from './providerID.js';
import { clusterTagKey, SERVICE_NAME_TAG, SERVICE_UID_TAG } from './tags.js';

/**
 * What decides where the NLB lives, and so its name: what SetSubnets cannot change in place. That is
 * the scheme and the addresses in the subnet mappings (with the subnets they sit in); subnets without
 * addresses are set in place (SetSubnets: "[Network Load Balancers] You can specify subnets from one
 * or more Availability Zones", with no rule that previous ones be kept, unlike Gateway Load Balancers).
 */
export function placementOf(desired: DesiredLoadBalancer, options: AwsServiceOptions): string {
  const withAddresses =
    desired.loadBalancerIP !== undefined || options.eipAllocations !== undefined || options.privateIPv4Addresses !== undefined || options.ipv6Addresses !== undefined || explicitSourceNat(options) !== undefined;
  return placementHash(options, withAddresses ? (options.subnets ?? null) : null, desired.loadBalancerIP);
}

/**
 * The placement as releases before in-place subnet changes computed it (the subnets annotation
 * always in it). An NLB named after it is adopted, not replaced, on upgrade (see planFromStack).
 */
export function legacyPlacementOf(desired: DesiredLoadBalancer, options: AwsServiceOptions): string {
  return placementHash(options, options.subnets ?? null, desired.loadBalancerIP);
}

function placementHash(options: AwsServiceOptions, subnets: string[] | null, loadBalancerIP: string | undefined): string {
  const parts: unknown[] = [options.scheme, subnets, loadBalancerIP ?? null, options.eipAllocations ?? null, options.privateIPv4Addresses ?? null];
  // Only when set, so that every NLB made before IPv6 addresses keeps its name.
  if (options.ipv6Addresses) parts.push(options.ipv6Addresses);
  const sourceNat = explicitSourceNat(options);
  if (sourceNat) parts.push({ sourceNat });
  const key = JSON.stringify(parts);
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Source NAT prefixes that name a /80 place the NLB like addresses do; auto_assigned alone does not. */
function explicitSourceNat(options: AwsServiceOptions): string[] | undefined {
  return options.sourceNatIpv6Prefixes?.some((p) => p !== 'auto_assigned') ? options.sourceNatIpv6Prefixes : undefined;
}

/** NLB subnets need "at least 8 free IP addresses" (Network Load Balancers: Availability Zones and subnets). */
export const MIN_FREE_IPS = 8;

function resolveSubnets(options: AwsServiceOptions, network: AwsNetwork, clusterName: string): { subnets: AwsNetwork['subnets']; candidates?: string[] } {
  if (options.subnets !== undefined) {
    const listed = options.subnets.map((wanted) => {
      const found = network.subnets.find((s) => s.id === wanted || s.tags.Name === wanted);
      if (!found) throw new ServiceConfigError(AWS_ANNOTATIONS.subnets, `no subnet with ID or Name "${wanted}" in the VPC`);
      if (found.freeIps !== undefined && found.freeIps < MIN_FREE_IPS) {
        throw new ServiceConfigError(AWS_ANNOTATIONS.subnets, `subnet ${found.id} has ${found.freeIps} free addresses; an NLB needs at least ${MIN_FREE_IPS} in each of its subnets`);
      }
      return found;
    });
    // CreateLoadBalancer: "You can specify only one subnet per Availability Zone."
    for (const [i, s] of listed.entries()) {
      const twin = listed.slice(0, i).find((o) => o.zone === s.zone);
      if (twin) throw new ServiceConfigError(AWS_ANNOTATIONS.subnets, `${twin.id} and ${s.id} are both in ${s.zone}; an NLB takes one subnet per zone`);
    }
    return { subnets: listed };
  }
  // Discovery as the AWS Load Balancer Controller (>= 2.1.1) does it: the role tag, and either this
  // cluster's tag or no cluster tag at all (a subnet tagged only for other clusters is theirs); a
  // subnet tagged for this cluster wins in its zone, then the lowest ID. Subnets too full for an NLB
  // are passed over.
  const role = options.scheme === 'internal' ? 'kubernetes.io/role/internal-elb' : 'kubernetes.io/role/elb';
  const ours = (s: AwsNetwork['subnets'][number]) => s.tags[clusterTagKey(clusterName)] !== undefined;
  const anyCluster = (s: AwsNetwork['subnets'][number]) => Object.keys(s.tags).some((k) => k.startsWith('kubernetes.io/cluster/'));
  const eligible = network.subnets.filter((s) => s.tags[role] !== undefined && (ours(s) || !anyCluster(s)));
  // A dual-stack NLB needs IPv6 in each subnet: in a zone, a subnet with an IPv6 block comes first.
  const v6 = (s: AwsNetwork['subnets'][number]) => options.ipAddressType === 'dualstack' && (s.ipv6Cidrs ?? []).length > 0;
  const tagged = eligible
    .filter((s) => s.freeIps === undefined || s.freeIps >= MIN_FREE_IPS)
    .sort((a, b) => a.zone.localeCompare(b.zone) || Number(v6(b)) - Number(v6(a)) || Number(ours(b)) - Number(ours(a)) || a.id.localeCompare(b.id));
  const perZone = new Map<string, AwsNetwork['subnets'][number]>();
  for (const s of tagged) if (!perZone.has(s.zone)) perZone.set(s.zone, s);
  if (perZone.size === 0) {
    throw new ServiceConfigError(
      AWS_ANNOTATIONS.subnets,
      `no subnet with ${MIN_FREE_IPS} or more free addresses is tagged ${role} (and either ${clusterTagKey(clusterName)} or no cluster tag); tag the subnets or list them in this annotation`,
    );
  }
  // An NLB already in a subnet that has since filled up stays there: its interfaces exist. Going
  // dual-stack, one in a subnet without IPv6 moves (SetSubnets) to one with it.
  return { subnets: [...perZone.values()], candidates: eligible.filter((s) => options.ipAddressType !== 'dualstack' || v6(s)).map((s) => s.id) };
}

function resolveMappings(
  desired: DesiredLoadBalancer,
  options: AwsServiceOptions,
  network: AwsNetwork,
): { mappings: SubnetMapping[]; addresses: string[]; vpcId: string; field?: string; candidates?: string[] } {
  const { subnets, candidates } = resolveSubnets(options, network, desired.clusterName);
  const vpcId = subnets[0]!.vpcId;
  if (subnets.some((s) => s.vpcId !== vpcId)) throw new ServiceConfigError(AWS_ANNOTATIONS.subnets, 'the subnets are in different VPCs');
  const mapped = mappingsFor(desired, options, network, subnets);
  const mappings = options.ipAddressType === 'dualstack' ? withSourceNatPrefixes(withIPv6Addresses(mapped.mappings, options, subnets), options, subnets) : mapped.mappings;
  return { vpcId, ...mapped, mappings, ...(candidates ? { candidates } : {}) };
}

/**
 * A dual-stack NLB needs "associated IPv6 CIDR blocks" on the VPC and every subnet it uses (NLB user
 * guide, IP address types, "Dualstack requirements"). ipv6-addresses as the AWS Load Balancer
 * Controller reads them: as many as subnets, each in the IPv6 range of exactly one of them
 * (SubnetMapping.IPv6Address, one per subnet).
 */
function withIPv6Addresses(mappings: SubnetMapping[], options: AwsServiceOptions, subnets: AwsNetwork['subnets']): SubnetMapping[] {
  const lacking = subnets.filter((s) => (s.ipv6Cidrs ?? []).length === 0);
  if (lacking.length > 0) {
    throw new ServiceConfigError(
      AWS_ANNOTATIONS.ipAddressType,
      `dualstack needs an IPv6 CIDR block on every subnet of the NLB, and ${lacking.map((s) => `${s.id} (${s.zone})`).join(', ')} has none: associate an IPv6 block with ${lacking.length > 1 ? 'them' : 'it'}, list subnets that have one in ${AWS_ANNOTATIONS.subnets}, or set this annotation to ipv4`,
    );
  }
  const wanted = options.ipv6Addresses;
  if (wanted === undefined) return mappings;
  const field = AWS_ANNOTATIONS.ipv6Addresses;
  if (wanted.length !== subnets.length) {
    throw new ServiceConfigError(field, `lists ${wanted.length} address(es) for ${subnets.length} subnets (${subnets.map((s) => s.id).join(', ')}); give one IPv6 address per subnet`);
  }
  return mappings.map((m) => {
    const subnet = subnets.find((s) => s.id === m.SubnetId)!;
    const inside = wanted.filter((a) => subnet.ipv6Cidrs!.some((c) => cidrContains(c, a)));
    if (inside.length !== 1) {
      throw new ServiceConfigError(
        field,
        `${inside.length === 0 ? 'no address is' : `${inside.join(' and ')} are all`} in subnet ${m.SubnetId} (${subnet.ipv6Cidrs!.join(', ')}); give exactly one address from each subnet's IPv6 range`,
      );
    }
    return { ...m, IPv6Address: inside[0]! };
  });
}

/**
 * source-nat-ipv6-prefixes: one per subnet of the NLB (SubnetMapping.SourceNatIpv6Prefix, "an IPv6
 * prefix (/80 netmask) from the subnet CIDR block or auto_assigned"). A prefix goes to the subnet
 * whose IPv6 range holds it; auto_assigned entries take the subnets left, in order.
 */
function withSourceNatPrefixes(mappings: SubnetMapping[], options: AwsServiceOptions, subnets: AwsNetwork['subnets']): SubnetMapping[] {
  const wanted = options.sourceNatIpv6Prefixes;
  if (wanted === undefined) return mappings;
  const field = AWS_ANNOTATIONS.sourceNatIpv6Prefixes;
  if (wanted.length !== subnets.length) {
    throw new ServiceConfigError(field, `lists ${wanted.length} prefix(es) for ${subnets.length} subnets (${subnets.map((s) => s.id).join(', ')}); give one per subnet (a /80 of its IPv6 range, or auto_assigned)`);
  }
  const explicit = wanted.filter((p) => p !== 'auto_assigned');
  const bySubnet = new Map<string, string>();
  for (const prefix of explicit) {
    const address = prefix.slice(0, -'/80'.length);
    const home = subnets.filter((s) => (s.ipv6Cidrs ?? []).some((c) => cidrContains(c, address)));
    if (home.length !== 1) throw new ServiceConfigError(field, `${prefix} is in no subnet of the NLB (${subnets.map((s) => `${s.id}: ${(s.ipv6Cidrs ?? []).join(', ')}`).join('; ')}); give a /80 of each subnet's IPv6 range`);
    if (bySubnet.has(home[0]!.id)) throw new ServiceConfigError(field, `${bySubnet.get(home[0]!.id)} and ${prefix} are both in subnet ${home[0]!.id}; give one prefix per subnet`);
    bySubnet.set(home[0]!.id, prefix);
  }
  return mappings.map((m) => ({ ...m, SourceNatIpv6Prefix: bySubnet.get(m.SubnetId) ?? 'auto_assigned' }));
}

/**
 * The target groups' address family. As the AWS Load Balancer Controller, IPv6 needs a dual-stack
 * NLB ("IPv6 target groups can only be associated with dualstack load balancers"), and IPv6 target
 * groups "only support IP type targets" (NLB user guide, target groups, IP address type). The
 * Service's first family decides (the controller takes any IPv6 family; a [IPv4, IPv6] Service
 * here keeps IPv4 targets, which instance targets can serve too).
 */
export function targetFamilyOf(desired: Pick<DesiredLoadBalancer, 'ipFamilies' | 'ipFamilyPolicy'>, options: AwsServiceOptions): 'ipv4' | 'ipv6' {
  const first = desired.ipFamilies[0] ?? 'IPv4';
  if (options.ipAddressType !== 'dualstack' && (first === 'IPv6' || desired.ipFamilyPolicy === 'RequireDualStack')) {
    const why = first === 'IPv6' ? `spec.ipFamilies starts with IPv6` : 'spec.ipFamilyPolicy is RequireDualStack';
    throw new ServiceConfigError(AWS_ANNOTATIONS.ipAddressType, `${why}, and an IPv4 NLB cannot serve it: set this annotation to dualstack (IPv4 and IPv6), or make the Service IPv4`);
  }
  if (first !== 'IPv6') return 'ipv4';
  if (options.targetType !== 'ip') {
    throw new ServiceConfigError(
      AWS_ANNOTATIONS.targetType,
      `spec.ipFamilies starts with IPv6, and IPv6 target groups take ip targets only (AWS registers instances by their IPv4 address): set this annotation to ip, or put IPv4 first in spec.ipFamilies`,
    );
  }
  return 'ipv6';
}

function mappingsFor(
  desired: DesiredLoadBalancer,
  options: AwsServiceOptions,
  network: AwsNetwork,
  subnets: AwsNetwork['subnets'],
): { mappings: SubnetMapping[]; addresses: string[]; field?: string } {
  const ip = desired.loadBalancerIP;
  if (ip !== undefined && (options.eipAllocations !== undefined || options.privateIPv4Addresses !== undefined)) {
    throw new ServiceConfigError('spec.loadBalancerIP', `set either spec.loadBalancerIP or ${AWS_ANNOTATIONS.eipAllocations}/${AWS_ANNOTATIONS.privateIPv4Addresses}, not both`);
  }
  if (ip !== undefined && !ipaddr.isValid(ip)) throw new ServiceConfigError('spec.loadBalancerIP', `"${ip}" is not an IP address`);

  if (options.scheme === 'internal') {
    const wanted = ip !== undefined ? [ip] : options.privateIPv4Addresses;
    if (wanted === undefined) return { mappings: subnets.map((s) => ({ SubnetId: s.id })), addresses: [] };
    const field = ip !== undefined ? 'spec.loadBalancerIP' : AWS_ANNOTATIONS.privateIPv4Addresses;
    // Each private address picks the subnet whose range holds it: one subnet per address.
    const mappings = wanted.map((address) => {
      const subnet = subnets.find((s) => cidrContains(s.cidr, address));
      if (!subnet) throw new ServiceConfigError(field, `${address} is in none of the load balancer's subnets (${subnets.map((s) => `${s.id} ${s.cidr}`).join(', ')})`);
      return { SubnetId: subnet.id, PrivateIPv4Address: address };
    });
    // SubnetMappings: "one private IP address per subnet".
    const seen = new Map<string, string>();
    for (const m of mappings) {
      const other = seen.get(m.SubnetId);
      if (other !== undefined) throw new ServiceConfigError(field, `${other} and ${m.PrivateIPv4Address} are both in subnet ${m.SubnetId}; an NLB takes one private address per subnet`);
      seen.set(m.SubnetId, m.PrivateIPv4Address);
    }
    return { mappings, addresses: [], field };
  }

  if (ip !== undefined) {
    const eip = network.addresses.find((a) => a.publicIp === ip);
    if (!eip) throw new ServiceConfigError('spec.loadBalancerIP', `the AWS account holds no Elastic IP ${ip}; allocate it first (or remove spec.loadBalancerIP)`);
    // SubnetMappings takes "one Elastic IP address per subnet", not one for every subnet: the address
    // goes on the first zone and the NLB keeps every zone, so that every zone's nodes can serve;
    // cross-zone load balancing (crossZone) carries the address's traffic to them.
    const mappings: SubnetMapping[] = subnets.map((s, i) => (i === 0 ? { SubnetId: s.id, AllocationId: eip.allocationId } : { SubnetId: s.id }));
    return { mappings, addresses: [ip], field: 'spec.loadBalancerIP' };
  }
  if (options.eipAllocations !== undefined) {
    if (options.eipAllocations.length !== subnets.length) {
      throw new ServiceConfigError(AWS_ANNOTATIONS.eipAllocations, `lists ${options.eipAllocations.length} allocations for ${subnets.length} subnets; give one per subnet`);
    }
    const addresses = options.eipAllocations.map((id) => {
      const eip = network.addresses.find((a) => a.allocationId === id);
      if (!eip) throw new ServiceConfigError(AWS_ANNOTATIONS.eipAllocations, `the AWS account holds no Elastic IP allocation ${id}`);
      return eip.publicIp;
    });
    return { mappings: subnets.map((s, i) => ({ SubnetId: s.id, AllocationId: options.eipAllocations![i]! })), addresses, field: AWS_ANNOTATIONS.eipAllocations };
  }
  return { mappings: subnets.map((s) => ({ SubnetId: s.id })), addresses: [] };
}

function healthCheckFor(desired: DesiredLoadBalancer, options: AwsServiceOptions, protocol: TargetGroupProtocol): HealthCheckSettings {
  let base: HealthCheckSettings;
  // ip targets are the Pods themselves: probed on their own port (as the AWS Load Balancer Controller does).
  if (options.targetType === 'ip') base = { protocol: 'TCP', port: 'traffic-port' };
  else if (desired.externalTrafficPolicy === 'Local' && desired.healthCheckNodePort !== undefined) {
    base = { protocol: 'HTTP', port: String(desired.healthCheckNodePort), path: '/healthz' };
  } else if (protocol === 'UDP') {
    // A UDP NodePort cannot answer a TCP probe: ask kube-proxy (the controller's derived check).
    base = { protocol: desired.healthCheck.protocol, port: String(desired.healthCheck.port), ...(desired.healthCheck.path ? { path: desired.healthCheck.path } : {}) };
  } else {
    base = { protocol: 'TCP', port: 'traffic-port' };
  }
  const o = options.healthCheck;
  const hc: HealthCheckSettings = { ...base };
  if (o.protocol !== undefined) hc.protocol = o.protocol;
  if (o.port !== undefined) hc.port = String(o.port);
  if (hc.protocol === 'TCP') delete hc.path;
  else hc.path = o.path ?? hc.path ?? '/';
  if (o.intervalSeconds !== undefined) hc.intervalSeconds = o.intervalSeconds;
  if (o.timeoutSeconds !== undefined) hc.timeoutSeconds = o.timeoutSeconds;
  if (o.healthyThreshold !== undefined) hc.healthyThreshold = o.healthyThreshold;
  if (o.unhealthyThreshold !== undefined) hc.unhealthyThreshold = o.unhealthyThreshold;
  if (o.successCodes !== undefined && hc.protocol !== 'TCP') hc.successCodes = o.successCodes;
  checkIntervalCoversTimeout(hc);
  return hc;
}

/** AWS's defaults for NLB target groups (ELB API reference, CreateTargetGroupInput). */
export const DEFAULT_HEALTH_CHECK_INTERVAL = 30;
export function defaultHealthCheckTimeout(protocol: HealthCheckSettings['protocol']): number {
  return protocol === 'HTTP' ? 6 : 10;
}

/**
 * AWS refuses a health check timeout longer than its interval (NLB target group health checks), on
 * create and on modify, and counts its defaults (interval 30 s; timeout 6 s for HTTP, 10 s otherwise):
 * an interval of 5 alone fails.
 */
function checkIntervalCoversTimeout(hc: HealthCheckSettings): void {
  const interval = hc.intervalSeconds ?? DEFAULT_HEALTH_CHECK_INTERVAL;
  const timeout = hc.timeoutSeconds ?? defaultHealthCheckTimeout(hc.protocol);
  if (timeout <= interval) return;
  const timeoutSource = hc.timeoutSeconds !== undefined ? `${AWS_ANNOTATIONS.hcTimeout} is ${timeout}` : `the timeout is AWS's default for ${hc.protocol}, ${timeout} s`;
  throw new ServiceConfigError(
    hc.intervalSeconds !== undefined ? AWS_ANNOTATIONS.hcInterval : AWS_ANNOTATIONS.hcTimeout,
    `${timeoutSource}, longer than the interval (${hc.intervalSeconds !== undefined ? `${AWS_ANNOTATIONS.hcInterval} is ${interval}` : `AWS's default, ${interval} s`}); AWS refuses that: set ${AWS_ANNOTATIONS.hcTimeout} to ${interval} or less, or raise ${AWS_ANNOTATIONS.hcInterval}`,
  );
}

/**
 * One port's target group attributes. spec.sessionAffinity ClientIP is source-IP stickiness (NLBs
 * have no timeout for it, so sessionAffinityTimeoutSeconds only applies in kube-proxy); the
 * target-group-attributes annotation, then its .<port> form, win over it. PROXY protocol is decided
 * last, as the AWS Load Balancer Controller does: proxy-protocol-per-target-group for the ports it
 * lists (off on the others), and proxy-protocol "*" over everything.
 */
export function targetGroupAttributes(desired: DesiredLoadBalancer, options: AwsServiceOptions, port: number): Record<string, string> {
  const fromSpec: Record<string, string> =
    desired.sessionAffinity === 'ClientIP' ? { 'stickiness.enabled': 'true', 'stickiness.type': 'source_ip' } : { 'stickiness.enabled': 'false' };
  const out = { ...fromSpec, 'proxy_protocol_v2.enabled': 'false', ...options.targetGroupAttributes, ...options.targetGroupAttributesByPort?.[port] };
  if (options.proxyProtocolPorts) out['proxy_protocol_v2.enabled'] = String(options.proxyProtocolPorts.includes(port));
  if (options.proxyProtocol) out['proxy_protocol_v2.enabled'] = 'true';
  return out;
}

/** Port-scoped annotations must name ports of the Service. */
function checkPortAnnotations(desired: DesiredLoadBalancer, options: AwsServiceOptions): void {
  const ports = new Set(desired.ports.map((p) => p.port));
  const missing = (options.proxyProtocolPorts ?? []).filter((p) => !ports.has(p));
  if (missing.length > 0) throw new ServiceConfigError(AWS_ANNOTATIONS.proxyProtocolPerTargetGroup, `${missing.join(', ')} ${missing.length > 1 ? 'are not ports' : 'is not a port'} of the Service (spec.ports[].port: ${[...ports].join(', ')})`);
  for (const port of Object.keys(options.targetGroupAttributesByPort ?? {}).map(Number)) {
    if (!ports.has(port)) throw new ServiceConfigError(`${AWS_ANNOTATIONS.targetGroupAttributesPortPrefix}${port}`, `${port} is not a port of the Service (spec.ports[].port: ${[...ports].join(', ')})`);
  }
}

/**
 * "All IP addresses within a target group must have the same IP address type": only endpoints of
 * the group's family (from EndpointSlices of addressType IPv4 or IPv6), IPv6 in RFC 5952 form.
 */
function addressOfFamily(address: string, family: 'ipv4' | 'ipv6'): string | undefined {
  if (family === 'ipv4') return ipaddr.IPv4.isValidFourPartDecimal(address) ? address : undefined;
  return ipaddr.IPv6.isValid(address) && !address.includes('.') ? ipaddr.IPv6.parse(address).toString() : undefined;
}

/**
 * ip targets: the Pod endpoints that should receive traffic on one Service port. Ready and not
 * terminating: a terminating Pod is deregistered (and drains) before it goes. Undefined while the
 * endpoints are not known, so a controller that has not read them yet deregisters nothing.
 */
export function podTargets(desired: DesiredLoadBalancer, portNames: string[], family: 'ipv4' | 'ipv6' = 'ipv4'): { id: string; port: number }[] | undefined {
  if (desired.podEndpoints === undefined) return undefined;
  const targets = new Map<string, { id: string; port: number }>();
  for (const ep of desired.podEndpoints) {
    const address = addressOfFamily(ep.address, family);
    if (!ep.ready || ep.terminating || address === undefined) continue;
    for (const name of portNames) {
      const port = ep.ports[name];
      if (port !== undefined) targets.set(`${address}:${port}`, { id: address, port });
    }
  }
  return [...targets.values()].sort((a, b) => a.id.localeCompare(b.id) || a.port - b.port);
}

function groupPorts(desired: DesiredLoadBalancer, options: AwsServiceOptions, lbName: string): DesiredPortGroup[] {
  checkPortAnnotations(desired, options);
  const ip = options.targetType === 'ip';
  const family = targetFamilyOf(desired, options);
  const byPort = new Map<number, { protocols: Set<string>; nodePort: number; names: string[] }>();
  desired.ports.forEach((p, i) => {
    if (p.protocol === 'SCTP') throw new ServiceConfigError(`spec.ports[${i}].protocol`, 'this provider does not make SCTP listeners; use TCP or UDP');
    if (!ip && !(p.nodePort > 0)) {
      throw new ServiceConfigError(
        `spec.ports[${i}].nodePort`,
        `a NodePort is needed for instance targets (allocateLoadBalancerNodePorts must not be false); or set ${AWS_ANNOTATIONS.targetType}: ip to target the Pods directly`,
      );
    }
    const entry = byPort.get(p.port);
    if (!entry) byPort.set(p.port, { protocols: new Set([p.protocol]), nodePort: p.nodePort, names: [p.name] });
    else {
      entry.names.push(p.name);
      if (!ip && entry.nodePort !== p.nodePort) {
        throw new ServiceConfigError(`spec.ports[${i}].nodePort`, `TCP and UDP on port ${p.port} share one TCP_UDP target group, so they need the same nodePort (${entry.nodePort} vs ${p.nodePort})`);
      }
      entry.protocols.add(p.protocol);
    }
  });
  if (byPort.size === 0) throw new ServiceConfigError('spec.ports', 'the Service has no ports');
  const tlsPorts = tlsPortsOf(desired, options);
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, { protocols, nodePort, names }]) => {
      const plain: 'TCP' | 'UDP' | 'TCP_UDP' = protocols.size > 1 ? 'TCP_UDP' : (protocols.values().next().value as 'TCP' | 'UDP');
      const tls = tlsPorts.has(port) && options.tls ? options.tls : undefined;
      if (tls && plain !== 'TCP') throw new ServiceConfigError(AWS_ANNOTATIONS.sslPorts, `port ${port} is ${plain}; only TCP ports can have TLS listeners`);
      const protocol: TargetGroupProtocol = tls?.toTargets ? 'TLS' : plain;
      if (family === 'ipv6' && plain !== 'TCP') {
        const i = desired.ports.findIndex((p) => p.port === port && p.protocol !== 'TCP');
        throw new ServiceConfigError(`spec.ports[${i}].protocol`, `port ${port} is ${plain}, and IPv6 target groups serve TCP and TLS listeners only: use TCP, or put IPv4 first in spec.ipFamilies`);
      }
      const listener = tls
        ? { listenerProtocol: 'TLS' as const, tls: { certificates: tls.certificates, ...(tls.sslPolicy ? { sslPolicy: tls.sslPolicy } : {}), ...(tls.alpnPolicy ? { alpnPolicy: tls.alpnPolicy } : {}) } }
        : { listenerProtocol: plain };
      const listenerAttributes = options.listenerAttributes?.[`${listener.listenerProtocol}-${port}`];
      const common = { port, protocol, ...listener, ...(listenerAttributes ? { listenerAttributes } : {}), ipAddressType: family, targetGroupName: targetGroupName(lbName, port, protocol, options.targetType, family), healthCheck: healthCheckFor(desired, options, protocol), attributes: targetGroupAttributes(desired, options, port) };
      if (!ip) return { ...common, targetType: 'instance' as const, nodePort, targetGroupPort: nodePort };
      const targets = podTargets(desired, names, family);
      // The group's port is only a default (targets are registered with their own); the Pods' usual one.
      return { ...common, targetType: 'ip' as const, nodePort: 0, targetGroupPort: targets?.[0]?.port ?? port, ...(targets ? { targets } : {}) };
    });
}

/**
 * The ports ssl-cert makes TLS listeners: those ssl-ports names (by spec.ports[].name or number),
 * or every TCP port when it is unset or "*" (the AWS Load Balancer Controller's default).
 */
function tlsPortsOf(desired: DesiredLoadBalancer, options: AwsServiceOptions): Set<number> {
  if (!options.tls) return new Set();
  if (!options.tls.ports) return new Set(desired.ports.filter((p) => p.protocol === 'TCP' && !desired.ports.some((q) => q.port === p.port && q.protocol !== 'TCP')).map((p) => p.port));
  return new Set(
    options.tls.ports.map((wanted) => {
      const port = desired.ports.find((p) => p.name === wanted || String(p.port) === wanted);
      if (!port) throw new ServiceConfigError(AWS_ANNOTATIONS.sslPorts, `"${wanted}" is neither the name nor the number of a port of this Service (${desired.ports.map((p) => p.name || p.port).join(', ')})`);
      return port.port;
    }),
  );
}

/** target-node-labels: every key present, with the value where one is given. */
function matchesLabels(labels: Record<string, string>, wanted: Record<string, string | undefined> | undefined): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => labels[k] !== undefined && (v === undefined || labels[k] === v));
}

/** The NLB's name: load-balancer-name when set (with the placement, so the other NLB of a replacement differs only if it changes), else generated. */
function nlbName(desired: DesiredLoadBalancer, options: AwsServiceOptions, placement: string): string {
  return options.loadBalancerName ?? loadBalancerName(desired.clusterName, desired.ref.uid, placement);
}

/** The names of the target groups a Service wants, without any cloud read (for the sweep). */
export function wantedTargetGroupNames(desired: DesiredLoadBalancer): string[] {
  const options = parseAwsAnnotations(desired.annotations);
  const names = [placementOf(desired, options), legacyPlacementOf(desired, options)].map((p) => nlbName(desired, options, p));
  return [...new Set(names)].flatMap((lbName) => groupPorts(desired, options, lbName).map((g) => g.targetGroupName));
}

/** The stack under another NLB name (an existing NLB adopted under its name): its target groups follow. */
export function withLoadBalancerName(stack: DesiredStack, lbName: string): DesiredStack {
  if (stack.lbName === lbName) return stack;
  return { ...stack, lbName, groups: stack.groups.map((g) => ({ ...g, targetGroupName: targetGroupName(lbName, g.port, g.protocol, g.targetType, g.ipAddressType) })) };
}

/**
 * "Allow inbound ICMP traffic to support MTU or Path MTU discovery" from 0.0.0.0/0 (recommended
 * rules of an NLB's security group): the routers that send it are not the clients. Only the message
 * PMTUD needs, Destination Unreachable / Fragmentation Needed (type 3, code 4).
 */
export const PATH_MTU_DISCOVERY_RULE: IngressRule = { protocol: 'icmp', port: 3, icmpCode: 4, source: '0.0.0.0/0' };

/** Its IPv6 counterpart on a dual-stack NLB: ICMPv6 Packet Too Big (type 2, code 0; RFC 8201 path MTU discovery). */
export const PATH_MTU_DISCOVERY_RULE_V6: IngressRule = { protocol: 'icmpv6', port: 2, icmpCode: 0, source: '::/0' };

function ruleProtocols(protocol: TargetGroupProtocol): ('tcp' | 'udp')[] {
  return protocol === 'TCP_UDP' ? ['tcp', 'udp'] : [protocol === 'UDP' ? 'udp' : 'tcp'];
}

/** The annotation's prefix lists with their MaxEntries; unknown ones, and IPv6 ones on an IPv4 NLB, are refused. */
function prefixListsOf(options: AwsServiceOptions, network: AwsNetwork): Record<string, number> {
  const entries: Record<string, number> = {};
  for (const id of options.prefixLists ?? []) {
    const found = network.prefixLists?.find((l) => l.id === id);
    if (!found) throw new ServiceConfigError(AWS_ANNOTATIONS.securityGroupPrefixLists, `no managed prefix list ${id} in this account and region; create or share it first, or remove it from the annotation`);
    if (found.family !== 'IPv4' && options.ipAddressType !== 'dualstack') {
      throw new ServiceConfigError(AWS_ANNOTATIONS.securityGroupPrefixLists, `${id} is an ${found.family} prefix list, and this NLB is IPv4: list IPv4 prefix lists only, or set ${AWS_ANNOTATIONS.ipAddressType}: dualstack`);
    }
    entries[id] = found.maxEntries;
  }
  return entries;
}

export function buildDesiredStack(desired: DesiredLoadBalancer, network: AwsNetwork): DesiredStack {
  const options = parseAwsAnnotations(desired.annotations);
  const placement = placementOf(desired, options);
  const lbName = nlbName(desired, options, placement);
  const legacyLbName = nlbName(desired, options, legacyPlacementOf(desired, options));
  const groups = groupPorts(desired, options, lbName);
  for (const listener of Object.keys(options.listenerAttributes ?? {})) {
    if (!groups.some((g) => `${g.listenerProtocol}-${g.port}` === listener)) {
      throw new ServiceConfigError(
        `${AWS_ANNOTATIONS.listenerAttributesPrefix}${listener}`,
        `names no listener of this Service (it has ${groups.map((g) => `${g.listenerProtocol}-${g.port}`).join(', ')}); rename the annotation or remove it`,
      );
    }
  }
  const { mappings, addresses, vpcId, field, candidates } = resolveMappings(desired, options, network);
  const heldAddresses = [...addresses, ...mappings.flatMap((m) => [m.PrivateIPv4Address, m.IPv6Address].filter((a): a is string => a !== undefined))];

  const prefixListEntries = prefixListsOf(options, network);
  const ipv6PrefixLists = Object.keys(prefixListEntries).filter((id) => network.prefixLists?.find((l) => l.id === id)?.family === 'IPv6');
  // As the AWS Load Balancer Controller: everyone (of both families on a dual-stack NLB) only when
  // neither ranges nor prefix lists are given.
  const dualStack = options.ipAddressType === 'dualstack';
  const everyone = dualStack ? ['0.0.0.0/0', '::/0'] : ['0.0.0.0/0'];
  const sources = desired.sourceRanges.length > 0 || options.prefixLists !== undefined ? desired.sourceRanges : everyone;
  if (!dualStack) requireIPv4SourceRanges(sources, `IPv4 NLBs (set ${AWS_ANNOTATIONS.ipAddressType}: dualstack to admit IPv6 clients)`);
  const admitted = [...sources, ...Object.keys(prefixListEntries)];
  const ingress: IngressRule[] = groups.flatMap((g) => ruleProtocols(g.protocol).flatMap((protocol) => admitted.map((source) => ({ protocol, port: g.port, source }))));
  ingress.push(PATH_MTU_DISCOVERY_RULE, ...(dualStack ? [PATH_MTU_DISCOVERY_RULE_V6] : []));
  if (options.securityGroups && (desired.sourceRanges.length > 0 || options.prefixLists)) {
    throw new ServiceConfigError(
      AWS_ANNOTATIONS.securityGroups,
      `with your own security groups on the NLB, spec.loadBalancerSourceRanges and ${AWS_ANNOTATIONS.securityGroupPrefixLists} cannot be enforced by this provider: put those rules in your groups and remove them from the Service, or remove this annotation`,
    );
  }

  // Node groups admit the whole NodePort range from the shared backend group (one rule per protocol
  // for the cluster, not one per Service: security groups hold only 60 rules by default), plus any
  // port outside the range, such as kube-proxy's 10256 health check.
  const { from, to } = network.nodePortRange;
  const nodeAccess = new Map<string, { protocol: 'tcp' | 'udp'; fromPort: number; toPort: number }>();
  const need = (protocol: 'tcp' | 'udp', port: number) => {
    if (port >= from && port <= to) nodeAccess.set(`${protocol}/${from}-${to}`, { protocol, fromPort: from, toPort: to });
    else nodeAccess.set(`${protocol}/${port}`, { protocol, fromPort: port, toPort: port });
  };
  // ip targets: the Pods' ports, on the nodes' groups too (Pods without security groups of their own
  // use their node's). A port not known yet (no endpoints read) is opened once they are.
  for (const g of groups) {
    const ports = g.targetType === 'ip' ? [...new Set((g.targets ?? []).map((t) => t.port))] : [g.nodePort];
    for (const protocol of ruleProtocols(g.protocol)) for (const port of ports) need(protocol, port);
    // Health checks are TCP, HTTP or HTTPS: always TCP, also for a UDP group checked on its traffic port.
    const hcPorts = g.healthCheck.port === 'traffic-port' ? ports : [Number(g.healthCheck.port)];
    for (const port of hcPorts) if (Number.isInteger(port)) need('tcp', port);
  }

  const instanceIds = new Set<string>();
  const instanceZones: Record<string, string> = {};
  const skippedNodes: DesiredStack['skippedNodes'] = [];
  for (const node of options.targetType === 'ip' ? [] : desired.nodes.filter((n) => matchesLabels(n.labels, options.targetNodeLabels))) {
    const id = instanceIdFromProviderID(node.providerID);
    if (id === undefined) skippedNodes.push({ name: node.name, reason: `spec.providerID "${node.providerID ?? ''}" is not aws:///<zone>/i-...` });
    else {
      instanceIds.add(id);
      instanceZones[id] = zoneFromProviderID(node.providerID) ?? node.zone ?? '';
    }
  }

  const tags: Record<string, string> = {
    ...options.additionalTags,
    [clusterTagKey(desired.clusterName)]: 'owned',
    [SERVICE_NAME_TAG]: serviceKey(desired.ref),
    [SERVICE_UID_TAG]: desired.ref.uid,
  };

  return {
    ref: desired.ref,
    clusterName: desired.clusterName,
    lbName,
    ...(legacyLbName !== lbName ? { legacyLbName } : {}),
    ...(options.loadBalancerName !== undefined ? { customName: true } : {}),
    placement,
    vpcId,
    scheme: options.scheme,
    ipAddressType: options.ipAddressType,
    ...(options.ipv6SourceNat && options.ipAddressType === 'dualstack' ? { ipv6SourceNat: options.ipv6SourceNat } : {}),
    subnetMappings: mappings,
    ...(candidates ? { subnetCandidates: candidates } : {}),
    addresses,
    heldAddresses,
    proxyProtocol: groups.some((g) => g.attributes['proxy_protocol_v2.enabled'] === 'true'),
    // The annotation's cross-zone setting wins (it is then held by modifyLoadBalancerAttributes).
    crossZone: options.loadBalancerAttributes?.['load_balancing.cross_zone.enabled'] === undefined && mappings.some((m) => m.AllocationId !== undefined) && mappings.some((m) => m.AllocationId === undefined),
    ...(options.loadBalancerAttributes ? { loadBalancerAttributes: options.loadBalancerAttributes } : {}),
    ...(options.securityGroups ? { ownSecurityGroups: options.securityGroups } : {}),
    backendAttached: options.manageBackendRules,
    ...(field !== undefined ? { addressField: field } : {}),
    tags,
    groups,
    instanceIds: [...instanceIds].sort(),
    instanceZones,
    skippedNodes,
    // The managed group with your own ones is only our anchor (found by tag): no rules on it.
    ingress: options.securityGroups ? [] : ingress,
    prefixListEntries,
    ...(ipv6PrefixLists.length > 0 ? { ipv6PrefixLists } : {}),
    // manage-backend-security-group-rules: false: the user opens the node groups; none is touched for this Service.
    nodeSecurityGroupIds: options.manageBackendRules ? [...network.nodeSecurityGroupIds].sort() : [],
    nodeAccess: [...nodeAccess.values()].sort((a, b) => a.fromPort - b.fromPort || a.protocol.localeCompare(b.protocol)),
  };
}
