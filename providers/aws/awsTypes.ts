// The shapes the AWS provider passes between observe (effects), diff (pure) and apply (effects).
import type { LoadBalancerIngress, Plan, PlanAction, ServiceRef } from '../provider.js';
import type { TargetGroupProtocol } from './names.js';

/** Subnets, Elastic IPs and node security groups: read rarely, cached with a TTL. */
export interface AwsNetwork {
  /** freeIps: AvailableIpAddressCount (undefined when AWS does not say). */
  subnets: { id: string; zone: string; vpcId: string; cidr: string; tags: Record<string, string>; freeIps?: number; ipv6Cidrs?: string[] }[];
  addresses: { allocationId: string; publicIp: string; associated: boolean }[];
  nodeSecurityGroupIds: string[];
  /** The cluster's shared backend security group, on every NLB; node groups admit NodePorts from it. */
  backend?: { id: string; nodeRules: NodeRule[] };
  /** The cluster's NodePort range, opened once from the backend group instead of once per Service. */
  nodePortRange: { from: number; to: number };
  /** Managed prefix lists the account sees (DescribeManagedPrefixLists): a rule that references one counts as its MaxEntries. */
  prefixLists?: { id: string; family: 'IPv4' | 'IPv6'; maxEntries: number }[];
  /** Network Load Balancers in the region (anyone's), for the per-Region quota; undefined when not read. */
  networkLoadBalancers?: number;
}

/** An ingress rule in a node security group whose source is the backend security group. */
export interface NodeRule {
  groupId: string;
  protocol: 'tcp' | 'udp';
  fromPort: number;
  toPort: number;
}

/** One rule as we compare them: protocol, a single port (for ICMP: the type), and a source. */
export interface IngressRule {
  protocol: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  port: number;
  /** ICMP only: the code (ToPort on the wire). */
  icmpCode?: number;
  /** An IPv4/IPv6 CIDR, a managed prefix list ID (pl-...), or a security group ID. */
  source: string;
}

export interface HealthCheckSettings {
  protocol: 'TCP' | 'HTTP' | 'HTTPS';
  /** 'traffic-port' or a port number as a string (as AWS reports it). */
  port: string;
  path?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  healthyThreshold?: number;
  unhealthyThreshold?: number;
  successCodes?: string;
}

export interface ObservedTargetGroup {
  arn: string;
  name: string;
  protocol: string;
  port: number;
  owned: boolean;
  tags: Record<string, string>;
  healthCheck: HealthCheckSettings;
  targets: { id: string; port: number }[];
  /** Target group attributes as AWS reports them (read for owned groups only). */
  attributes?: Record<string, string>;
}

export interface ObservedListener {
  arn: string;
  port: number;
  protocol: string;
  targetGroupArn?: string;
  /** Read only for NLBs whose listener attributes are managed (tagged). */
  attributes?: Record<string, string>;
  /** TLS: the default certificate, the security policy and the ALPN policy AWS reports. */
  certificateArn?: string;
  sslPolicy?: string;
  alpnPolicy?: string;
  /** TLS: the SNI certificates besides the default (DescribeListenerCertificates, a deep read); undefined: not read. */
  extraCertificates?: string[];
}

/** One load balancer of a Service with everything hanging off it, found from its security group. */
export interface ObservedStack {
  lbName: string;
  placement: string;
  securityGroup: { id: string; ingress: IngressRule[]; tags: Record<string, string> };
  /** Addresses this stack holds or may still hold (its anchor's tag, and what its NLB reports). */
  holds: string[];
  loadBalancer?: {
    arn: string;
    dnsName: string;
    state: string;
    owned: boolean;
    tags: Record<string, string>;
    /** Addresses of attached Elastic IPs (from AWS, or from our tag where AWS does not say). */
    addresses: string[];
    /** The security groups AWS reports on it. */
    securityGroups?: string[];
    /** Cross-zone load balancing; read only for NLBs with Elastic IPs (the only ones that ask for it). */
    crossZone?: boolean;
    /** Every attribute, read for NLBs with Elastic IPs or managed attributes (their tags say so). */
    attributes?: Record<string, string>;
    /** ipv4 or dualstack, as AWS reports it (SetIpAddressType changes it in place). */
    ipAddressType?: string;
    /** EnablePrefixForIpv6SourceNat as AWS reports it ("on" or "off"). */
    ipv6SourceNat?: string;
    /** The enabled zones and their subnets, with whether an Elastic IP is mapped there. */
    zones: { zone: string; subnetId: string; pinned: boolean }[];
  };
  listeners: ObservedListener[];
  targetGroups: ObservedTargetGroup[];
}

export interface AwsObserved {
  ref: ServiceRef;
  stacks: ObservedStack[];
  network: AwsNetwork;
}

export interface SubnetMapping {
  SubnetId: string;
  AllocationId?: string;
  PrivateIPv4Address?: string;
  /** aws-load-balancer-ipv6-addresses: the NLB's IPv6 address in this subnet (dualstack). */
  IPv6Address?: string;
  /** source-nat-ipv6-prefixes: the /80 (or auto_assigned) this subnet gives source NAT. */
  SourceNatIpv6Prefix?: string;
}

export interface DesiredPortGroup {
  port: number;
  /** The target group's protocol. */
  protocol: TargetGroupProtocol;
  /** The listener's: TLS where ssl-cert covers the port, else the target group's (TCP for a TLS group never happens). */
  listenerProtocol: 'TCP' | 'UDP' | 'TCP_UDP' | 'TLS';
  /** listener-attributes.<PROTOCOL>-<port> for this port's listener. */
  listenerAttributes?: Record<string, string>;
  /** TLS listeners: the default certificate first, then more (AddListenerCertificates); policies only when annotated. */
  tls?: { certificates: string[]; sslPolicy?: string; alpnPolicy?: string };
  /** instance: the nodes on nodePort; ip: Pod IPs on their own ports. */
  targetType: 'instance' | 'ip';
  /** The target group's address family: ipv6 for ip targets of a Service whose first family is IPv6. */
  ipAddressType: 'ipv4' | 'ipv6';
  /** 0 for ip targets (allocateLoadBalancerNodePorts: false is fine there). */
  nodePort: number;
  /** The target group's port: nodePort for instance targets, the Pods' port for ip targets. */
  targetGroupPort: number;
  /** Who should be registered; undefined when not known yet (Pod endpoints not read): leave the group as it is. */
  targets?: { id: string; port: number }[];
  targetGroupName: string;
  healthCheck: HealthCheckSettings;
  /** The target group attributes we manage: stickiness from spec.sessionAffinity, then the annotation's. */
  attributes: Record<string, string>;
}

/** Everything the Service should have on AWS, resolved against the network view. Pure data. */
export interface DesiredStack {
  ref: ServiceRef;
  clusterName: string;
  lbName: string;
  /** lbName comes from aws-load-balancer-name. */
  customName?: boolean;
  /** The name releases before in-place subnet changes gave this NLB (the subnets annotation in it), when different. */
  legacyLbName?: string;
  placement: string;
  vpcId: string;
  scheme: 'internet-facing' | 'internal';
  /** aws-load-balancer-ip-address-type: changed in place (SetIpAddressType). */
  ipAddressType: 'ipv4' | 'dualstack';
  /** enable-prefix-for-ipv6-source-nat, when set on a dualstack NLB: held in place (SetSubnets). */
  ipv6SourceNat?: 'on' | 'off';
  subnetMappings: SubnetMapping[];
  /** Discovery only: every subnet that qualifies (not just one per zone), so an existing NLB keeps an eligible one. */
  subnetCandidates?: string[];
  /** Public addresses of the Elastic IPs in subnetMappings, in the same order. */
  addresses: string[];
  /** Every address the NLB asks for: those Elastic IPs' public addresses and the private IPv4s. */
  heldAddresses: string[];
  /**
   * The NLB's security groups: the managed one (our anchor) and the backend group, or with
   * aws-load-balancer-security-groups the user's (plus the backend group when its rules are managed).
   * undefined: the managed pair, whose IDs apply learns.
   */
  ownSecurityGroups?: string[];
  /** Whether the backend group goes on the NLB (the node rules come from it). */
  backendAttached: boolean;
  /** aws-load-balancer-attributes: the load balancer attributes to hold. */
  loadBalancerAttributes?: Record<string, string>;
  /** PROXY protocol v2 on the target groups: status ip entries say ipMode Proxy (KEP-1860). */
  proxyProtocol: boolean;
  /** Cross-zone load balancing, set right after creation: an address in one zone serves every zone's nodes. */
  crossZone: boolean;
  /** The field the addresses come from (spec.loadBalancerIP or an annotation), for errors about them. */
  addressField?: string;
  /** Ownership plus the user's additional tags: on every resource. */
  tags: Record<string, string>;
  groups: DesiredPortGroup[];
  /** Instance IDs of the eligible nodes, sorted. */
  instanceIds: string[];
  /** The zone of each instance, from its node's providerID or zone label ('' when neither says). */
  instanceZones: Record<string, string>;
  skippedNodes: { name: string; reason: string }[];
  /** Rules of the load balancer's security group (the source ranges and prefix lists on each listener port). */
  ingress: IngressRule[];
  /** MaxEntries of each prefix list the rules reference: what each such rule counts against the rule quota. */
  prefixListEntries: Record<string, number>;
  /** Those prefix lists that are IPv6 (dualstack only): their entries count against the IPv6 rule quota. */
  ipv6PrefixLists?: string[];
  nodeSecurityGroupIds: string[];
  /** Rules the node groups need from the backend group: the NodePort range and ports outside it. */
  nodeAccess: { protocol: 'tcp' | 'udp'; fromPort: number; toPort: number }[];
}

/** Every step knows how to redo itself safely after a crash (find before create, ignore not-found on delete). */
export type AwsStep =
  | { op: 'announceReplacement'; from: string[] }
  | { op: 'createSecurityGroup' }
  | { op: 'authorizeIngress'; rules: IngressRule[] }
  | { op: 'revokeIngress'; rules: IngressRule[] }
  | { op: 'createTargetGroup'; group: DesiredPortGroup }
  | { op: 'modifyTargetGroup'; arn: string; name: string; healthCheck: HealthCheckSettings }
  /** Set attributes (stickiness) on a target group; by name, since a new group has no ARN at plan time. */
  | { op: 'modifyTargetGroupAttributes'; targetGroupName: string; attributes: Record<string, string> }
  | { op: 'createLoadBalancer' }
  /** load_balancing.cross_zone.enabled=true on a new NLB (ModifyLoadBalancerAttributes). */
  | { op: 'enableCrossZone' }
  /** aws-load-balancer-attributes: the ones that differ, and the NLB tagged so that observe reads them. */
  | { op: 'modifyLoadBalancerAttributes'; attributes: Record<string, string>; tag: boolean }
  /** listener-attributes.*: the ones that differ (the listener by port: it may be new); tag: the NLB, so that observe reads them. */
  | { op: 'modifyListenerAttributes'; port: number; attributes: Record<string, string>; tag: boolean }
  | { op: 'createListener'; group: DesiredPortGroup }
  | { op: 'modifyListener'; arn: string; group: DesiredPortGroup }
  | { op: 'syncListenerCertificates'; arn: string; add: string[]; remove: string[] }
  | { op: 'deleteListener'; arn: string; port: number }
  | { op: 'deleteTargetGroup'; arn: string; name: string }
  /** Target groups of ports that are gone but may have been left unattached by an interrupted run. */
  | { op: 'deleteTargetGroupsByName'; names: string[] }
  | { op: 'registerTargets'; targetGroupName: string; targets: { id: string; port: number }[]; targetType?: 'ip' }
  | { op: 'deregisterTargets'; targetGroupName: string; targets: { id: string; port: number }[] }
  | { op: 'ensureBackendSecurityGroup' }
  /** The user's additional tags changed: add them (tags the user dropped from the annotation stay). */
  | { op: 'tagResources'; elbArns: string[]; securityGroupId?: string; tags: Record<string, string> }
  | { op: 'authorizeNodeRules'; groupId: string; rules: { protocol: 'tcp' | 'udp'; fromPort: number; toPort: number }[] }
  /** first: the old NLB holds addresses the new one needs, so it goes before the create. */
  | { op: 'retireStack'; stack: ObservedStack; first?: boolean }
  /** Set an existing NLB's subnets: zones added, moved or removed (SetSubnets lists every subnet to keep). */
  | { op: 'setSubnets'; arn: string; subnetIds: string[] }
  /** enable-prefix-for-ipv6-source-nat changed: SetSubnets with the NLB's subnets and the new setting, in place. */
  | { op: 'setIpv6SourceNat'; arn: string; subnetIds: string[]; enable: 'on' | 'off' }
  /** ip-address-type changed: SetIpAddressType, in place (the NLB keeps its name, DNS name and addresses). */
  | { op: 'setIpAddressType'; arn: string; ipAddressType: 'ipv4' | 'dualstack' }
  /** The user's security groups changed (SetSecurityGroups: an NLB created with groups can change them). */
  | { op: 'setSecurityGroups'; arn: string; groupIds: string[] };

export type AwsAction = PlanAction & { step: AwsStep };

export interface AwsPlan extends Plan {
  actions: AwsAction[];
  desired: DesiredStack;
  /** The network view the plan was made against (subnets, addresses, backend group, node rules). */
  network: AwsNetwork;
  /** The stack being converged, if it exists already. */
  current?: ObservedStack;
  /** Older stacks (a replaced placement), deleted once the new load balancer is active. */
  retiring: ObservedStack[];
  /** When nothing mutates: the status to report. */
  ingress?: LoadBalancerIngress[];
}
