// Reads the service.beta.kubernetes.io/aws-load-balancer-* annotations users bring from
// cloud-provider-aws and the AWS Load Balancer Controller. Pure; bad values throw ServiceConfigError
// naming the annotation, so the user sees which one to fix.
import ipaddr from 'ipaddr.js';
import { ServiceConfigError } from '../provider.js';
import { tagProblem } from './awsText.js';

const P = 'service.beta.kubernetes.io/aws-load-balancer-';
export const AWS_ANNOTATIONS = {
  type: `${P}type`,
  internal: `${P}internal`,
  scheme: `${P}scheme`,
  subnets: `${P}subnets`,
  eipAllocations: `${P}eip-allocations`,
  privateIPv4Addresses: `${P}private-ipv4-addresses`,
  additionalTags: `${P}additional-resource-tags`,
  hcProtocol: `${P}healthcheck-protocol`,
  hcPort: `${P}healthcheck-port`,
  hcPath: `${P}healthcheck-path`,
  hcInterval: `${P}healthcheck-interval`,
  hcTimeout: `${P}healthcheck-timeout`,
  hcHealthy: `${P}healthcheck-healthy-threshold`,
  hcUnhealthy: `${P}healthcheck-unhealthy-threshold`,
  hcSuccessCodes: `${P}healthcheck-success-codes`,
  targetGroupAttributes: `${P}target-group-attributes`,
  /** Followed by .<port>: that port's target group attributes, over the ones above. */
  targetGroupAttributesPortPrefix: `${P}target-group-attributes.`,
  securityGroupPrefixLists: `${P}security-group-prefix-lists`,
  targetType: `${P}nlb-target-type`,
  proxyProtocol: `${P}proxy-protocol`,
  proxyProtocolPerTargetGroup: `${P}proxy-protocol-per-target-group`,
  // Deprecated by the AWS Load Balancer Controller in favour of `attributes`, still read by it.
  accessLogEnabled: `${P}access-log-enabled`,
  accessLogBucket: `${P}access-log-s3-bucket-name`,
  accessLogPrefix: `${P}access-log-s3-bucket-prefix`,
  crossZone: `${P}cross-zone-load-balancing-enabled`,
  sslCert: `${P}ssl-cert`,
  sslPorts: `${P}ssl-ports`,
  sslNegotiationPolicy: `${P}ssl-negotiation-policy`,
  alpnPolicy: `${P}alpn-policy`,
  backendProtocol: `${P}backend-protocol`,
  targetNodeLabels: `${P}target-node-labels`,
  /** The AWS Load Balancer Controller's key. */
  loadBalancerName: `${P}name`,
  /** The key this provider read before it matched the controller's; still read. */
  loadBalancerNameOld: `${P}load-balancer-name`,
  attributes: `${P}attributes`,
  manageBackendRules: `${P}manage-backend-security-group-rules`,
  securityGroups: `${P}security-groups`,
  ipAddressType: `${P}ip-address-type`,
  ipv6Addresses: `${P}ipv6-addresses`,
  ipv6SourceNat: `${P}enable-prefix-for-ipv6-source-nat`,
  sourceNatIpv6Prefixes: `${P}source-nat-ipv6-prefixes`,
  /** Followed by <PROTOCOL>-<port>, e.g. listener-attributes.TCP-80. */
  listenerAttributesPrefix: `${P}listener-attributes.`,
} as const;

export interface HealthCheckOverrides {
  protocol?: 'TCP' | 'HTTP' | 'HTTPS';
  /** A port number, or 'traffic-port'. */
  port?: number | 'traffic-port';
  path?: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  healthyThreshold?: number;
  unhealthyThreshold?: number;
  successCodes?: string;
}

export interface AwsServiceOptions {
  scheme: 'internet-facing' | 'internal';
  /** aws-load-balancer-ip-address-type: IPv4 only (default), or IPv4 and IPv6 (dualstack). */
  ipAddressType: 'ipv4' | 'dualstack';
  /** aws-load-balancer-ipv6-addresses: one IPv6 address per subnet (dualstack only). */
  ipv6Addresses?: string[];
  /** enable-prefix-for-ipv6-source-nat, when set: an IPv6 /80 per subnet for source NAT (UDP on dualstack). */
  ipv6SourceNat?: 'on' | 'off';
  /** source-nat-ipv6-prefixes: a /80 from each subnet's IPv6 range, or auto_assigned (needs ipv6SourceNat on). */
  sourceNatIpv6Prefixes?: string[];
  /** aws-load-balancer-nlb-target-type: node instances on NodePorts (default), or Pod IPs on their ports. */
  targetType: 'instance' | 'ip';
  /** Subnet IDs or Name tags from aws-load-balancer-subnets; undefined means discover by tags. */
  subnets?: string[];
  eipAllocations?: string[];
  privateIPv4Addresses?: string[];
  additionalTags: Record<string, string>;
  healthCheck: HealthCheckOverrides;
  /** aws-load-balancer-target-group-attributes (key=value,...): wins over what the Service spec implies. */
  targetGroupAttributes?: Record<string, string>;
  /** target-group-attributes.<port>: one port's target group attributes, over the Service-wide ones. */
  targetGroupAttributesByPort?: Record<number, Record<string, string>>;
  /** proxy-protocol-per-target-group: the Service ports whose groups get PROXY protocol v2 (the others not). */
  proxyProtocolPorts?: number[];
  /** ssl-cert and friends: TLS listeners on ssl-ports (all TCP ports when unset). */
  tls?: { certificates: string[]; ports?: string[]; sslPolicy?: string; alpnPolicy?: string; toTargets: boolean };
  /** target-node-labels: instance targets only on nodes with all of these labels (value undefined: the key alone). */
  targetNodeLabels?: Record<string, string | undefined>;
  /** listener-attributes.<PROTOCOL>-<port>: listener attributes, by "<PROTOCOL>-<port>". */
  listenerAttributes?: Record<string, Record<string, string>>;
  /** security-groups: the user's own groups on the NLB instead of the managed one (IDs). */
  securityGroups?: string[];
  /** manage-backend-security-group-rules: false leaves the node security groups to the user. */
  manageBackendRules: boolean;
  /** aws-load-balancer-attributes: load balancer attributes (ModifyLoadBalancerAttributes). */
  loadBalancerAttributes?: Record<string, string>;
  /** aws-load-balancer-name: the NLB's name instead of the generated one (a new name is a new NLB). */
  loadBalancerName?: string;
  /** aws-load-balancer-proxy-protocol "*": PROXY protocol v2 to every target group. */
  proxyProtocol: boolean;
  /** aws-load-balancer-security-group-prefix-lists: managed prefix lists admitted to every listener port. */
  prefixLists?: string[];
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function integer(annotations: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < min || n > max) throw new ServiceConfigError(key, `must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function bool(annotations: Record<string, string>, key: string): boolean | undefined {
  const raw = annotations[key]?.trim().toLowerCase();
  if (raw === undefined) return undefined;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  // cloud-provider-aws historically accepted "0.0.0.0/0" to mean internal.
  if (raw === '0.0.0.0/0') return true;
  throw new ServiceConfigError(key, `must be "true" or "false", got "${annotations[key]}"`);
}

/** Go's strconv.ParseBool, as the AWS Load Balancer Controller reads its boolean annotations. */
function goBool(annotations: Record<string, string>, key: string): boolean | undefined {
  const raw = annotations[key]?.trim();
  if (raw === undefined) return undefined;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(raw)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(raw)) return false;
  throw new ServiceConfigError(key, `must be "true" or "false", got "${annotations[key]}"`);
}

/**
 * Which field to name when AWS refuses target group attributes: the stickiness keys alone come from
 * spec.sessionAffinity, anything else only from the annotation.
 */
export function targetGroupAttributesField(keys: string[]): string {
  const fromSpec = keys.every((k) => k === 'stickiness.enabled' || k === 'stickiness.type');
  if (keys.every((k) => k === 'proxy_protocol_v2.enabled')) return `metadata.annotations[${AWS_ANNOTATIONS.proxyProtocol}]`;
  return fromSpec ? 'spec.sessionAffinity' : `metadata.annotations[${AWS_ANNOTATIONS.targetGroupAttributes}]`;
}

/**
 * ip-address-type and ipv6-addresses as the AWS Load Balancer Controller reads them: "ipv4" (the
 * default) or "dualstack" (NLBs take no other: SetIpAddressTypeInput, "[Network Load Balancers]
 * The possible values are ipv4 ... and dualstack"); IPv6 addresses "can only be set for dualstack
 * load balancers". Matching them to subnets needs the subnets (desiredStack).
 */
function addressTypeOf(annotations: Record<string, string>): { ipAddressType: AwsServiceOptions['ipAddressType']; ipv6Addresses?: string[] } {
  const raw = annotations[AWS_ANNOTATIONS.ipAddressType]?.trim();
  if (raw !== undefined && raw !== 'ipv4' && raw !== 'dualstack') {
    throw new ServiceConfigError(AWS_ANNOTATIONS.ipAddressType, `must be "ipv4" (the default) or "dualstack" (IPv4 and IPv6; Network Load Balancers take no other type), got "${raw}"`);
  }
  const ipAddressType = raw ?? 'ipv4';
  const v6 = annotations[AWS_ANNOTATIONS.ipv6Addresses];
  if (v6 === undefined) return { ipAddressType };
  if (ipAddressType !== 'dualstack') {
    throw new ServiceConfigError(AWS_ANNOTATIONS.ipv6Addresses, `IPv6 addresses need a dual-stack NLB: set ${AWS_ANNOTATIONS.ipAddressType}: dualstack, or remove this annotation`);
  }
  const ipv6Addresses = list(v6).map((address) => {
    if (!ipaddr.IPv6.isValid(address) || address.includes('.')) throw new ServiceConfigError(AWS_ANNOTATIONS.ipv6Addresses, `"${address}" is not an IPv6 address; list one IPv6 address per subnet, separated by commas`);
    return ipaddr.IPv6.parse(address).toString();
  });
  if (ipv6Addresses.length === 0) throw new ServiceConfigError(AWS_ANNOTATIONS.ipv6Addresses, 'lists no address; list one IPv6 address per subnet, or remove the annotation');
  return { ipAddressType, ipv6Addresses };
}

/**
 * aws-load-balancer-nlb-target-type; cloud-provider-aws and the AWS Load Balancer Controller default
 * to instance. The controller's older spelling, aws-load-balancer-type: nlb-ip, also means ip.
 */
export function targetTypeOf(annotations: Record<string, string>): 'instance' | 'ip' {
  const raw = annotations[AWS_ANNOTATIONS.targetType]?.trim().toLowerCase();
  if (raw === undefined && annotations[AWS_ANNOTATIONS.type]?.trim() === 'nlb-ip') return 'ip';
  if (raw === undefined || raw === 'instance' || raw === 'nlb-ip') return raw === 'nlb-ip' ? 'ip' : 'instance';
  if (raw === 'ip') return 'ip';
  throw new ServiceConfigError(AWS_ANNOTATIONS.targetType, `must be "instance" (node ports, the default) or "ip" (Pod IPs), got "${annotations[AWS_ANNOTATIONS.targetType]}"`);
}

// ELB API reference, Listener.AlpnPolicy / CreateListenerInput.AlpnPolicy.
const ALPN_POLICIES = ['HTTP1Only', 'HTTP2Only', 'HTTP2Optional', 'HTTP2Preferred', 'None'];

/** ssl-cert (ACM or IAM certificate ARNs; the first is the listener's default), ssl-ports, the policies, backend-protocol. */
function tlsOf(annotations: Record<string, string>): AwsServiceOptions['tls'] {
  const certs = annotations[AWS_ANNOTATIONS.sslCert];
  const backend = annotations[AWS_ANNOTATIONS.backendProtocol]?.trim().toLowerCase();
  if (backend !== undefined && backend !== 'ssl' && backend !== 'tcp') {
    throw new ServiceConfigError(AWS_ANNOTATIONS.backendProtocol, `must be "tcp" or "ssl" (TLS to the targets), got "${annotations[AWS_ANNOTATIONS.backendProtocol]}"`);
  }
  const dependents = [AWS_ANNOTATIONS.sslPorts, AWS_ANNOTATIONS.sslNegotiationPolicy, AWS_ANNOTATIONS.alpnPolicy].filter((k) => annotations[k] !== undefined);
  if (certs === undefined) {
    if (dependents.length > 0) throw new ServiceConfigError(dependents[0]!, `needs ${AWS_ANNOTATIONS.sslCert} (the certificate of the TLS listeners)`);
    if (backend === 'ssl') throw new ServiceConfigError(AWS_ANNOTATIONS.backendProtocol, `"ssl" needs TLS listeners: set ${AWS_ANNOTATIONS.sslCert}`);
    return undefined;
  }
  const certificates = list(certs);
  if (certificates.length === 0) throw new ServiceConfigError(AWS_ANNOTATIONS.sslCert, 'lists no certificate ARN');
  const bad = certificates.find((c) => !/^arn:aws[a-z-]*:(acm|iam):[a-z0-9-]*:\d{12}:(certificate|server-certificate)\/.+$/.test(c));
  if (bad !== undefined) throw new ServiceConfigError(AWS_ANNOTATIONS.sslCert, `"${bad}" is not an ACM or IAM certificate ARN (arn:aws:acm:<region>:<account>:certificate/...)`);
  const tls: NonNullable<AwsServiceOptions['tls']> = { certificates, toTargets: backend === 'ssl' };
  const ports = annotations[AWS_ANNOTATIONS.sslPorts];
  if (ports !== undefined && ports.trim() !== '*') tls.ports = list(ports);
  const policy = annotations[AWS_ANNOTATIONS.sslNegotiationPolicy]?.trim();
  if (policy !== undefined) {
    if (!/^ELBSecurityPolicy-[A-Za-z0-9-]+$/.test(policy)) throw new ServiceConfigError(AWS_ANNOTATIONS.sslNegotiationPolicy, `"${policy}" is not an ELB security policy name (ELBSecurityPolicy-...)`);
    tls.sslPolicy = policy;
  }
  const alpn = annotations[AWS_ANNOTATIONS.alpnPolicy]?.trim();
  if (alpn !== undefined) {
    const match = ALPN_POLICIES.find((p) => p.toLowerCase() === alpn.toLowerCase());
    if (!match) throw new ServiceConfigError(AWS_ANNOTATIONS.alpnPolicy, `must be one of ${ALPN_POLICIES.join(', ')}, got "${alpn}"`);
    tls.alpnPolicy = match;
  }
  return tls;
}

/** key=value,... of ELB attributes (AttributeKey: "can contain only lowercase letters, digits, periods, underscores"; moto and AWS check the rest). */
function attributePairs(annotation: string, raw: string, example: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of list(raw)) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if (!/^[a-z0-9_.]+$/.test(key) || value === '') throw new ServiceConfigError(annotation, `"${pair}" is not an attribute (key=value, e.g. ${example})`);
    out[key] = value;
  }
  return out;
}

export function parseAwsAnnotations(annotations: Record<string, string>): AwsServiceOptions {
  const type = annotations[AWS_ANNOTATIONS.type]?.trim();
  if (type !== undefined && type !== 'nlb' && type !== 'external' && type !== 'nlb-ip') {
    throw new ServiceConfigError(AWS_ANNOTATIONS.type, `this provider creates Network Load Balancers only ("nlb", "external", or "nlb-ip" for Pod IP targets), got "${type}"`);
  }
  refuseUnsupported(annotations);
  const scheme = schemeOf(annotations);
  const { ipAddressType, ipv6Addresses } = addressTypeOf(annotations);
  const proxy = annotations[AWS_ANNOTATIONS.proxyProtocol]?.trim();
  // The AWS Load Balancer Controller (and cloud-provider-aws) accept only "*": every target group.
  if (proxy !== undefined && proxy !== '*') throw new ServiceConfigError(AWS_ANNOTATIONS.proxyProtocol, `must be "*" (PROXY protocol v2 on every port), got "${proxy}"; remove it to turn PROXY protocol off`);
  const options: AwsServiceOptions = {
    scheme,
    ipAddressType,
    targetType: targetTypeOf(annotations),
    proxyProtocol: proxy === '*',
    ...proxyProtocolPortsOf(annotations),
    ...securityGroupsOf(annotations),
    ...addressesOf(annotations, scheme),
    additionalTags: additionalTagsOf(annotations),
    ...attributesOf(annotations),
    healthCheck: healthCheckOf(annotations),
  };
  if (ipv6Addresses) options.ipv6Addresses = ipv6Addresses;
  Object.assign(options, sourceNatOf(annotations, ipAddressType));
  const targetNodeLabels = targetNodeLabelsOf(annotations);
  if (targetNodeLabels) options.targetNodeLabels = targetNodeLabels;
  const loadBalancerName = loadBalancerNameOf(annotations);
  if (loadBalancerName !== undefined) options.loadBalancerName = loadBalancerName;
  const tls = tlsOf(annotations);
  if (tls) options.tls = tls;
  const prefixLists = idList(annotations, AWS_ANNOTATIONS.securityGroupPrefixLists, /^pl-[0-9a-f]+$/, 'a managed prefix list ID (pl-...)');
  if (prefixLists) options.prefixLists = prefixLists;
  return options;
}

function schemeOf(annotations: Record<string, string>): AwsServiceOptions['scheme'] {
  const schemeRaw = annotations[AWS_ANNOTATIONS.scheme]?.trim();
  if (schemeRaw === undefined) return bool(annotations, AWS_ANNOTATIONS.internal) === true ? 'internal' : 'internet-facing';
  bool(annotations, AWS_ANNOTATIONS.internal); // still refused when malformed
  if (schemeRaw !== 'internal' && schemeRaw !== 'internet-facing') {
    throw new ServiceConfigError(AWS_ANNOTATIONS.scheme, `must be "internal" or "internet-facing", got "${schemeRaw}"`);
  }
  return schemeRaw;
}

/** Distinct IDs of one kind from a comma-separated annotation; undefined when it is absent. */
function idList(annotations: Record<string, string>, key: string, pattern: RegExp, what: string): string[] | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  const ids = [...new Set(list(raw))];
  const bad = ids.find((id) => !pattern.test(id));
  if (bad !== undefined) throw new ServiceConfigError(key, `"${bad}" is not ${what}; list IDs separated by commas`);
  return ids;
}

/** security-groups (bring your own) and manage-backend-security-group-rules. */
function securityGroupsOf(annotations: Record<string, string>): Pick<AwsServiceOptions, 'securityGroups' | 'manageBackendRules'> {
  const securityGroups = idList(annotations, AWS_ANNOTATIONS.securityGroups, /^sg-[0-9a-f]+$/, 'a security group ID (sg-...)');
  if (securityGroups?.length === 0) throw new ServiceConfigError(AWS_ANNOTATIONS.securityGroups, 'lists no group; list security group IDs (sg-...), separated by commas');
  // As the AWS Load Balancer Controller: with your own groups, the backend rules are yours unless asked for.
  let manageBackendRules = securityGroups === undefined;
  const manage = annotations[AWS_ANNOTATIONS.manageBackendRules]?.trim().toLowerCase();
  if (manage !== undefined) {
    if (manage !== 'true' && manage !== 'false') throw new ServiceConfigError(AWS_ANNOTATIONS.manageBackendRules, `must be "true" or "false", got "${annotations[AWS_ANNOTATIONS.manageBackendRules]}"`);
    manageBackendRules = manage === 'true';
  }
  return securityGroups ? { securityGroups, manageBackendRules } : { manageBackendRules };
}

/** subnets, eip-allocations and private-ipv4-addresses. */
function addressesOf(annotations: Record<string, string>, scheme: AwsServiceOptions['scheme']): Pick<AwsServiceOptions, 'subnets' | 'eipAllocations' | 'privateIPv4Addresses'> {
  const out: Pick<AwsServiceOptions, 'subnets' | 'eipAllocations' | 'privateIPv4Addresses'> = {};
  const subnets = annotations[AWS_ANNOTATIONS.subnets];
  if (subnets !== undefined) {
    out.subnets = list(subnets);
    if (out.subnets.length === 0) throw new ServiceConfigError(AWS_ANNOTATIONS.subnets, 'lists no subnet');
  }
  const eips = annotations[AWS_ANNOTATIONS.eipAllocations];
  if (eips !== undefined) {
    out.eipAllocations = list(eips);
    const bad = out.eipAllocations.find((e) => !/^eipalloc-[0-9a-f]+$/.test(e));
    if (bad !== undefined) throw new ServiceConfigError(AWS_ANNOTATIONS.eipAllocations, `"${bad}" is not an Elastic IP allocation ID (eipalloc-...)`);
    if (scheme === 'internal') throw new ServiceConfigError(AWS_ANNOTATIONS.eipAllocations, 'Elastic IPs need an internet-facing load balancer');
  }
  const privates = annotations[AWS_ANNOTATIONS.privateIPv4Addresses];
  if (privates !== undefined) {
    out.privateIPv4Addresses = list(privates);
    if (scheme !== 'internal') throw new ServiceConfigError(AWS_ANNOTATIONS.privateIPv4Addresses, 'private addresses need an internal load balancer');
  }
  return out;
}

function additionalTagsOf(annotations: Record<string, string>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of list(annotations[AWS_ANNOTATIONS.additionalTags] ?? '')) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    const problem = tagProblem(key, value);
    if (problem !== undefined) {
      throw new ServiceConfigError(AWS_ANNOTATIONS.additionalTags, `"${pair}" is not a tag AWS accepts: ${problem}. Write key=value pairs, separated by commas`);
    }
    if (key.startsWith('kubernetes.io/') || key.startsWith('kube-lb-provisioner.io/')) {
      throw new ServiceConfigError(AWS_ANNOTATIONS.additionalTags, `tag "${key}" is reserved for ownership`);
    }
    tags[key] = value;
  }
  return tags;
}

/** target-group-attributes, listener-attributes.<PROTOCOL>-<port> and attributes (the load balancer's). */
type AttributeOptions = Pick<AwsServiceOptions, 'targetGroupAttributes' | 'targetGroupAttributesByPort' | 'listenerAttributes' | 'loadBalancerAttributes'>;

function attributesOf(annotations: Record<string, string>): AttributeOptions {
  const out: AttributeOptions = {};
  const attributes = annotations[AWS_ANNOTATIONS.targetGroupAttributes];
  if (attributes !== undefined) out.targetGroupAttributes = attributePairs(AWS_ANNOTATIONS.targetGroupAttributes, attributes, 'stickiness.enabled=true');
  for (const [key, raw] of Object.entries(annotations)) {
    if (!key.startsWith(AWS_ANNOTATIONS.listenerAttributesPrefix)) continue;
    const listener = key.slice(AWS_ANNOTATIONS.listenerAttributesPrefix.length);
    if (!/^(TCP|UDP|TCP_UDP|TLS)-\d{1,5}$/.test(listener)) throw new ServiceConfigError(key, `"${listener}" is not <PROTOCOL>-<port> of a listener (e.g. TCP-80, TLS-443)`);
    out.listenerAttributes ??= {};
    out.listenerAttributes[listener] = attributePairs(key, raw, 'tcp.idle_timeout.seconds=400');
  }
  for (const [key, raw] of Object.entries(annotations)) {
    if (!key.startsWith(AWS_ANNOTATIONS.targetGroupAttributesPortPrefix)) continue;
    const suffix = key.slice(AWS_ANNOTATIONS.targetGroupAttributesPortPrefix.length);
    const port = /^\d{1,5}$/.test(suffix) ? Number(suffix) : 0;
    if (port < 1 || port > 65535) throw new ServiceConfigError(key, `"${suffix}" is not a port: use target-group-attributes.<port>, e.g. target-group-attributes.443`);
    out.targetGroupAttributesByPort ??= {};
    out.targetGroupAttributesByPort[port] = attributePairs(key, raw, 'deregistration_delay.timeout_seconds=30');
  }
  const lbAttributes = annotations[AWS_ANNOTATIONS.attributes];
  const deprecated = deprecatedLoadBalancerAttributes(annotations);
  // As the AWS Load Balancer Controller merges them: the deprecated annotations win a shared key.
  if (lbAttributes !== undefined || deprecated) {
    out.loadBalancerAttributes = { ...(lbAttributes !== undefined ? attributePairs(AWS_ANNOTATIONS.attributes, lbAttributes, 'load_balancing.cross_zone.enabled=true') : {}), ...deprecated };
  }
  return out;
}

/**
 * enable-prefix-for-ipv6-source-nat and source-nat-ipv6-prefixes, with the AWS Load Balancer
 * Controller's checks: "on" or "off"; dualstack only (EnablePrefixForIpv6SourceNat: "The IP address
 * type must be dualstack"); prefixes only with "on", each "auto_assigned" or an IPv6 prefix with a
 * /80 netmask (SubnetMapping.SourceNatIpv6Prefix). Matching them to subnets needs the subnets.
 */
function sourceNatOf(annotations: Record<string, string>, ipAddressType: AwsServiceOptions['ipAddressType']): Pick<AwsServiceOptions, 'ipv6SourceNat' | 'sourceNatIpv6Prefixes'> {
  const key = AWS_ANNOTATIONS.ipv6SourceNat;
  const raw = annotations[key]?.trim();
  if (raw !== undefined && raw !== 'on' && raw !== 'off') throw new ServiceConfigError(key, `must be "on" or "off", got "${raw}"`);
  const needsDualstack = `needs a dualstack NLB: set ${AWS_ANNOTATIONS.ipAddressType}: dualstack, or remove this annotation`;
  if (raw === 'on' && ipAddressType !== 'dualstack') throw new ServiceConfigError(key, `"on" ${needsDualstack}`);
  const out: Pick<AwsServiceOptions, 'ipv6SourceNat' | 'sourceNatIpv6Prefixes'> = raw === undefined ? {} : { ipv6SourceNat: raw };
  const prefixesKey = AWS_ANNOTATIONS.sourceNatIpv6Prefixes;
  const prefixes = annotations[prefixesKey];
  if (prefixes === undefined) return out;
  if (ipAddressType !== 'dualstack') throw new ServiceConfigError(prefixesKey, needsDualstack);
  if (raw !== 'on') throw new ServiceConfigError(prefixesKey, `applies only with ${key}: "on"`);
  out.sourceNatIpv6Prefixes = list(prefixes).map((prefix) => {
    if (prefix === 'auto_assigned') return prefix;
    const [address, length] = prefix.split('/');
    if (length !== '80' || address === undefined || !ipaddr.IPv6.isValid(address) || address.includes('.')) {
      throw new ServiceConfigError(prefixesKey, `"${prefix}" is neither an IPv6 prefix with a /80 netmask nor auto_assigned; list one per subnet, separated by commas`);
    }
    return `${ipaddr.IPv6.parse(address).toString()}/80`;
  });
  return out;
}

/**
 * The AWS Load Balancer Controller's annotations this provider does not serve, each with the values
 * that ask for nothing beyond what it builds anyway. Any other value is refused, naming the
 * annotation: silently building something else than asked is worse than a pending Service.
 */
const UNSUPPORTED: { suffix: string; accepted: string[]; why: string }[] = [
  { suffix: 'disable-nlb-sg', accepted: ['false'], why: 'the NLB always gets a security group (the managed one, or yours through aws-load-balancer-security-groups)' },
  { suffix: 'multi-cluster-target-group', accepted: ['false'], why: "target groups serve this cluster's targets only" },
  { suffix: 'minimum-load-balancer-capacity', accepted: [], why: 'capacity reservations are not made (the provider never touches one you make with ModifyCapacityReservation)' },
  { suffix: 'eip-allocations-discovery-tags', accepted: [], why: 'Elastic IPs are not discovered by tag: list them in aws-load-balancer-eip-allocations' },
  { suffix: 'inbound-sg-rules-on-private-link-traffic', accepted: ['on'], why: "PrivateLink traffic is always held to the NLB's security group rules (AWS's default)" },
  { suffix: 'quic-enabled-ports', accepted: [], why: 'QUIC listeners are not made' },
  { suffix: 'enable-icmp-for-path-mtu-discovery', accepted: ['on'], why: 'the managed security group always admits ICMP path MTU discovery' },
  { suffix: 'enable-tcp-udp-listener', accepted: ['true'], why: 'TCP and UDP on one port always share a TCP_UDP listener' },
];

function refuseUnsupported(annotations: Record<string, string>): void {
  for (const { suffix, accepted, why } of UNSUPPORTED) {
    const key = `${P}${suffix}`;
    const raw = annotations[key]?.trim();
    if (raw === undefined || accepted.includes(raw.toLowerCase())) continue;
    const keep = accepted.length > 0 ? ` (or set it to "${accepted[0]}")` : '';
    throw new ServiceConfigError(key, `"${raw}" is not supported by this provider: ${why}; remove the annotation${keep}`);
  }
}

/**
 * access-log-* and cross-zone-load-balancing-enabled, which the AWS Load Balancer Controller still
 * reads: access logs only when enabled (then the bucket and prefix given), cross-zone either way.
 */
function deprecatedLoadBalancerAttributes(annotations: Record<string, string>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  if (goBool(annotations, AWS_ANNOTATIONS.accessLogEnabled)) {
    out['access_logs.s3.enabled'] = 'true';
    const bucket = annotations[AWS_ANNOTATIONS.accessLogBucket]?.trim();
    const prefix = annotations[AWS_ANNOTATIONS.accessLogPrefix]?.trim();
    if (bucket !== undefined) out['access_logs.s3.bucket'] = bucket;
    if (prefix !== undefined) out['access_logs.s3.prefix'] = prefix;
  }
  const crossZone = goBool(annotations, AWS_ANNOTATIONS.crossZone);
  if (crossZone !== undefined) out['load_balancing.cross_zone.enabled'] = String(crossZone);
  return Object.keys(out).length > 0 ? out : undefined;
}

/** proxy-protocol-per-target-group: Service port numbers, comma-separated (names are not read, as upstream). */
function proxyProtocolPortsOf(annotations: Record<string, string>): Pick<AwsServiceOptions, 'proxyProtocolPorts'> {
  const raw = annotations[AWS_ANNOTATIONS.proxyProtocolPerTargetGroup];
  if (raw === undefined) return {};
  const ports = list(raw).map((p) => {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw new ServiceConfigError(AWS_ANNOTATIONS.proxyProtocolPerTargetGroup, `"${p}" is not a port number: list the Service ports (spec.ports[].port) whose target groups get PROXY protocol v2, e.g. "80,443"`);
    return n;
  });
  return { proxyProtocolPorts: ports };
}

function targetNodeLabelsOf(annotations: Record<string, string>): AwsServiceOptions['targetNodeLabels'] {
  const nodeLabels = annotations[AWS_ANNOTATIONS.targetNodeLabels];
  if (nodeLabels === undefined) return undefined;
  const labels: NonNullable<AwsServiceOptions['targetNodeLabels']> = {};
  for (const pair of list(nodeLabels)) {
    const eq = pair.indexOf('=');
    const key = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key)) {
      throw new ServiceConfigError(AWS_ANNOTATIONS.targetNodeLabels, `"${pair}" is not a label selector term (key=value or key, separated by commas)`);
    }
    labels[key] = eq < 0 ? undefined : pair.slice(eq + 1).trim();
  }
  return labels;
}

function loadBalancerNameOf(annotations: Record<string, string>): string | undefined {
  const current = annotations[AWS_ANNOTATIONS.loadBalancerName]?.trim();
  const old = annotations[AWS_ANNOTATIONS.loadBalancerNameOld]?.trim();
  if (current !== undefined && old !== undefined && current !== old) {
    throw new ServiceConfigError(AWS_ANNOTATIONS.loadBalancerNameOld, `names "${old}" and ${AWS_ANNOTATIONS.loadBalancerName} names "${current}": keep only ${AWS_ANNOTATIONS.loadBalancerName}`);
  }
  const key = current !== undefined ? AWS_ANNOTATIONS.loadBalancerName : AWS_ANNOTATIONS.loadBalancerNameOld;
  const lbName = current ?? old;
  // CreateLoadBalancerInput.Name: at most 32 alphanumerics or hyphens, not beginning or ending with a hyphen, nor beginning with "internal-".
  if (lbName !== undefined && (!/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/.test(lbName) || lbName.startsWith('internal-'))) {
    throw new ServiceConfigError(key, `"${lbName}" is not a load balancer name AWS accepts: at most 32 letters, digits or hyphens, not starting or ending with a hyphen, nor with "internal-"`);
  }
  return lbName;
}

function healthCheckOf(annotations: Record<string, string>): HealthCheckOverrides {
  const hc: HealthCheckOverrides = {};
  const protocol = annotations[AWS_ANNOTATIONS.hcProtocol]?.trim().toUpperCase();
  if (protocol !== undefined) {
    if (protocol !== 'TCP' && protocol !== 'HTTP' && protocol !== 'HTTPS') {
      throw new ServiceConfigError(AWS_ANNOTATIONS.hcProtocol, `must be TCP, HTTP or HTTPS, got "${annotations[AWS_ANNOTATIONS.hcProtocol]}"`);
    }
    hc.protocol = protocol;
  }
  const port = annotations[AWS_ANNOTATIONS.hcPort]?.trim();
  if (port !== undefined) hc.port = port === 'traffic-port' ? 'traffic-port' : integer(annotations, AWS_ANNOTATIONS.hcPort, 1, 65535);
  const path = annotations[AWS_ANNOTATIONS.hcPath]?.trim();
  if (path !== undefined) {
    if (!path.startsWith('/') || path.length > 1024) throw new ServiceConfigError(AWS_ANNOTATIONS.hcPath, `must be a path starting with "/", got "${path}"`);
    hc.path = path;
  }
  hc.intervalSeconds = integer(annotations, AWS_ANNOTATIONS.hcInterval, 5, 300);
  hc.timeoutSeconds = integer(annotations, AWS_ANNOTATIONS.hcTimeout, 2, 120);
  hc.healthyThreshold = integer(annotations, AWS_ANNOTATIONS.hcHealthy, 2, 10);
  hc.unhealthyThreshold = integer(annotations, AWS_ANNOTATIONS.hcUnhealthy, 2, 10);
  const codes = annotations[AWS_ANNOTATIONS.hcSuccessCodes]?.trim();
  if (codes !== undefined) {
    if (!/^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$/.test(codes)) throw new ServiceConfigError(AWS_ANNOTATIONS.hcSuccessCodes, `must be codes like "200" or "200-399", got "${codes}"`);
    hc.successCodes = codes;
  }
  for (const key of Object.keys(hc) as (keyof HealthCheckOverrides)[]) if (hc[key] === undefined) delete hc[key];
  return hc;
}
