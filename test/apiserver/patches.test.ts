import { describe, expect, it } from 'vitest';
import { applyJsonPatch, PatchError, type Json } from '../../src/apiserver/jsonPatch.js';
import { applyMergePatch } from '../../src/apiserver/mergePatch.js';
import { applyStrategicMergePatch } from '../../src/apiserver/strategicMergePatch.js';

const service = (): Json => ({
  metadata: { name: 'web', labels: { a: '1' }, annotations: { x: 'y' }, finalizers: ['f/one'] },
  spec: {
    type: 'LoadBalancer',
    ports: [
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 },
      { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443, nodePort: 30443 },
    ],
    selector: { app: 'web' },
    externalIPs: ['192.0.2.1'],
  },
  status: { loadBalancer: { ingress: [{ ip: '192.0.2.9' }] } },
});

describe('JSON patch (RFC 6902)', () => {
  it('applies add, remove, replace, move, copy and test in order', () => {
    const out = applyJsonPatch(service(), [
      { op: 'test', path: '/spec/type', value: 'LoadBalancer' },
      { op: 'add', path: '/metadata/finalizers/-', value: 'f/two' },
      { op: 'remove', path: '/metadata/finalizers/0' },
      { op: 'replace', path: '/spec/ports/0/port', value: 81 },
      { op: 'add', path: '/metadata/labels/example.com~1zone', value: 'b' },
      { op: 'copy', from: '/metadata/labels/a', path: '/metadata/labels/b' },
      { op: 'move', from: '/metadata/annotations/x', path: '/metadata/annotations/z' },
    ]) as { metadata: Record<string, unknown>; spec: { ports: { port: number }[] } };
    expect(out.metadata.finalizers).toEqual(['f/two']);
    expect(out.spec.ports[0]!.port).toBe(81);
    expect(out.metadata.labels).toEqual({ a: '1', 'example.com/zone': 'b', b: '1' });
    expect(out.metadata.annotations).toEqual({ z: 'y' });
  });

  it('fails without touching the input on a failed test or a missing path', () => {
    const doc = service();
    const before = JSON.stringify(doc);
    expect(() => applyJsonPatch(doc, [{ op: 'replace', path: '/spec/type', value: 'NodePort' }, { op: 'test', path: '/spec/type', value: 'ClusterIP' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(doc, [{ op: 'remove', path: '/spec/nothing' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(doc, [{ op: 'frobnicate', path: '/a' }])).toThrow(/unexpected kind of operation/);
    expect(() => applyJsonPatch(doc, { op: 'add' })).toThrow(PatchError);
    expect(JSON.stringify(doc)).toBe(before);
  });
});

describe('merge patch (RFC 7386)', () => {
  it('merges maps, deletes with null and replaces lists whole', () => {
    const out = applyMergePatch(service(), { metadata: { labels: { a: null, b: '2' } }, spec: { ports: [{ port: 1 }] } }) as {
      metadata: { labels: unknown; annotations: unknown };
      spec: { ports: unknown; selector: unknown };
    };
    expect(out.metadata.labels).toEqual({ b: '2' });
    expect(out.metadata.annotations).toEqual({ x: 'y' });
    expect(out.spec.ports).toEqual([{ port: 1 }]);
    expect(out.spec.selector).toEqual({ app: 'web' });
  });
});

describe('strategic merge patch', () => {
  type Svc = { metadata: { finalizers?: string[]; labels?: Record<string, string> }; spec: { ports: Record<string, unknown>[]; externalIPs?: string[] }; status: unknown };
  const smp = (patch: Json): Svc => applyStrategicMergePatch('services', service(), patch) as unknown as Svc;

  it('merges Service ports by port, keeping allocated nodePorts', () => {
    const out = smp({ spec: { ports: [{ port: 443, targetPort: 9443 }, { name: 'metrics', port: 9090 }] } });
    expect(out.spec.ports).toEqual([
      { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 },
      { name: 'https', port: 443, protocol: 'TCP', targetPort: 9443, nodePort: 30443 },
      { name: 'metrics', port: 9090 },
    ]);
  });

  it('deletes a port with $patch: delete and reorders with $setElementOrder', () => {
    const out = smp({ spec: { ports: [{ port: 80, $patch: 'delete' }] } });
    expect(out.spec.ports.map((p) => p.port)).toEqual([443]);
    const reordered = smp({ spec: { '$setElementOrder/ports': [{ port: 443 }, { port: 80 }], ports: [{ port: 80, targetPort: 1 }] } });
    expect(reordered.spec.ports.map((p) => p.port)).toEqual([443, 80]);
  });

  it('unions finalizers and removes them with $deleteFromPrimitiveList', () => {
    expect(smp({ metadata: { finalizers: ['f/two', 'f/one'] } }).metadata.finalizers).toEqual(['f/one', 'f/two']);
    expect(smp({ metadata: { '$deleteFromPrimitiveList/finalizers': ['f/one'] } }).metadata.finalizers).toEqual([]);
  });

  it('replaces lists without a merge key and honours $patch: replace on maps and lists', () => {
    expect(smp({ spec: { externalIPs: ['192.0.2.2'] } }).spec.externalIPs).toEqual(['192.0.2.2']);
    expect(smp({ metadata: { labels: { $patch: 'replace', only: 'me' } } }).metadata.labels).toEqual({ only: 'me' });
    expect(smp({ spec: { ports: [{ $patch: 'replace' }, { port: 1 }] } }).spec.ports).toEqual([{ port: 1 }]);
  });

  it('deletes keys with null and rejects malformed patches', () => {
    expect(smp({ status: null }).status).toBeUndefined();
    expect(() => applyStrategicMergePatch('services', service(), [] as Json)).toThrow(PatchError);
    expect(() => applyStrategicMergePatch('services', service(), { spec: { ports: [{ name: 'no-key' }] } })).toThrow(/merge key "port"/);
    expect(() => applyStrategicMergePatch('services', service(), { $bogus: 1 })).toThrow(PatchError);
  });

  it('merges node addresses by type', () => {
    const node: Json = { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n1' }] } };
    const out = applyStrategicMergePatch('nodes', node, { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] } }) as { status: { addresses: unknown } };
    expect(out.status.addresses).toEqual([
      { type: 'InternalIP', address: '10.0.0.2' },
      { type: 'Hostname', address: 'n1' },
    ]);
  });
});
