import { describe, expect, it } from 'vitest';
import { humanDuration } from '../../src/apiserver/humanDuration.js';
import type { KubeObject } from '../../src/apiserver/objectStore.js';
import { renderTable } from '../../src/apiserver/tableRendering.js';

const now = new Date('2026-01-01T12:00:00Z');
const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = { loadBalancer: {} }): KubeObject => ({
  metadata: { name: 'web', namespace: 'default', creationTimestamp: '2026-01-01T11:55:00Z' },
  spec,
  status,
});
const cells = (o: KubeObject) => renderTable('services', [{ stored: o, shown: o }], now, 'None', {}).rows[0]!.cells;

describe('service table', () => {
  it('has the kubectl columns', () => {
    const t = renderTable('services', [], now, 'None', {});
    expect(t.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age']);
  });

  it('shows <pending> until ingress exists, then the address', () => {
    const spec = { type: 'LoadBalancer', clusterIP: '10.96.0.1', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP', nodePort: 30053 }] };
    expect(cells(svc(spec)).slice(0, 6)).toEqual(['web', 'LoadBalancer', '10.96.0.1', '<pending>', '80:30080/TCP,53:30053/UDP', '5m']);
    expect(cells(svc(spec, { loadBalancer: { ingress: [{ ip: '192.0.2.1' }, { hostname: 'lb.example.com' }] } }))[3]).toBe('192.0.2.1,lb.example.com');
  });

  it('shows <none> for ClusterIP and the name for ExternalName', () => {
    expect(cells(svc({ type: 'ClusterIP', clusterIP: '10.96.0.2', ports: [{ port: 443, protocol: 'TCP' }] }))[3]).toBe('<none>');
    expect(cells(svc({ type: 'ExternalName', externalName: 'db.example.com' }))[3]).toBe('db.example.com');
  });

  it('carries partial metadata or the object as asked', () => {
    const o = svc({ type: 'ClusterIP' });
    expect(renderTable('services', [{ stored: o, shown: o }], now, 'Metadata', {}).rows[0]!.object).toEqual({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata });
    expect(renderTable('services', [{ stored: o, shown: o }], now, 'Object', {}).rows[0]!.object).toBe(o);
  });
});

describe('other tables', () => {
  it('renders nodes, events and leases', () => {
    const node: KubeObject = { metadata: { name: 'n1', creationTimestamp: '2026-01-01T10:00:00Z', labels: { 'node-role.kubernetes.io/control-plane': '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } } };
    expect(renderTable('nodes', [{ stored: node, shown: node }], now, 'None', {}).rows[0]!.cells.slice(0, 5)).toEqual(['n1', 'Ready', 'control-plane', '120m', 'v1.32.0']);
    const ev: KubeObject = { metadata: { name: 'e' }, type: 'Warning', reason: 'SyncLoadBalancerFailed', involvedObject: { kind: 'Service', name: 'web' }, message: 'bad', lastTimestamp: '2026-01-01T11:59:30Z' };
    expect(renderTable('events', [{ stored: ev, shown: ev }], now, 'None', {}).rows[0]!.cells.slice(0, 5)).toEqual(['30s', 'Warning', 'SyncLoadBalancerFailed', 'service/web', 'bad']);
    const lease: KubeObject = { metadata: { name: 'l', creationTimestamp: '2026-01-01T12:00:00Z' }, spec: { holderIdentity: 'pod-1' } };
    expect(renderTable('leases', [{ stored: lease, shown: lease }], now, 'None', {}).rows[0]!.cells).toEqual(['l', 'pod-1', '0s']);
  });
});

describe('humanDuration', () => {
  it.each([
    [5_000, '5s'],
    [119_000, '119s'],
    [125_000, '2m5s'],
    [600_000, '10m'],
    [3 * 3600_000 + 5 * 60_000, '3h5m'],
    [30 * 3600_000, '30h'],
    [3 * 86400_000, '3d'],
    [400 * 86400_000, '400d'],
  ])('%d ms is %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});
