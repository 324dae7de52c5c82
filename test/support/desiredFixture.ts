// A DesiredLoadBalancer as the controller would build it for a one-port TCP Service with
// externalTrafficPolicy Cluster; tests override only what they are about.
import type { DesiredLoadBalancer } from '../../providers/provider.js';

export function desiredFixture(overrides: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  return {
    ref: { namespace: 'ns', name: 'web', uid: 'u1' },
    clusterName: 'c1',
    ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }],
    nodes: [],
    externalTrafficPolicy: 'Cluster',
    sessionAffinity: 'None',
    healthCheck: { protocol: 'HTTP', port: 10256, path: '/healthz' },
    sourceRanges: [],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    annotations: {},
    labels: {},
    selector: {},
    endpointNodes: [],
    currentIngress: [],
    ...overrides,
  };
}
