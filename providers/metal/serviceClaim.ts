// Reads what a Service asks of the allocator from its spec and annotations: requested addresses,
// pool, sharing key, ports and families. Ours (kube-lb-provisioner.io/) win over MetalLB's
// (metallb.io/, then the older metallb.universe.tf/), so a cluster can switch without edits. Pure.
import {
  ServiceConfigError,
  serviceKey,
  type DesiredLoadBalancer,
  type IPFamily,
  type IPFamilyPolicy,
  type Protocol,
  type ServiceRef,
  type TrafficPolicy,
} from '../provider.js';
import { canonicalIP, familyOf } from '../../src/metallb/addressRange.js';

export const ANNOTATION_PREFIXES = ['kube-lb-provisioner.io', 'metallb.io', 'metallb.universe.tf'] as const;
/** The annotations read here, under each prefix. */
export const ANNOTATION_SUFFIXES = ['load-balancer-ips', 'loadBalancerIPs', 'address-pool', 'allow-shared-ip'] as const;

export interface PortClaim {
  protocol: Protocol;
  port: number;
}

export interface ServiceClaim {
  ref: ServiceRef;
  key: string;
  namespace: string;
  labels: Record<string, string>;
  /** The namespace's labels, for pools' namespaceSelectors (filled in by the provider when known). */
  namespaceLabels?: Record<string, string>;
  /** Canonical addresses the Service asked for, with the field they came from. */
  requested: { ips: string[]; field: string } | undefined;
  pool: { name: string; field: string } | undefined;
  sharing: { key: string; field: string } | undefined;
  ports: PortClaim[];
  trafficPolicy: TrafficPolicy;
  selector: Record<string, string>;
  /** spec.ipFamilies, primary first (IPv4 when the API server left it empty). */
  families: IPFamily[];
  familyPolicy: IPFamilyPolicy;
  /** Addresses status.loadBalancer.ingress lists today: kept when still valid (restart stability). */
  current: string[];
}

export function annotationField(name: string): string {
  return `metadata.annotations['${name}']`;
}

/** The first of our/MetalLB's annotations `suffix` that is set, with its field name. */
function findAnnotation(annotations: Record<string, string>, suffix: string): { value: string; field: string } | undefined {
  for (const prefix of ANNOTATION_PREFIXES) {
    const name = `${prefix}/${suffix}`;
    const value = annotations[name];
    if (value !== undefined && value.trim() !== '') return { value: value.trim(), field: annotationField(name) };
  }
  return undefined;
}

function parseIPList(text: string, field: string): string[] {
  const ips = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const canonical = ips.map((ip) => {
    const c = canonicalIP(ip);
    if (!c) throw new ServiceConfigError(field, `"${ip}" is not an IP address`);
    return c;
  });
  if (new Set(canonical).size !== canonical.length) throw new ServiceConfigError(field, `lists the same address twice (${text})`);
  const families = canonical.map((ip) => familyOf(ip));
  if (canonical.length > 2 || (canonical.length === 2 && families[0] === families[1])) {
    throw new ServiceConfigError(field, `asks for ${text}: give one address, or one IPv4 and one IPv6 address for dual-stack`);
  }
  return canonical;
}

/** Builds the claim; throws ServiceConfigError for malformed annotations. */
export function serviceClaim(desired: DesiredLoadBalancer): ServiceClaim {
  const annotations = desired.annotations;
  let requested: ServiceClaim['requested'];
  const ipsAnnotation = findAnnotation(annotations, 'load-balancer-ips') ?? findAnnotation(annotations, 'loadBalancerIPs');
  if (ipsAnnotation) requested = { ips: parseIPList(ipsAnnotation.value, ipsAnnotation.field), field: ipsAnnotation.field };
  if (desired.loadBalancerIP && desired.loadBalancerIP.trim() !== '') {
    const specIPs = parseIPList(desired.loadBalancerIP, 'spec.loadBalancerIP');
    if (requested && !specIPs.every((ip) => requested!.ips.includes(ip))) {
      throw new ServiceConfigError(
        'spec.loadBalancerIP',
        `${desired.loadBalancerIP} disagrees with ${requested.field} (${requested.ips.join(',')}): set only one of them`,
      );
    }
    requested ??= { ips: specIPs, field: 'spec.loadBalancerIP' };
  }
  const poolAnnotation = findAnnotation(annotations, 'address-pool');
  const sharingAnnotation = findAnnotation(annotations, 'allow-shared-ip');
  const families: IPFamily[] = desired.ipFamilies.length > 0 ? [...desired.ipFamilies] : ['IPv4'];
  return {
    ref: desired.ref,
    key: serviceKey(desired.ref),
    namespace: desired.ref.namespace,
    labels: desired.labels,
    requested,
    pool: poolAnnotation ? { name: poolAnnotation.value, field: poolAnnotation.field } : undefined,
    sharing: sharingAnnotation ? { key: sharingAnnotation.value, field: sharingAnnotation.field } : undefined,
    ports: desired.ports.map((p) => ({ protocol: p.protocol, port: p.port })),
    trafficPolicy: desired.externalTrafficPolicy,
    selector: desired.selector,
    families,
    familyPolicy: desired.ipFamilyPolicy,
    current: desired.currentIngress.map((i) => (i.ip ? canonicalIP(i.ip) : undefined)).filter((ip): ip is string => ip !== undefined),
  };
}
