import { describe, expect, it } from 'vitest';
import { ObjectStore } from '../../src/apiserver/objectStore.js';
import { ClusterIpAllocator, PortAllocator } from '../../src/apiserver/serviceAllocation.js';
import { defaultServiceSpec } from '../../src/apiserver/serviceDefaults.js';
import { admitServiceSpec, releaseService } from '../../src/apiserver/serviceStrategy.js';
import { validateServiceSpec, validateServiceStatus } from '../../src/apiserver/serviceValidation.js';

describe('service defaulting', () => {
  it('fills what Kubernetes fills for a LoadBalancer', () => {
    expect(defaultServiceSpec({ type: 'LoadBalancer', ports: [{ port: 80 }] })).toEqual({
      type: 'LoadBalancer',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
      internalTrafficPolicy: 'Cluster',
    });
  });

  it('a ClusterIP Service gets no externalTrafficPolicy, an ExternalName no families', () => {
    const cip = defaultServiceSpec({ ports: [{ port: 53, protocol: 'UDP', targetPort: 'dns' }] });
    expect(cip.type).toBe('ClusterIP');
    expect(cip.externalTrafficPolicy).toBeUndefined();
    expect(cip.ports![0]!.targetPort).toBe('dns');
    const ext = defaultServiceSpec({ type: 'ExternalName', externalName: 'example.com' });
    expect(ext.ipFamilies).toBeUndefined();
    expect(ext.internalTrafficPolicy).toBeUndefined();
  });

  it('keeps allocated values on update and drops type-dependent fields on type change', () => {
    const old = { type: 'LoadBalancer', clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5'], externalTrafficPolicy: 'Local', healthCheckNodePort: 31000, allocateLoadBalancerNodePorts: true, ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] };
    const same = defaultServiceSpec({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }, old);
    expect(same.clusterIP).toBe('10.96.0.5');
    expect(same.ports![0]!.nodePort).toBe(30080);
    expect(same.healthCheckNodePort).toBe(31000);
    const toClusterIp = defaultServiceSpec({ ...old, type: 'ClusterIP' }, old);
    expect(toClusterIp.ports![0]!.nodePort).toBeUndefined();
    expect(toClusterIp.externalTrafficPolicy).toBeUndefined();
    expect(toClusterIp.healthCheckNodePort).toBeUndefined();
    expect(toClusterIp.allocateLoadBalancerNodePorts).toBeUndefined();
  });
});

describe('service validation', () => {
  const fields = (spec: Parameters<typeof validateServiceSpec>[0], old?: Parameters<typeof validateServiceSpec>[1]) =>
    validateServiceSpec(defaultServiceSpec(spec, old), old).map((e) => `${e.field}:${e.type}`);

  it('accepts a plain LoadBalancer', () => {
    expect(fields({ type: 'LoadBalancer', ports: [{ port: 80 }], loadBalancerIP: '192.0.2.1', loadBalancerSourceRanges: ['10.0.0.0/8'] })).toEqual([]);
  });

  it.each([
    [{ type: 'Bogus', ports: [{ port: 80 }] }, 'spec.type:FieldValueNotSupported'],
    [{ ports: [{ port: 0 }] }, 'spec.ports[0].port:FieldValueInvalid'],
    [{ ports: [{ port: 70000, targetPort: 80 }] }, 'spec.ports[0].port:FieldValueInvalid'],
    [{ ports: [] }, 'spec.ports:FieldValueRequired'],
    [{ ports: [{ port: 80, name: 'a' }, { port: 80, name: 'b' }] }, 'spec.ports[1]:FieldValueDuplicate'],
    [{ ports: [{ port: 80 }, { port: 81 }] }, 'spec.ports[0].name:FieldValueRequired'],
    [{ ports: [{ port: 80, protocol: 'ICMP' }] }, 'spec.ports[0].protocol:FieldValueNotSupported'],
    [{ type: 'LoadBalancer', ports: [{ port: 80 }], loadBalancerIP: 'not-an-ip' }, 'spec.loadBalancerIP:FieldValueInvalid'],
    [{ type: 'LoadBalancer', ports: [{ port: 80 }], loadBalancerSourceRanges: ['nope'] }, 'spec.loadBalancerSourceRanges[0]:FieldValueInvalid'],
    [{ ports: [{ port: 80 }], externalTrafficPolicy: 'Local' }, 'spec.externalTrafficPolicy:FieldValueInvalid'],
    [{ type: 'NodePort', ports: [{ port: 80 }], externalTrafficPolicy: 'Sometimes' }, 'spec.externalTrafficPolicy:FieldValueNotSupported'],
    [{ ports: [{ port: 80 }], loadBalancerClass: 'example.com/x' }, 'spec.loadBalancerClass:FieldValueForbidden'],
    [{ type: 'ExternalName' }, 'spec.externalName:FieldValueRequired'],
    [{ ports: [{ port: 80 }], clusterIP: '10.96.0.300' }, 'spec.clusterIPs[0]:FieldValueInvalid'],
  ])('%j is rejected at %s', (spec, expected) => {
    expect(fields(spec)).toContain(expected);
  });

  it('rejects changing loadBalancerClass and clusterIP once set', () => {
    const old = defaultServiceSpec({ type: 'LoadBalancer', loadBalancerClass: 'example.com/a', clusterIP: '10.96.0.9', ports: [{ port: 80 }] });
    expect(fields({ ...old, loadBalancerClass: 'example.com/b' }, old)).toContain('spec.loadBalancerClass:FieldValueInvalid');
    expect(fields({ ...old, clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] }, old)).toContain('spec.clusterIPs[0]:FieldValueInvalid');
  });

  it('checks status ingress addresses', () => {
    expect(validateServiceStatus({ loadBalancer: { ingress: [{ ip: '192.0.2.1' }, { hostname: 'lb.example.com' }] } })).toEqual([]);
    expect(validateServiceStatus({ loadBalancer: { ingress: [{ ip: 'x' }] } }).map((e) => e.field)).toEqual(['status.loadBalancer.ingress[0].ip']);
    expect(validateServiceStatus({ loadBalancer: { ingress: [{ hostname: '1.2.3.4' }] } }).map((e) => e.field)).toEqual(['status.loadBalancer.ingress[0].hostname']);
  });
});

describe('allocation', () => {
  it('allocates ClusterIPs sequentially inside the range and refuses outsiders and duplicates', () => {
    const ips = new ClusterIpAllocator('10.96.0.0/30');
    expect(ips.allocateNext('a')).toBe('10.96.0.1');
    expect(ips.allocateNext('b')).toBe('10.96.0.2');
    expect(() => ips.allocateNext('c')).toThrow(/range is full/);
    ips.release('10.96.0.1');
    expect(() => ips.allocateSpecific('10.96.0.2', 'c')).toThrow(/already allocated/);
    expect(() => ips.allocateSpecific('10.97.0.1', 'c')).toThrow(/not in the valid range/);
    ips.allocateSpecific('10.96.0.1', 'c');
  });

  it('allocates NodePorts in 30000-32767', () => {
    const ports = new PortAllocator();
    expect(ports.allocateNext('a')).toBe(30000);
    expect(() => ports.allocateSpecific(80, 'b')).toThrow(/30000-32767/);
    expect(() => ports.allocateSpecific(30000, 'b')).toThrow(/already allocated/);
  });

  it('admits a Service all-or-nothing and releases on delete and type change', () => {
    const store = new ObjectStore();
    store.clusterIps = new ClusterIpAllocator('10.96.0.0/24');
    const first = admitServiceSpec(store, 'default/a', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] }, undefined);
    if ('errors' in first) throw new Error(JSON.stringify(first.errors));
    first.commit();
    expect(first.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(store.nodePorts.used).toBe(2);
    // The second Service asks for the same nodePort on its second port: nothing is kept.
    const clash = admitServiceSpec(store, 'default/b', { type: 'NodePort', ports: [{ name: 'a', port: 81 }, { name: 'b', port: 82, nodePort: 30080 }] }, undefined);
    expect('errors' in clash && clash.errors.map((e) => e.field)).toEqual(['spec.ports[1].nodePort']);
    expect(store.nodePorts.used).toBe(2);
    expect(store.clusterIps.used).toBe(1);
    const toClusterIp = admitServiceSpec(store, 'default/a', { ...first.spec, type: 'ClusterIP' }, first.spec);
    if ('errors' in toClusterIp) throw new Error(JSON.stringify(toClusterIp.errors));
    toClusterIp.commit();
    expect(store.nodePorts.used).toBe(0);
    releaseService(store, toClusterIp.spec);
    expect(store.clusterIps.used).toBe(0);
  });
});
