// Builds the provider-neutral DesiredLoadBalancer from a Service, the eligible node targets and the
// nodes with a ready endpoint of the Service. Pure: no client, no clock. Throws ServiceConfigError
// for input no provider can use.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import ipaddr from 'ipaddr.js';
import {
  ServiceConfigError,
  type DesiredLoadBalancer,
  type DesiredPort,
  type HealthCheckSpec,
  type IPFamily,
  type IPFamilyPolicy,
  type LoadBalancerIngress,
  type NodeTarget,
  type Protocol,
  type SessionAffinity,
  type TrafficPolicy,
} from '../../providers/provider.js';
import { serviceRefOf } from './serviceSelection.js';

/** kube-proxy's health endpoint, checked for externalTrafficPolicy: Cluster (upstream). */
export const KUBE_PROXY_HEALTH_PORT = 10256;
/** Upstream's annotation for source ranges, used when spec.loadBalancerSourceRanges is empty. */
export const SOURCE_RANGES_ANNOTATION = 'service.beta.kubernetes.io/load-balancer-source-ranges';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The API server's default for spec.sessionAffinityConfig.clientIP.timeoutSeconds, and its upper bound. */
export const DEFAULT_SESSION_AFFINITY_TIMEOUT_SECONDS = 10800;
export const MAX_SESSION_AFFINITY_TIMEOUT_SECONDS = 86400;

export interface DesiredOptions {
  clusterName: string;
  /** Eligible targets, computed once for all Services (eligibleTargets()). */
  targets: NodeTarget[];
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** `endpointNodes`: the nodes with a ready endpoint of the Service (empty where nobody follows them). */
export function desiredLoadBalancer(service: V1Service, endpointNodes: readonly string[], opts: DesiredOptions): DesiredLoadBalancer {
  const spec = service.spec ?? {};
  const annotations = { ...(service.metadata?.annotations ?? {}) };
  const externalTrafficPolicy: TrafficPolicy = spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster';
  const healthCheckNodePort = spec.healthCheckNodePort;
  const desired: DesiredLoadBalancer = {
    ref: serviceRefOf(service),
    clusterName: opts.clusterName,
    ports: desiredPorts(service),
    nodes: opts.targets,
    externalTrafficPolicy,
    sessionAffinity: sessionAffinity(spec.sessionAffinity),
    healthCheck: healthCheckFor(externalTrafficPolicy, healthCheckNodePort),
    sourceRanges: sourceRanges(spec.loadBalancerSourceRanges ?? [], annotations[SOURCE_RANGES_ANNOTATION]),
    ipFamilies: ipFamilies(spec.ipFamilies),
    ipFamilyPolicy: ipFamilyPolicy(spec.ipFamilyPolicy),
    annotations,
    labels: { ...(service.metadata?.labels ?? {}) },
    selector: { ...(spec.selector ?? {}) },
    endpointNodes: [...endpointNodes],
    currentIngress: currentIngress(service),
  };
  if (spec.loadBalancerClass) desired.loadBalancerClass = spec.loadBalancerClass;
  if (healthCheckNodePort !== undefined) desired.healthCheckNodePort = healthCheckNodePort;
  if (spec.loadBalancerIP) desired.loadBalancerIP = validLoadBalancerIP(spec.loadBalancerIP);
  if (desired.sessionAffinity === 'ClientIP') {
    desired.sessionAffinityTimeoutSeconds = sessionAffinityTimeout(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds);
  }
  return desired;
}

function desiredPorts(service: V1Service): DesiredPort[] {
  const ports = service.spec?.ports ?? [];
  if (ports.length === 0) throw new ServiceConfigError('spec.ports', 'a LoadBalancer Service needs at least one port');
  return ports.map((p, i) => {
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    if (!PROTOCOLS.includes(protocol)) throw new ServiceConfigError(`spec.ports[${i}].protocol`, `unknown protocol ${p.protocol}`);
    // allocateLoadBalancerNodePorts: false leaves ports without one; providers that forward to node
    // ports refuse that (validateService), metal needs none.
    return { name: p.name ?? '', protocol, port: p.port, nodePort: p.nodePort ?? 0 };
  });
}

export function healthCheckFor(policy: TrafficPolicy, healthCheckNodePort: number | undefined): HealthCheckSpec {
  if (policy === 'Local' && healthCheckNodePort) return { protocol: 'HTTP', port: healthCheckNodePort, path: '/healthz' };
  return { protocol: 'HTTP', port: KUBE_PROXY_HEALTH_PORT, path: '/healthz' };
}

function sessionAffinity(value: string | undefined): SessionAffinity {
  if (value === undefined || value === '' || value === 'None') return 'None';
  if (value === 'ClientIP') return 'ClientIP';
  throw new ServiceConfigError('spec.sessionAffinity', `unknown value "${value}" (use None or ClientIP)`);
}

function sessionAffinityTimeout(seconds: number | undefined): number {
  if (seconds === undefined) return DEFAULT_SESSION_AFFINITY_TIMEOUT_SECONDS;
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_SESSION_AFFINITY_TIMEOUT_SECONDS) {
    throw new ServiceConfigError(
      'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
      `${seconds} is out of range (an integer from 1 to ${MAX_SESSION_AFFINITY_TIMEOUT_SECONDS})`,
    );
  }
  return seconds;
}

function validLoadBalancerIP(ip: string): string {
  if (!ipaddr.isValid(ip)) throw new ServiceConfigError('spec.loadBalancerIP', `"${ip}" is not an IP address`);
  return ipaddr.parse(ip).toString();
}

function sourceRanges(fromSpec: readonly string[], fromAnnotation: string | undefined): string[] {
  const useAnnotation = fromSpec.length === 0 && fromAnnotation !== undefined;
  const field = useAnnotation ? `metadata.annotations[${SOURCE_RANGES_ANNOTATION}]` : 'spec.loadBalancerSourceRanges';
  const raw = useAnnotation
    ? (fromAnnotation ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : [...fromSpec];
  return raw.map((cidr) => {
    try {
      const [addr, len] = ipaddr.parseCIDR(cidr.trim());
      return `${addr.toString()}/${len}`;
    } catch {
      throw new ServiceConfigError(field, `"${cidr}" is not a CIDR (e.g. 203.0.113.0/24)`);
    }
  });
}

function ipFamilies(families: string[] | undefined): IPFamily[] {
  const valid = (families ?? []).filter((f): f is IPFamily => f === 'IPv4' || f === 'IPv6');
  return valid.length > 0 ? valid : ['IPv4'];
}

function ipFamilyPolicy(policy: string | undefined): IPFamilyPolicy {
  return policy === 'PreferDualStack' || policy === 'RequireDualStack' ? policy : 'SingleStack';
}

/** Nodes hosting a ready endpoint, from EndpointSlices (ready unset counts as ready, per the API). */
export function readyEndpointNodes(slices: readonly V1EndpointSlice[]): string[] {
  const names = new Set<string>();
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      if (ep.nodeName) names.add(ep.nodeName);
    }
  }
  return [...names].sort();
}

function currentIngress(service: V1Service): LoadBalancerIngress[] {
  return (service.status?.loadBalancer?.ingress ?? []).map((i) => {
    const out: LoadBalancerIngress = {};
    if (i.ip) out.ip = i.ip;
    if (i.hostname) out.hostname = i.hostname;
    if (i.ipMode === 'VIP' || i.ipMode === 'Proxy') out.ipMode = i.ipMode;
    if (i.ports?.length) out.ports = i.ports.map((p) => ({ port: p.port, protocol: (p.protocol ?? 'TCP') as Protocol, ...(p.error ? { error: p.error } : {}) }));
    return out;
  });
}
