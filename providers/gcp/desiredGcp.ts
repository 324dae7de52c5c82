// Maps the provider-neutral DesiredLoadBalancer to the GCP resources of a passthrough network load
// balancer (pure). Throws ServiceConfigError for what GCP cannot serve.
import ipaddr from 'ipaddr.js';
import { ServiceConfigError, type DesiredLoadBalancer, type IPFamily } from '../provider.js';
import { cidrFamily, networkCidr, requireIPv4SourceRanges } from '../common/cidr.js';
import { loadBalancerName, parseProviderID, serviceDescription } from './names.js';

export const LB_TYPE_ANNOTATION = 'networking.gke.io/load-balancer-type';
export const LEGACY_LB_TYPE_ANNOTATION = 'cloud.google.com/load-balancer-type';
/** GKE's tier annotation: "Standard" or "Premium" (cloud-provider-gcp's default is Premium). */
export const NETWORK_TIER_ANNOTATION = 'cloud.google.com/network-tier';

export type NetworkTier = 'PREMIUM' | 'STANDARD';
/** GKE: names of static addresses (IPv4, IPv6) reserved in the region, in place of loadBalancerIP. */
export const IP_ADDRESSES_ANNOTATION = 'networking.gke.io/load-balancer-ip-addresses';
/** GKE: the subnet of an internal load balancer's address and forwarding rule. */
export const SUBNET_ANNOTATION = 'networking.gke.io/load-balancer-subnet';
/** GKE: "true" lets clients in every region reach an internal load balancer. */
export const GLOBAL_ACCESS_ANNOTATION = 'networking.gke.io/internal-load-balancer-allow-global-access';

/** Where Google's health checkers and passthrough load balancer probes come from. */
export const GCP_HEALTH_CHECK_RANGES = ['35.191.0.0/16', '130.211.0.0/22', '209.85.152.0/22', '209.85.204.0/22'];
/**
 * The same over IPv6: 2600:2d00:1:b029::/64 for internal passthrough load balancers and
 * 2600:1901:8001::/48 for external ones (https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges).
 */
export const GCP_HEALTH_CHECK_RANGES_V6 = ['2600:1901:8001::/48', '2600:2d00:1:b029::/64'];

export interface GcpSettings {
  project: string;
  region: string;
  network: string;
  subnetwork?: string | undefined;
  nodeTags: string[];
  clusterName: string;
  /** Shared VPC host project owning the network; the cluster's project when unset. */
  networkProject?: string | undefined;
  /** Existing groups with this name prefix are reused as backends (instanceGroupReuse.ts). */
  externalInstanceGroupsPrefix?: string | undefined;
}

/** GKE's label naming a node's subnet; nodes without it are in the cluster's default subnet (ingress-gce zonegetter). */
export const NODE_SUBNET_LABEL = 'cloud.google.com/gke-node-pool-subnet';

export interface DesiredGroup {
  zone: string;
  /** Instance names, sorted. */
  instances: string[];
  /** name -> partial instance URL (projects/<p>/zones/<z>/instances/<name>). */
  urls: Record<string, string>;
}

export interface DesiredGcp {
  name: string;
  description: string;
  scheme: 'EXTERNAL' | 'INTERNAL';
  /**
   * The tier of the forwarding rule and of its address, which compute.proto requires to be equal.
   * Always set explicitly: a resource created without one gets the project's default tier. Internal
   * load balancers are always Premium.
   */
  networkTier: NetworkTier;
  backendProtocol: 'TCP' | 'UDP' | 'UNSPECIFIED';
  ruleProtocol: 'TCP' | 'UDP' | 'L3_DEFAULT';
  /** Exactly one of ports / portRange / allPorts describes the forwarding rule's ports. */
  ports: string[];
  portRange?: string;
  allPorts: boolean;
  healthCheck: { protocol: 'HTTP' | 'TCP'; port: number; path: string };
  /** The backend service's sessionAffinity: CLIENT_IP for spec.sessionAffinity ClientIP, as GKE does. */
  sessionAffinity: 'CLIENT_IP' | 'NONE';
  /** Firewall "allowed" for the Service ports, as "tcp:80", sorted. */
  allowed: string[];
  sourceRanges: string[];
  /**
   * Dual-stack (spec.ipFamilies has IPv6 and the policy is not SingleStack): as GKE does, an
   * `-ipv6` twin forwarding rule with an address from the subnet's IPv6 range, and `-ipv6` twin
   * firewalls. The backend service, health check and groups are shared with IPv4.
   */
  ipv6?: { subnetwork: string; sourceRanges: string[] };
  requestedIP?: string;
  /** Names from networking.gke.io/load-balancer-ip-addresses, resolved against the region's addresses by the diff. */
  requestedAddressNames?: string[];
  /** The field a problem with the requested address is reported on. */
  requestedField: string;
  /** Internal only: the subnetwork URL (annotation, else configuration). */
  subnetwork?: string;
  /** Internal only: networking.gke.io/internal-load-balancer-allow-global-access. */
  allowGlobalAccess: boolean;
  groups: DesiredGroup[];
  /** Nodes left out because they sit on another subnet than the cluster's (an instance group spans one subnet). */
  otherSubnetNodes: string[];
}

function loadBalancerScheme(annotations: Record<string, string>): 'EXTERNAL' | 'INTERNAL' {
  const value = annotations[LB_TYPE_ANNOTATION] ?? annotations[LEGACY_LB_TYPE_ANNOTATION];
  if (value === undefined || value === '' || value === 'External') return 'EXTERNAL';
  if (value === 'Internal') return 'INTERNAL';
  throw new ServiceConfigError(`metadata.annotations[${LB_TYPE_ANNOTATION}]`, `"${value}" is not a load balancer type; use "Internal" or "External"`);
}

function networkTier(annotations: Record<string, string>, scheme: 'EXTERNAL' | 'INTERNAL'): NetworkTier {
  const value = annotations[NETWORK_TIER_ANNOTATION]?.trim();
  if (scheme === 'INTERNAL' || value === undefined || value === '') return 'PREMIUM';
  const upper = value.toUpperCase();
  if (upper === 'PREMIUM' || upper === 'STANDARD') return upper;
  throw new ServiceConfigError(`metadata.annotations[${NETWORK_TIER_ANNOTATION}]`, `"${value}" is not a network tier; use "Premium" or "Standard"`);
}

function annotationField(key: string): string {
  return `metadata.annotations[${key}]`;
}

/** The subnet named for this Service (annotation, else configuration), as a URL; undefined when neither names one. */
function serviceSubnetwork(annotations: Record<string, string>, settings: GcpSettings): string | undefined {
  const subnet = annotations[SUBNET_ANNOTATION]?.trim() || settings.subnetwork;
  if (subnet === undefined || subnet === '') return undefined;
  if (subnet.includes('/')) return subnet;
  if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(subnet)) throw new ServiceConfigError(annotationField(SUBNET_ANNOTATION), `"${subnet}" is not a subnet name`);
  return `projects/${settings.networkProject ?? settings.project}/regions/${settings.region}/subnetworks/${subnet}`;
}

/** An internal load balancer's subnet: custom-mode VPCs (all production ones) have no default to fall back on. */
function internalSubnetwork(annotations: Record<string, string>, settings: GcpSettings): string {
  const subnet = serviceSubnetwork(annotations, settings);
  if (subnet === undefined)
    throw new ServiceConfigError(
      annotationField(SUBNET_ANNOTATION),
      `an internal load balancer needs a subnet, and custom-mode VPC networks have no default one; set this annotation to the subnet's name, or subnetwork in the gcp provider configuration`,
    );
  return subnet;
}

/**
 * The subnet an IPv6 forwarding rule takes its address from. compute.proto, ForwardingRule.subnetwork:
 * "a subnetwork must be specified ... when creating external forwarding rule with IPv6".
 */
function ipv6Subnetwork(annotations: Record<string, string>, settings: GcpSettings): string {
  const subnet = serviceSubnetwork(annotations, settings);
  if (subnet === undefined)
    throw new ServiceConfigError(
      'spec.ipFamilies',
      `an IPv6 load balancer takes its address from a dual-stack subnet, and none is named; set ${SUBNET_ANNOTATION} to one, or subnetwork in the gcp provider configuration, or drop IPv6 from spec.ipFamilies`,
    );
  return subnet;
}

function globalAccess(annotations: Record<string, string>): boolean {
  const value = annotations[GLOBAL_ACCESS_ANNOTATION]?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new ServiceConfigError(annotationField(GLOBAL_ACCESS_ANNOTATION), `"${annotations[GLOBAL_ACCESS_ANNOTATION]}" is not "true" or "false"`);
}

/**
 * loadBalancerSourceRanges by family, host bits cleared. As GKE's L4 controllers do, a family
 * without ranges is open to all of it. IPv6 ranges need a dual-stack Service.
 */
function sourceRanges(ranges: string[], dualStack: boolean): { v4: string[]; v6: string[] } {
  if (!dualStack) requireIPv4SourceRanges(ranges, 'IPv4 load balancers unless the Service is dual-stack (spec.ipFamilies)');
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  for (const raw of ranges) {
    const range = raw.trim();
    let family: IPFamily;
    try {
      family = cidrFamily(range);
    } catch {
      throw new ServiceConfigError('spec.loadBalancerSourceRanges', `"${range}" is not a CIDR (e.g. 203.0.113.0/24)`);
    }
    (family === 'IPv4' ? v4 : v6).add(networkCidr(range));
  }
  return { v4: v4.size > 0 ? [...v4].sort() : ['0.0.0.0/0'], v6: v6.size > 0 ? [...v6].sort() : ['::/0'] };
}

/** The network's URL; under Shared VPC it lives in the host project. */
export function networkUrl(s: GcpSettings): string {
  return s.network.includes('/') ? s.network : `projects/${s.networkProject ?? s.project}/global/networks/${s.network}`;
}

/** Dual-stack: IPv6 among spec.ipFamilies, under a policy that is not SingleStack (which keeps only the first family). */
export function wantsDualStack(desired: DesiredLoadBalancer): boolean {
  return desired.ipFamilyPolicy !== 'SingleStack' && desired.ipFamilies.includes('IPv6');
}

export function desiredGcp(desired: DesiredLoadBalancer, settings: GcpSettings): DesiredGcp {
  if (desired.ports.length === 0) throw new ServiceConfigError('spec.ports', 'a LoadBalancer Service needs at least one port');
  const sctp = desired.ports.find((p) => p.protocol === 'SCTP');
  if (sctp) throw new ServiceConfigError('spec.ports', `port ${sctp.port}: GCP passthrough load balancers do not carry SCTP; use TCP or UDP`);
  if (desired.ipFamilies.length > 0 && !desired.ipFamilies.includes('IPv4'))
    throw new ServiceConfigError('spec.ipFamilies', 'this provider serves IPv4 and dual-stack load balancers, not IPv6-only ones; add IPv4 to spec.ipFamilies');
  const requestedIP = desired.loadBalancerIP?.trim() || undefined;
  if (requestedIP !== undefined && !ipaddr.IPv4.isValidFourPartDecimal(requestedIP))
    throw new ServiceConfigError('spec.loadBalancerIP', `"${requestedIP}" is not an IPv4 address`);

  const scheme = loadBalancerScheme(desired.annotations);
  const protocols = new Set(desired.ports.map((p) => p.protocol));
  const mixed = protocols.size > 1;
  const only = desired.ports[0]!.protocol as 'TCP' | 'UDP';
  const distinctPorts = [...new Set(desired.ports.map((p) => p.port))].sort((a, b) => a - b);
  let ports: string[] = [];
  let portRange: string | undefined;
  let allPorts = false;
  if (mixed) allPorts = true;
  else if (distinctPorts.length <= 5) ports = distinctPorts.map(String);
  else if (scheme === 'EXTERNAL') portRange = `${distinctPorts[0]}-${distinctPorts[distinctPorts.length - 1]}`;
  else allPorts = true;

  const allowed = [...new Set(desired.ports.map((p) => `${p.protocol.toLowerCase()}:${p.port}`))].sort();

  const byZone = new Map<string, DesiredGroup>();
  const otherSubnetNodes: string[] = [];
  const clusterSubnet = settings.subnetwork?.split('/').pop();
  for (const node of desired.nodes) {
    const id = parseProviderID(node.providerID);
    if (!id) continue; // the controller reports nodes without a usable providerID
    // An unmanaged instance group holds VMs of one subnet only (compute.proto, InstanceGroup.subnetwork).
    const subnet = node.labels[NODE_SUBNET_LABEL];
    if (clusterSubnet !== undefined && subnet !== undefined && subnet !== '' && subnet !== clusterSubnet) {
      otherSubnetNodes.push(node.name);
      continue;
    }
    const group = byZone.get(id.zone) ?? { zone: id.zone, instances: [], urls: {} };
    group.instances.push(id.instance);
    group.urls[id.instance] = `projects/${id.project}/zones/${id.zone}/instances/${id.instance}`;
    byZone.set(id.zone, group);
  }
  const groups = [...byZone.values()].sort((a, b) => a.zone.localeCompare(b.zone));
  for (const g of groups) g.instances.sort();

  const dualStack = wantsDualStack(desired);
  const ranges = sourceRanges(desired.sourceRanges, dualStack);
  const hc = desired.healthCheck;
  const out: DesiredGcp = {
    name: loadBalancerName(desired.ref.uid),
    description: serviceDescription(desired.ref, settings.clusterName),
    scheme,
    networkTier: networkTier(desired.annotations, scheme),
    requestedField: 'spec.loadBalancerIP',
    allowGlobalAccess: scheme === 'INTERNAL' && globalAccess(desired.annotations),
    backendProtocol: mixed ? 'UNSPECIFIED' : only,
    ruleProtocol: mixed ? 'L3_DEFAULT' : only,
    ports,
    allPorts,
    healthCheck: { protocol: hc.protocol, port: hc.port, path: hc.protocol === 'HTTP' ? (hc.path ?? '/healthz') : '' },
    // Passthrough load balancers have no affinity timeout; the timeout only applies in kube-proxy.
    sessionAffinity: desired.sessionAffinity === 'ClientIP' ? 'CLIENT_IP' : 'NONE',
    allowed,
    sourceRanges: ranges.v4,
    groups,
    otherSubnetNodes,
  };
  if (portRange !== undefined) out.portRange = portRange;
  if (requestedIP !== undefined) out.requestedIP = requestedIP;
  if (scheme === 'INTERNAL') out.subnetwork = internalSubnetwork(desired.annotations, settings);
  if (dualStack) out.ipv6 = { subnetwork: ipv6Subnetwork(desired.annotations, settings), sourceRanges: ranges.v6 };
  const names = (desired.annotations[IP_ADDRESSES_ANNOTATION] ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length > 0) {
    out.requestedAddressNames = names;
    out.requestedField = annotationField(IP_ADDRESSES_ANNOTATION);
  }
  return out;
}
