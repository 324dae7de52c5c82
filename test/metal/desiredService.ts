// Builds DesiredLoadBalancer values for the metal tests, as the controller would from a Service.
import type { DesiredLoadBalancer, DesiredPort } from '../../providers/provider.js';

export interface ServiceShape {
  namespace?: string;
  name: string;
  uid?: string;
  ports?: Partial<DesiredPort>[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  loadBalancerIP?: string;
  ipFamilies?: DesiredLoadBalancer['ipFamilies'];
  ipFamilyPolicy?: DesiredLoadBalancer['ipFamilyPolicy'];
  externalTrafficPolicy?: DesiredLoadBalancer['externalTrafficPolicy'];
  selector?: Record<string, string>;
  currentIPs?: string[];
}

export function desiredService(shape: ServiceShape): DesiredLoadBalancer {
  const namespace = shape.namespace ?? 'default';
  return {
    ref: { namespace, name: shape.name, uid: shape.uid ?? `uid-${namespace}-${shape.name}` },
    clusterName: 'test',
    ports: (shape.ports ?? [{}]).map((p, i) => ({
      name: p.name ?? `p${i}`,
      protocol: p.protocol ?? 'TCP',
      port: p.port ?? 80,
      nodePort: p.nodePort ?? 30080 + i,
    })),
    nodes: [],
    externalTrafficPolicy: shape.externalTrafficPolicy ?? 'Cluster',
    sessionAffinity: 'None',
    healthCheck: { protocol: 'HTTP', port: 10256, path: '/healthz' },
    loadBalancerIP: shape.loadBalancerIP,
    sourceRanges: [],
    ipFamilies: shape.ipFamilies ?? ['IPv4'],
    ipFamilyPolicy: shape.ipFamilyPolicy ?? 'SingleStack',
    annotations: shape.annotations ?? {},
    labels: shape.labels ?? {},
    selector: shape.selector ?? { app: shape.name },
    endpointNodes: [],
    currentIngress: (shape.currentIPs ?? []).map((ip) => ({ ip, ipMode: 'VIP' as const })),
  };
}
