// The GCP diff (pure): from what Compute holds and what the Service wants, the ordered steps that
// converge them. Steps come in phases that respect GCP's references (a backend service needs its
// health check and instance groups, a forwarding rule its backend service and address; nothing in
// use can be deleted; a group's membership and the backend service using it never change at the
// same time, which Compute refuses with resourceNotReady). apply runs only the first phase that has steps; the next reconcile observes
// again and re-plans, so a plan never acts on state it has not seen, and a restart loses nothing.
import ipaddr from 'ipaddr.js';
import { ServiceConfigError, type DesiredLoadBalancer, type Plan, type PlanAction, type ServiceRef } from '../provider.js';
import { desiredGcp, networkUrl, GCP_HEALTH_CHECK_RANGES, GCP_HEALTH_CHECK_RANGES_V6, NETWORK_TIER_ANNOTATION, NODE_SUBNET_LABEL, type DesiredGcp, type DesiredGroup, type GcpSettings } from './desiredGcp.js';
import { reuseExternalGroups } from './instanceGroupReuse.js';
import { healthCheckFirewallName, ipv6Twin, lastSegment, serviceFirewallName } from './names.js';
import type { GcpObserved, ObservedAddress, ObservedFirewall, ObservedForwardingRule } from './observed.js';

export interface HealthCheckBody {
  name: string;
  description: string;
  type: 'HTTP' | 'TCP';
  httpHealthCheck?: { port: number; requestPath: string };
  tcpHealthCheck?: { port: number };
  checkIntervalSec: number;
  timeoutSec: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

export interface BackendServiceBody {
  name: string;
  description: string;
  protocol: string;
  loadBalancingScheme: string;
  healthChecks: string[];
  backends: Array<{ group: string; balancingMode: string }>;
  sessionAffinity: 'CLIENT_IP' | 'NONE';
  network?: string;
  connectionDraining?: { drainingTimeoutSec: number };
}

export interface ForwardingRuleBody {
  name: string;
  description: string;
  IPAddress: string;
  IPProtocol: string;
  loadBalancingScheme: string;
  backendService: string;
  /** IPV6 for a dual-stack Service's twin rule (absent: IPv4). */
  ipVersion?: 'IPV6';
  ports?: string[];
  portRange?: string;
  allPorts?: boolean;
  networkTier?: string;
  network?: string;
  subnetwork?: string;
  allowGlobalAccess?: boolean;
}

export interface FirewallBody {
  name: string;
  description: string;
  network: string;
  direction: 'INGRESS';
  sourceRanges: string[];
  allowed: Array<{ IPProtocol: string; ports: string[] }>;
  targetTags?: string[];
}

export interface AddressBody {
  name: string;
  description: string;
  addressType: string;
  networkTier?: string;
  subnetwork?: string;
}

export type Step =
  | { op: 'insertAddress'; body: AddressBody }
  | { op: 'deleteAddress'; name: string }
  | { op: 'insertHealthCheck'; body: HealthCheckBody }
  | { op: 'updateHealthCheck'; body: HealthCheckBody }
  | { op: 'insertFirewall'; body: FirewallBody }
  | { op: 'updateFirewall'; body: FirewallBody }
  | { op: 'deleteFirewall'; name: string }
  | { op: 'insertInstanceGroup'; zone: string }
  | { op: 'addInstances'; zone: string; instances: string[] }
  | { op: 'removeInstances'; zone: string; instances: string[] }
  | { op: 'insertBackendService'; body: BackendServiceBody }
  | { op: 'updateBackendService'; body: BackendServiceBody }
  | { op: 'deleteBackendService'; name: string }
  | { op: 'insertForwardingRule'; body: ForwardingRuleBody; userAddress: boolean }
  | { op: 'deleteForwardingRule'; name: string }
  | { op: 'patchForwardingRule'; name: string; allowGlobalAccess: boolean };

export interface GcpAction extends PlanAction {
  phase: number;
  step?: Step;
}

/** Why nothing is planned yet: what apply answers inProgress (or, while serving, ready) for. */
export type GcpWait =
  /** Operations still run: this Service's own, or (zones) the shared groups' its next steps touch. */
  | { kind: 'operations'; zones?: string[]; groupsOnly: boolean; servingMeanwhile?: boolean }
  /** The cached view cannot decide this change: read the Service's resources (and the address list) afresh. */
  | { kind: 'freshRead'; addresses: boolean; ipv6?: boolean };

export interface GcpPlan extends Plan {
  name: string;
  actions: GcpAction[];
  /** Set together with `waiting`: what the plan waits for. */
  wait?: GcpWait;
  /** The load balancer's address, when the forwarding rule exists as desired. */
  ingressIP?: string;
  /** Dual-stack: the IPv6 twin rule's address, when it exists as desired. */
  ingressIPv6?: string;
  /** The Service wants an IPv6 twin: it serves only once ingressIPv6 is known too. */
  dualStack?: boolean;
  /** The forwarding rules' protocol (names the GKE condition types). */
  ruleProtocol?: DesiredGcp['ruleProtocol'];
  /** True when the plan sees nothing of this Service in Compute yet (a first create). */
  creating: boolean;
  /** The shared-group generation the plan was made from; group steps of an older one are skipped. */
  groupGeneration: number;
  /** Nodes this load balancer leaves out, and why (apply reports them as a Warning Event). */
  notices?: string[];
  /** The full read this plan was made from, which apply keeps as the converged view when nothing is left to do. */
  fullRead?: GcpObserved;
}

/**
 * Compute caps an instance group at 1,000 instances for load balancing, and both upstream
 * controllers truncate there (ingress-gce --max-ig-size). Current members are kept first so that
 * truncation does not reshuffle the group on every node change.
 */
export const MAX_GROUP_SIZE = 1000;

/**
 * Probe timings as GKE's L4 controllers set them. Under externalTrafficPolicy Local a node without a
 * ready endpoint must stop getting traffic quickly: every 3 s, unhealthy after 2 failures (about
 * 6 s). Cluster checks kube-proxy, which is up on every node: every 8 s, unhealthy after 3.
 */
function healthCheckTiming(policy: DesiredLoadBalancer['externalTrafficPolicy']) {
  return policy === 'Local'
    ? { checkIntervalSec: 3, timeoutSec: 1, healthyThreshold: 1, unhealthyThreshold: 2 }
    : { checkIntervalSec: 8, timeoutSec: 1, healthyThreshold: 1, unhealthyThreshold: 3 };
}

function capGroup(group: DesiredGroup, current: string[], notices: string[]): DesiredGroup {
  if (group.instances.length <= MAX_GROUP_SIZE) return group;
  const eligible = new Set(group.instances);
  const kept = current.filter((i) => eligible.has(i)).sort();
  const keptSet = new Set(kept);
  const chosen = [...kept, ...group.instances.filter((i) => !keptSet.has(i))].slice(0, MAX_GROUP_SIZE).sort();
  notices.push(`${group.instances.length} eligible nodes in ${group.zone}; an instance group holds at most ${MAX_GROUP_SIZE}, so ${group.instances.length - MAX_GROUP_SIZE} of them get no traffic from this load balancer`);
  return { ...group, instances: chosen };
}

const zonesUrl = (s: GcpSettings, zone: string, group: string) => `projects/${s.project}/zones/${zone}/instanceGroups/${group}`;
const regionUrl = (s: GcpSettings, collection: string, name: string) => `projects/${s.project}/regions/${s.region}/${collection}/${name}`;

/** Subnetworks are compared by name; an external resource has none. */
function sameSubnet(a: string | undefined, b: string | undefined): boolean {
  return lastSegment(a) === lastSegment(b);
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);
}

function firewallAllowed(allowed: string[]): FirewallBody['allowed'] {
  const byProto = new Map<string, string[]>();
  for (const entry of allowed) {
    const [proto, port] = entry.split(':') as [string, string];
    byProto.set(proto, [...(byProto.get(proto) ?? []), port]);
  }
  return [...byProto.entries()].map(([IPProtocol, ports]) => ({ IPProtocol, ports }));
}

function firewallMatches(observed: ObservedFirewall, body: FirewallBody): boolean {
  const allowed = body.allowed.flatMap((a) => a.ports.map((p) => `${a.IPProtocol}:${p}`));
  return sameList(observed.sourceRanges, body.sourceRanges) && sameList(observed.allowed, allowed) && sameList(observed.targetTags, body.targetTags ?? []);
}

/** Whether a rule has the immutable fields wanted; the IPv6 twin's address is whatever its subnet gave it. */
function ruleMatches(rule: ObservedForwardingRule, want: DesiredGcp, ip: string | undefined, name: string, v6 = false): boolean {
  return (
    (ip === undefined || rule.ip === ip) &&
    rule.protocol === want.ruleProtocol &&
    rule.scheme === want.scheme &&
    (want.scheme === 'INTERNAL' || rule.networkTier === (v6 ? 'PREMIUM' : want.networkTier)) &&
    sameSubnet(rule.subnetwork, v6 ? want.ipv6?.subnetwork : want.subnetwork) &&
    lastSegment(rule.backendService) === name &&
    sameList(rule.ports, want.ports) &&
    (rule.portRange ?? '') === (want.portRange ?? '') &&
    rule.allPorts === want.allPorts
  );
}

/** Our own address serves as long as its type and tier are the ones the Service wants. */
function ownAddressFits(address: ObservedAddress, want: DesiredGcp): boolean {
  return address.type === want.scheme && (want.scheme === 'INTERNAL' ? sameSubnet(address.subnetwork, want.subnetwork) : address.networkTier === want.networkTier);
}

function notOwned(what: string, name: string, settings: GcpSettings): ServiceConfigError {
  return new ServiceConfigError(
    'metadata.uid',
    `the ${what} ${name} exists but is not owned by cluster ${settings.clusterName} and this Service; it is left alone, remove or rename it`,
  );
}

/** networking.gke.io/load-balancer-ip-addresses names addresses; the IPv4 one is the Service's address. */
function resolveAddressNames(observed: GcpObserved, want: DesiredGcp, settings: GcpSettings): void {
  if (!want.requestedAddressNames) return;
  const found = want.requestedAddressNames.map((n) => [n, observed.addresses.find((a) => a.name === n)] as const);
  const missing = found.filter(([, a]) => !a).map(([n]) => n);
  if (missing.length > 0)
    throw new ServiceConfigError(want.requestedField, `no address named ${missing.join(', ')} is reserved in project ${settings.project}, region ${settings.region}; reserve it or fix the name`);
  const v4 = found.map(([, a]) => a!).filter((a) => ipaddr.IPv4.isValidFourPartDecimal(a.ip));
  if (v4.length !== 1) throw new ServiceConfigError(want.requestedField, `name exactly one IPv4 address (a named IPv6 address is not used: a dual-stack Service's -ipv6 rule takes its address from the subnet)`);
  if (want.requestedIP !== undefined && want.requestedIP !== v4[0]!.ip)
    throw new ServiceConfigError(want.requestedField, `names ${v4[0]!.ip} but spec.loadBalancerIP is ${want.requestedIP}; keep one of them`);
  want.requestedIP = v4[0]!.ip;
}

/** Which address the forwarding rule should carry: the user's static address, or our own. */
function chooseAddress(observed: GcpObserved, want: DesiredGcp, settings: GcpSettings): { ip?: string; own: boolean } {
  if (want.requestedIP !== undefined) {
    const holder = observed.addresses.find((a) => a.ip === want.requestedIP);
    // As GKE does, an internal IP need not be reserved: the forwarding rule takes it from the subnet.
    if (!holder && want.scheme === 'INTERNAL') return { ip: want.requestedIP, own: false };
    if (!holder)
      throw new ServiceConfigError(
        want.requestedField,
        `${want.requestedIP} is not a static address reserved in project ${settings.project}, region ${settings.region}; reserve it (gcloud compute addresses create) or remove loadBalancerIP`,
      );
    if (holder.owner === 'otherService') throw new ServiceConfigError(want.requestedField, `${want.requestedIP} belongs to another Service's load balancer`);
    const foreignUser = holder.users.find((u) => u !== want.name);
    if (foreignUser) throw new ServiceConfigError(want.requestedField, `${want.requestedIP} is already used by forwarding rule ${foreignUser}`);
    if (holder.owner === 'foreign' && holder.type !== want.scheme)
      throw new ServiceConfigError(want.requestedField, `${want.requestedIP} is a ${holder.type} address; this Service needs an ${want.scheme} one`);
    // compute.proto, ForwardingRule.networkTier: it "must be equal to the networkTier of the Address".
    if (want.scheme === 'EXTERNAL' && holder.networkTier !== want.networkTier)
      throw new ServiceConfigError(
        want.requestedField,
        `${want.requestedIP} is a ${holder.networkTier} tier address and this Service asks for ${want.networkTier} (annotation ${NETWORK_TIER_ANNOTATION}, Premium by default); set the annotation to "${holder.networkTier === 'STANDARD' ? 'Standard' : 'Premium'}" or reserve a ${want.networkTier} address`,
      );
    return { ip: want.requestedIP, own: holder.owner === 'thisService' };
  }
  const own = observed.addresses.find((a) => a.owner === 'thisService' && a.name === want.name && ownAddressFits(a, want));
  return own ? { ip: own.ip, own: true } : { own: true };
}

/** What every part of the plan reads, and where it adds its steps. */
interface Planning {
  observed: GcpObserved;
  desired: DesiredLoadBalancer;
  want: DesiredGcp;
  settings: GcpSettings;
  name: string;
  groupName: string;
  add(phase: number, step: Step, description: string, membershipOnly?: boolean): void;
}

/** Anything with our name that is not ours stops the plan: only the user can fix that. */
function refuseForeign({ observed, want, settings, name }: Omit<Planning, 'add'>): void {
  const owned: Array<[string, string, { owned: boolean } | undefined]> = [
    ['health check', name, observed.healthCheck],
    ['backend service', name, observed.backendService],
    ['forwarding rule', name, observed.forwardingRule],
    ['firewall', serviceFirewallName(name), observed.firewall],
    ['firewall', healthCheckFirewallName(name), observed.healthCheckFirewall],
    ['forwarding rule', ipv6Twin(name), observed.forwardingRuleV6],
    ['firewall', ipv6Twin(serviceFirewallName(name)), observed.firewallV6],
    ['firewall', ipv6Twin(healthCheckFirewallName(name)), observed.healthCheckFirewallV6],
  ];
  for (const [what, n, r] of owned) if (r && !r.owned) throw notOwned(what, n, settings);
  const squatter = observed.addresses.find((a) => a.name === name && a.owner !== 'thisService');
  if (squatter && want.requestedIP === undefined) throw notOwned('address', name, settings);
}

/** Phases 1-4: immutable resources replaced, our own address released or reserved. Answers whether the rule is replaced. */
function planReplacementsAndAddress({ observed, want, name, add }: Planning, address: { ip?: string }): { frStale: boolean; bsStale: boolean; v6Stale: boolean } {
  const fr = observed.forwardingRule;
  const fr6 = observed.forwardingRuleV6;
  const bs = observed.backendService;
  const bsStale = bs !== undefined && (bs.scheme !== want.scheme || bs.protocol !== want.backendProtocol);
  const frStale = fr !== undefined && (bsStale || !ruleMatches(fr, want, address.ip, name));
  const v6Stale = fr6 !== undefined && (bsStale || want.ipv6 === undefined || !ruleMatches(fr6, want, undefined, name, true));
  // Phase 1: a forwarding rule's address, ports and protocol are immutable: replace it.
  if (fr && frStale) add(1, { op: 'deleteForwardingRule', name }, `delete forwarding rule ${name} (${fr.protocol} ${fr.ip}) to recreate it as desired`);
  // The IPv6 twin goes when the Service is single-stack again, and is replaced like the IPv4 rule.
  if (fr6 && v6Stale)
    add(1, { op: 'deleteForwardingRule', name: ipv6Twin(name) }, `delete forwarding rule ${ipv6Twin(name)} (${fr6.protocol} ${fr6.ip})${want.ipv6 ? ' to recreate it as desired' : ': the Service is single-stack'}`);
  // Phase 2: a backend service's scheme is immutable and its protocol must match the rule's.
  if (bs && bsStale) add(2, { op: 'deleteBackendService', name }, `delete backend service ${name} (${bs.scheme} ${bs.protocol}) to recreate it as ${want.scheme} ${want.backendProtocol}`);
  const ownAddress = observed.addresses.find((a) => a.owner === 'thisService' && a.name === name);
  const keepOwnAddress = want.requestedIP === undefined ? ownAddress !== undefined && ownAddressFits(ownAddress, want) : want.requestedIP === ownAddress?.ip;
  if (ownAddress && !keepOwnAddress) {
    const inUse = ownAddress.users.length > 0 && !(ownAddress.users.length === 1 && ownAddress.users[0] === name && frStale);
    add(inUse ? 7 : 2, { op: 'deleteAddress', name }, `release address ${name} (${ownAddress.ip}): no longer used by this Service`);
  }
  // Phase 3: everything that references nothing of ours.
  if (want.requestedIP === undefined && !(ownAddress && keepOwnAddress)) {
    const body: AddressBody = { name, description: want.description, addressType: want.scheme };
    if (want.scheme === 'EXTERNAL') body.networkTier = want.networkTier;
    if (want.subnetwork !== undefined) body.subnetwork = want.subnetwork;
    add(ownAddress ? 4 : 3, { op: 'insertAddress', body }, `reserve ${want.scheme.toLowerCase()} address ${name}${want.scheme === 'EXTERNAL' ? ` (${want.networkTier} tier)` : ''}`);
  }
  return { frStale, bsStale, v6Stale };
}

/** Phase 3: the health check. */
function planHealthCheck({ observed, desired, want, name, add }: Planning): void {
  const timing = healthCheckTiming(desired.externalTrafficPolicy);
  const hcBody: HealthCheckBody = { name, description: want.description, type: want.healthCheck.protocol, ...timing };
  if (want.healthCheck.protocol === 'HTTP') hcBody.httpHealthCheck = { port: want.healthCheck.port, requestPath: want.healthCheck.path };
  else hcBody.tcpHealthCheck = { port: want.healthCheck.port };
  const hcDesc = `${want.healthCheck.protocol} :${want.healthCheck.port}${want.healthCheck.path}`;
  if (!observed.healthCheck) add(3, { op: 'insertHealthCheck', body: hcBody }, `create health check ${name} (${hcDesc})`);
  else if (
    observed.healthCheck.port !== want.healthCheck.port ||
    (observed.healthCheck.path ?? '') !== want.healthCheck.path ||
    observed.healthCheck.checkIntervalSec !== timing.checkIntervalSec ||
    observed.healthCheck.unhealthyThreshold !== timing.unhealthyThreshold
  )
    add(
      3,
      { op: 'updateHealthCheck', body: hcBody },
      `update health check ${name}: :${observed.healthCheck.port}${observed.healthCheck.path ?? ''} every ${observed.healthCheck.checkIntervalSec ?? '?'}s -> ${hcDesc} every ${timing.checkIntervalSec}s, unhealthy after ${timing.unhealthyThreshold}`,
    );
}

/** Phase 3: the Service's firewall and the health checkers' one. */
function planFirewalls({ observed, want, settings, name, add }: Planning): void {
  const targetTags = settings.nodeTags.length > 0 ? [...settings.nodeTags].sort() : undefined;
  const fwBody: FirewallBody = {
    name: serviceFirewallName(name),
    description: want.description,
    network: networkUrl(settings),
    direction: 'INGRESS',
    sourceRanges: want.sourceRanges,
    allowed: firewallAllowed(want.allowed),
    ...(targetTags ? { targetTags } : {}),
  };
  const hcFwBody: FirewallBody = {
    ...fwBody,
    name: healthCheckFirewallName(name),
    sourceRanges: [...GCP_HEALTH_CHECK_RANGES].sort(),
    allowed: [{ IPProtocol: 'tcp', ports: [String(want.healthCheck.port)] }],
  };
  const wanted: Array<[ObservedFirewall | undefined, FirewallBody, string]> = [
    [observed.firewall, fwBody, `${want.allowed.join(',')} from ${want.sourceRanges.join(',')}`],
    [observed.healthCheckFirewall, hcFwBody, `health checks to tcp:${want.healthCheck.port}`],
  ];
  // A firewall rule holds ranges of one family (the firewall docs; apiRules.checkOneFamily), so IPv6 gets twins, as GKE does.
  const v6 = want.ipv6;
  if (v6) {
    wanted.push([observed.firewallV6, { ...fwBody, name: ipv6Twin(fwBody.name), sourceRanges: v6.sourceRanges }, `${want.allowed.join(',')} from ${v6.sourceRanges.join(',')}`]);
    wanted.push([observed.healthCheckFirewallV6, { ...hcFwBody, name: ipv6Twin(hcFwBody.name), sourceRanges: [...GCP_HEALTH_CHECK_RANGES_V6].sort() }, `IPv6 health checks to tcp:${want.healthCheck.port}`]);
  } else
    for (const [obs, n] of [
      [observed.firewallV6, ipv6Twin(fwBody.name)],
      [observed.healthCheckFirewallV6, ipv6Twin(hcFwBody.name)],
    ] as const)
      if (obs) add(1, { op: 'deleteFirewall', name: n }, `delete firewall ${n}: the Service is single-stack`);
  for (const [obs, body, what] of wanted) {
    if (!obs) add(3, { op: 'insertFirewall', body }, `create firewall ${body.name} (${what})`);
    else if (!firewallMatches(obs, body)) add(3, { op: 'updateFirewall', body }, `update firewall ${body.name} (${what})`);
  }
}

/**
 * Phases 3-4: the shared instance groups: missing ones created, membership brought to the eligible
 * nodes. Others' groups that already hold some nodes are used as they are; ours hold the rest, up
 * to the cap. Answers the zones of our groups and the reused ones, and notices of nodes left out.
 */
function planInstanceGroups({ observed, want, settings, groupName, add }: Planning): { zones: string[]; reused: Array<{ zone: string; name: string }>; notices: string[] } {
  const { reused, remaining } = reuseExternalGroups(observed.externalGroups, want.groups);
  const notices: string[] = [];
  if (want.otherSubnetNodes.length > 0)
    notices.push(`nodes ${want.otherSubnetNodes.join(', ')} are on another subnet than ${settings.subnetwork ?? ''} (label ${NODE_SUBNET_LABEL}) and get no traffic from this load balancer`);
  const ourGroups = remaining.map((g) => capGroup(g, observed.groups.find((o) => o.zone === g.zone)?.instances ?? [], notices));

  for (const g of ourGroups) {
    const have = observed.groups.find((o) => o.zone === g.zone);
    if (!have) {
      add(3, { op: 'insertInstanceGroup', zone: g.zone }, `create instance group ${groupName} in ${g.zone}`, true);
      add(4, { op: 'addInstances', zone: g.zone, instances: g.instances.map((i) => g.urls[i]!) }, `add ${g.instances.join(', ')} to ${groupName} in ${g.zone}`, true);
      continue;
    }
    if (!have.owned) throw new ServiceConfigError('spec', `instance group ${groupName} in ${g.zone} exists but is not owned by cluster ${settings.clusterName}`);
    const missing = g.instances.filter((i) => !have.instances.includes(i));
    if (missing.length > 0) add(4, { op: 'addInstances', zone: g.zone, instances: missing.map((i) => g.urls[i]!) }, `add ${missing.join(', ')} to ${groupName} in ${g.zone}`, true);
  }
  for (const have of observed.groups) {
    if (!have.owned) continue;
    const wanted = ourGroups.find((g) => g.zone === have.zone)?.instances ?? [];
    const extra = have.instances.filter((i) => !wanted.includes(i));
    if (extra.length > 0)
      add(4, { op: 'removeInstances', zone: have.zone, instances: extra.map((i) => `projects/${settings.project}/zones/${have.zone}/instances/${i}`) }, `remove ${extra.join(', ')} from ${groupName} in ${have.zone}`, true);
  }
  return { zones: ourGroups.map((g) => g.zone), reused, notices };
}

/** Phase 5: the backend service, over the groups of every zone with eligible nodes, once their membership operations are done. */
function planBackendService({ observed, want, settings, name, groupName, add }: Planning, groups: { zones: string[]; reused: Array<{ zone: string; name: string }> }, bsStale: boolean): void {
  const bs = observed.backendService;
  const { zones, reused } = groups;
  const backendGroups = [...zones.map((z) => `${z}/${groupName}`), ...reused.map((g) => `${g.zone}/${g.name}`)].sort();
  const bsBody: BackendServiceBody = {
    name,
    description: want.description,
    protocol: want.backendProtocol,
    loadBalancingScheme: want.scheme,
    healthChecks: [regionUrl(settings, 'healthChecks', name)],
    backends: backendGroups.map((zg) => {
      const [zone, group] = zg.split('/') as [string, string];
      return { group: zonesUrl(settings, zone, group), balancingMode: 'CONNECTION' };
    }),
    sessionAffinity: want.sessionAffinity,
    ...(want.scheme === 'INTERNAL' ? { network: networkUrl(settings) } : {}),
    // As GKE sets it: established TCP connections get 30 s to finish when a node leaves; UDP has none.
    connectionDraining: { drainingTimeoutSec: want.backendProtocol === 'UDP' ? 0 : 30 },
  };
  if (!bs || bsStale)
    add(
      5,
      { op: 'insertBackendService', body: bsBody },
      `create backend service ${name} (${want.scheme} ${want.backendProtocol}, session affinity ${want.sessionAffinity}, zones ${zones.join(', ') || 'none'})`,
    );
  else {
    // One in-place update carries every drifted field; it is membership-only when only zones moved.
    const changes: string[] = [];
    if (lastSegment(bs.healthCheck) !== name) changes.push(`health check ${name}`);
    if (bs.sessionAffinity !== want.sessionAffinity) changes.push(`session affinity ${bs.sessionAffinity} -> ${want.sessionAffinity}`);
    const zonesOnly = changes.length === 0;
    if (!sameList(bs.groups, backendGroups)) changes.push(`groups ${bs.groups.join(', ') || 'none'} -> ${backendGroups.join(', ') || 'none'}`);
    if (changes.length > 0) add(5, { op: 'updateBackendService', body: bsBody }, `update backend service ${name}: ${changes.join('; ')}`, zonesOnly);
  }
}

/** Phase 6: the forwarding rule, once its backend service and address exist; global access patched in place. */
function planForwardingRule({ observed, want, settings, name, add }: Planning, address: { ip?: string; own: boolean }, stale: { frStale: boolean; v6Stale: boolean }): void {
  const ruleBody = (ruleName: string, v6: boolean): ForwardingRuleBody => {
    const body: ForwardingRuleBody = {
      name: ruleName,
      description: want.description,
      // The IPv6 twin takes an ephemeral address from its subnet's IPv6 range (compute.proto, ForwardingRule.IPAddress).
      IPAddress: v6 ? '' : (address.ip ?? ''),
      IPProtocol: want.ruleProtocol,
      loadBalancingScheme: want.scheme,
      backendService: regionUrl(settings, 'backendServices', name),
    };
    if (v6) body.ipVersion = 'IPV6';
    if (want.allPorts) body.allPorts = true;
    else if (want.portRange !== undefined) body.portRange = want.portRange;
    else body.ports = want.ports;
    // External IPv6 is Premium tier only (https://cloud.google.com/network-tiers/docs/overview).
    if (want.scheme === 'EXTERNAL') body.networkTier = v6 ? 'PREMIUM' : want.networkTier;
    else {
      body.network = networkUrl(settings);
      if (want.allowGlobalAccess) body.allowGlobalAccess = true;
    }
    const subnet = v6 ? want.ipv6?.subnetwork : want.subnetwork;
    if (subnet !== undefined) body.subnetwork = subnet;
    return body;
  };
  const ports = want.allPorts ? 'all ports' : (want.portRange ?? want.ports.join(','));
  const fr = observed.forwardingRule;
  if (!fr || stale.frStale)
    add(6, { op: 'insertForwardingRule', body: ruleBody(name, false), userAddress: want.requestedIP !== undefined && !address.own }, `create forwarding rule ${name} (${want.ruleProtocol} ${address.ip ?? `address ${name}`}:${ports})`);
  const fr6 = observed.forwardingRuleV6;
  if (want.ipv6 && (!fr6 || stale.v6Stale))
    add(6, { op: 'insertForwardingRule', body: ruleBody(ipv6Twin(name), true), userAddress: false }, `create forwarding rule ${ipv6Twin(name)} (${want.ruleProtocol} IPv6 from ${lastSegment(want.ipv6.subnetwork)}:${ports})`);

  // Global access is one of the few fields a forwarding rule lets a patch change (compute.proto).
  for (const [rule, ruleName, ruleStale] of [
    [fr, name, stale.frStale],
    [want.ipv6 ? fr6 : undefined, ipv6Twin(name), stale.v6Stale],
  ] as const)
    if (rule && !ruleStale && want.scheme === 'INTERNAL' && (rule.allowGlobalAccess ?? false) !== want.allowGlobalAccess)
      add(6, { op: 'patchForwardingRule', name: ruleName, allowGlobalAccess: want.allowGlobalAccess }, `${want.allowGlobalAccess ? 'allow' : 'stop'} global access to forwarding rule ${ruleName}`);
}

export function planActions(observed: GcpObserved, desired: DesiredLoadBalancer, settings: GcpSettings, groupName: string): GcpPlan {
  const ref: ServiceRef = desired.ref;
  const want = desiredGcp(desired, settings);
  const name = want.name;
  const creating = !observed.healthCheck && !observed.backendService && !observed.forwardingRule;
  const failure = observed.failures[0];
  if (failure) throw new ServiceConfigError(failure.field, `GCP rejected ${failure.action} (HTTP ${failure.status}): ${failure.message}`);
  if (observed.pendingOperations.length > 0) {
    const waiting = `running operations: ${observed.pendingOperations.join(', ')}`;
    return { ref, name, creating, waiting, wait: { kind: 'operations', groupsOnly: false }, groupGeneration: observed.groupGeneration, actions: [] };
  }
  refuseForeign({ observed, desired, want, settings, name, groupName });
  resolveAddressNames(observed, want, settings);
  const address = chooseAddress(observed, want, settings);
  const actions: GcpAction[] = [];
  const add = (phase: number, step: Step, description: string, membershipOnly = false) =>
    actions.push({ kind: step.op, description, mutating: true, phase, step, ...(membershipOnly ? { membershipOnly } : {}) });
  const planning: Planning = { observed, desired, want, settings, name, groupName, add };

  const { frStale, bsStale, v6Stale } = planReplacementsAndAddress(planning, address);
  planHealthCheck(planning);
  planFirewalls(planning);
  const groups = planInstanceGroups(planning);
  planBackendService(planning, groups, bsStale);
  planForwardingRule(planning, address, { frStale, v6Stale });

  const plan: GcpPlan = { ref, name, creating, groupGeneration: observed.groupGeneration, actions: actions.sort((a, b) => a.phase - b.phase) };
  if (groups.notices.length > 0) plan.notices = groups.notices;
  const fr = observed.forwardingRule;
  if (fr && !frStale) plan.ingressIP = fr.ip;
  plan.ruleProtocol = want.ruleProtocol;
  if (want.ipv6) {
    plan.dualStack = true;
    if (observed.forwardingRuleV6 && !v6Stale) plan.ingressIPv6 = observed.forwardingRuleV6.ip;
  }
  return plan;
}

export function currentPhase(plan: GcpPlan): GcpAction[] {
  const mutating = plan.actions.filter((a) => a.mutating && a.step);
  if (mutating.length === 0) return [];
  const first = mutating[0]!.phase;
  return mutating.filter((a) => a.phase === first);
}
