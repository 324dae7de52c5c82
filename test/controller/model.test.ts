// The pure parts: node eligibility, the desired model, capability checks, class selection, orphans.
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ServiceConfigError, type Capabilities } from '../../providers/provider.js';
import { desiredLoadBalancer, readyEndpointNodes } from '../../src/controller/desiredLoadBalancer.js';
import { eligibleNodes, eligibleTargets, excludedByLabel } from '../../src/controller/eligibleNodes.js';
import { findOrphans } from '../../src/controller/garbageCollect.js';
import { sameIngress, statusPatch } from '../../src/controller/ingressStatus.js';
import { slotForClass, wantedSlot } from '../../src/controller/serviceSelection.js';
import { validateAgainstCapabilities } from '../../src/controller/validateService.js';

const node = (name: string, extra: Partial<V1Node> = {}, labels: Record<string, string> = {}): V1Node => ({
  metadata: { name, labels, ...(extra.metadata ?? {}) },
  spec: { providerID: `sim://${name}`, ...(extra.spec ?? {}) },
  status: { addresses: [{ type: 'InternalIP', address: `10.0.0.${name.slice(-1)}` }] },
});

const service = (spec: V1Service['spec'] = {}, meta: V1Service['metadata'] = {}): V1Service => ({
  metadata: { namespace: 'ns', name: 'web', uid: 'u1', ...meta },
  spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }], ...spec },
});

const opts = { clusterName: 'c1', targets: [] };

describe('eligibleNodes (upstream predicates)', () => {
  const nodes = [
    node('n1'),
    node('n2', {}, { 'node.kubernetes.io/exclude-from-external-load-balancers': '' }),
    node('n3', { spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] } }),
    node('n4', { metadata: { name: 'n4', deletionTimestamp: new Date() } }),
    node('n5', { spec: { providerID: '' } }),
  ];
  it('drops excluded, autoscaler-tainted and deleting nodes', () => {
    expect(eligibleNodes(nodes, { needsProviderID: false }).map((n) => n.metadata?.name)).toEqual(['n1', 'n5']);
  });
  // The label's value as upstream parses it (Go's strconv.ParseBool): only a boolean false keeps the node.
  it.each([
    ['unset', undefined, false],
    ['empty', '', true],
    ['true', 'true', true],
    ['True', 'True', true],
    ['false', 'false', false],
    ['False', 'False', false],
    ['0', '0', false],
    ['foo', 'foo', true],
  ])('exclude label %s: excluded=%s', (_what, value, excluded) => {
    const labels: Record<string, string> = value === undefined ? {} : { 'node.kubernetes.io/exclude-from-external-load-balancers': value };
    expect(excludedByLabel(labels)).toBe(excluded);
    expect(eligibleNodes([node('n1', {}, labels)], { needsProviderID: false })).toHaveLength(excluded ? 0 : 1);
  });
  it('drops nodes without providerID only where the provider needs one', () => {
    expect(eligibleNodes(nodes, { needsProviderID: true }).map((n) => n.metadata?.name)).toEqual(['n1']);
  });
});

describe('desiredLoadBalancer', () => {
  it('maps ports, nodes sorted by name, and the Cluster health check on kube-proxy', () => {
    const d = desiredLoadBalancer(service(), [], { ...opts, targets: eligibleTargets([node('n2'), node('n1')], { needsProviderID: false }) });
    expect(d.ref).toEqual({ namespace: 'ns', name: 'web', uid: 'u1' });
    expect(d.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }]);
    expect(d.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
    expect(d.healthCheck).toEqual({ protocol: 'HTTP', port: 10256, path: '/healthz' });
  });
  it('health-checks Local on healthCheckNodePort /healthz and lists endpoint nodes', () => {
    const slices: V1EndpointSlice[] = [
      {
        addressType: 'IPv4',
        metadata: { name: 's1', labels: { 'kubernetes.io/service-name': 'web' } },
        endpoints: [
          { addresses: ['10.1.0.1'], nodeName: 'n2', conditions: { ready: true } },
          { addresses: ['10.1.0.2'], nodeName: 'n1', conditions: { ready: false } },
        ],
      },
    ];
    const d = desiredLoadBalancer(service({ externalTrafficPolicy: 'Local', healthCheckNodePort: 31000 }), readyEndpointNodes(slices), opts);
    expect(d.healthCheck).toEqual({ protocol: 'HTTP', port: 31000, path: '/healthz' });
    expect(d.endpointNodes).toEqual(['n2']);
  });
  it('names the field for an invalid loadBalancerIP or source range', () => {
    expect(() => desiredLoadBalancer(service({ loadBalancerIP: '300.1.1.1' }), [], opts)).toThrow(/spec.loadBalancerIP/);
    const bad = service({}, { annotations: { 'service.beta.kubernetes.io/load-balancer-source-ranges': '10.0.0.0/8, nope' } });
    const err = (() => {
      try {
        desiredLoadBalancer(bad, [], opts);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ServiceConfigError);
    expect((err as ServiceConfigError).field).toBe('metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]');
  });
});

describe('desiredLoadBalancer session affinity', () => {
  it('defaults to None with no timeout', () => {
    const d = desiredLoadBalancer(service(), [], opts);
    expect(d.sessionAffinity).toBe('None');
    expect(d.sessionAffinityTimeoutSeconds).toBeUndefined();
  });
  it('carries ClientIP and its timeout, defaulting the timeout to the API default 10800', () => {
    const withTimeout = desiredLoadBalancer(service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }), [], opts);
    expect(withTimeout.sessionAffinity).toBe('ClientIP');
    expect(withTimeout.sessionAffinityTimeoutSeconds).toBe(600);
    const defaulted = desiredLoadBalancer(service({ sessionAffinity: 'ClientIP' }), [], opts);
    expect(defaulted.sessionAffinityTimeoutSeconds).toBe(10800);
  });
  it('ignores a timeout under None', () => {
    const d = desiredLoadBalancer(service({ sessionAffinity: 'None', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }), [], opts);
    expect(d.sessionAffinity).toBe('None');
    expect(d.sessionAffinityTimeoutSeconds).toBeUndefined();
  });
  it('names the field for an unknown affinity or an out-of-range timeout', () => {
    expect(() => desiredLoadBalancer(service({ sessionAffinity: 'Cookie' }), [], opts)).toThrow(/spec.sessionAffinity: unknown value "Cookie"/);
    expect(() => desiredLoadBalancer(service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }), [], opts)).toThrow(
      /spec.sessionAffinityConfig.clientIP.timeoutSeconds/,
    );
    expect(() => desiredLoadBalancer(service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } } }), [], opts)).toThrow(
      /out of range/,
    );
  });
});

describe('validateAgainstCapabilities', () => {
  const caps: Capabilities = {
    protocols: ['TCP', 'UDP'],
    mixedProtocol: false,
    loadBalancerIP: false,
    sourceRanges: true,
    dualStack: false,
    ipFamilies: ['IPv4'],
    annotations: ['kube-lb-provisioner.io/idle-timeout-seconds'],
    usesNodePorts: true,
    followsEndpoints: false,
    needsProviderID: false,
  };
  it('names the port of an unsupported protocol', () => {
    const d = desiredLoadBalancer(service({ ports: [{ port: 80, nodePort: 30080 }, { port: 9, protocol: 'SCTP', nodePort: 30009 }] }), [], opts);
    expect(() => validateAgainstCapabilities(d, caps, 'x')).toThrow(/^spec.ports\[1\].protocol: SCTP is not supported/);
  });
  it('refuses mixed protocols and loadBalancerIP where the provider cannot', () => {
    const mixed = desiredLoadBalancer(service({ ports: [{ port: 53, protocol: 'UDP', nodePort: 30053 }, { port: 53, protocol: 'TCP', nodePort: 30054 }] }), [], opts);
    expect(() => validateAgainstCapabilities(mixed, caps, 'x')).toThrow(/^spec.ports:/);
    const ip = desiredLoadBalancer(service({ loadBalancerIP: '192.0.2.1' }), [], opts);
    expect(() => validateAgainstCapabilities(ip, caps, 'x')).toThrow(/^spec.loadBalancerIP:/);
  });
  it('refuses a family the provider cannot give, on spec.ipFamilies, instead of handing out another', () => {
    const v6 = desiredLoadBalancer(service({ ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }), [], opts);
    expect(() => validateAgainstCapabilities(v6, caps, 'x')).toThrow(/^spec.ipFamilies: the x provider gives only IPv4 addresses, and this Service asks for IPv6/);
    // PreferDualStack with IPv6 first is served by its IPv4 family.
    const prefer = desiredLoadBalancer(service({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' }), [], opts);
    expect(() => validateAgainstCapabilities(prefer, caps, 'x')).not.toThrow();
  });
  it('refuses our own annotations the provider does not read, naming them; honours the ones it does', () => {
    const unread = desiredLoadBalancer(service({}, { annotations: { 'kube-lb-provisioner.io/load-balancer-ips': '192.0.2.1' } }), [], opts);
    expect(() => validateAgainstCapabilities(unread, caps, 'x')).toThrow(/^metadata.annotations\[kube-lb-provisioner.io\/load-balancer-ips\]: not supported by the x provider/);
    const read = desiredLoadBalancer(
      service({}, { annotations: { 'kube-lb-provisioner.io/idle-timeout-seconds': '60', 'kube-lb-provisioner.io/announcing-node': 'n1', 'metallb.io/address-pool': 'a' } }),
      [],
      opts,
    );
    expect(() => validateAgainstCapabilities(read, caps, 'x')).not.toThrow();
  });
});

describe('class selection', () => {
  const slots = [
    { id: 'sim', default: true },
    { id: 'metal', loadBalancerClass: 'example.com/metal', default: false },
  ];
  it('sends class-less Services to the default and classed ones to their provider, never others', () => {
    expect(wantedSlot(service(), slots)?.id).toBe('sim');
    expect(wantedSlot(service({ loadBalancerClass: 'example.com/metal' }), slots)?.id).toBe('metal');
    expect(wantedSlot(service({ loadBalancerClass: 'someone.else/lb' }), slots)).toBeUndefined();
    expect(wantedSlot(service({ type: 'ClusterIP' }), slots)).toBeUndefined();
    expect(wantedSlot(service({}, { deletionTimestamp: new Date() }), slots)).toBeUndefined();
    expect(slotForClass(service(), [slots[1]!])).toBeUndefined();
  });
});

describe('status comparison and orphans', () => {
  it('ignores order and compares ip, hostname, ipMode and ports', () => {
    expect(sameIngress([{ ip: '1.1.1.1' }, { ip: '2.2.2.2' }], [{ ip: '2.2.2.2' }, { ip: '1.1.1.1' }])).toBe(true);
    expect(sameIngress([{ ip: '1.1.1.1' }], [{ ip: '1.1.1.1', ipMode: 'VIP' }])).toBe(false);
    expect(sameIngress([{ ip: '1.1.1.1', ports: [{ port: 80, protocol: 'TCP' }] }], [{ ip: '1.1.1.1' }])).toBe(false);
    expect(statusPatch([])).toEqual({ status: { loadBalancer: { ingress: null } } });
  });
  it('finds owned refs whose Service is gone or re-created', () => {
    const svc = service({}, { finalizers: ['service.kubernetes.io/load-balancer-cleanup'] });
    const view = { service: (ns: string, name: string) => (ns === 'ns' && name === 'web' ? svc : undefined) };
    const slots = [{ id: 'sim', default: true, provider: {} as never }];
    const orphans = findOrphans(
      [
        { slotId: 'sim', ref: { namespace: 'ns', name: 'web', uid: 'u1' } },
        { slotId: 'sim', ref: { namespace: 'ns', name: 'web', uid: 'old' } },
        { slotId: 'sim', ref: { namespace: 'ns', name: 'gone', uid: 'u9' } },
      ],
      view,
      slots,
    );
    expect(orphans.map((o) => o.ref.uid)).toEqual(['old', 'u9']);
  });
});
