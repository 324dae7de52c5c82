import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/apiserver/apiErrors.js';
import { decodeKubeProtobuf } from '../../src/apiserver/kubeProtobuf.js';

// Test inputs, written with protobufjs's wire writer.
const bytesOf = (build: (w: protobuf.Writer) => void): number[] => {
  const w = protobuf.Writer.create();
  build(w);
  return [...w.finish()];
};
const field = (num: number, bytes: number[]): number[] => bytesOf((w) => w.uint32((num << 3) | 2).bytes(Uint8Array.from(bytes)));
const text = (num: number, s: string): number[] => bytesOf((w) => w.uint32((num << 3) | 2).string(s));
const number = (num: number, n: number): number[] => bytesOf((w) => w.uint32(num << 3).int64(n));
const envelope = (apiVersion: string, kind: string, raw: number[]): Buffer =>
  Buffer.from([0x6b, 0x38, 0x73, 0x00, ...field(1, [...text(1, apiVersion), ...text(2, kind)]), ...field(2, raw), ...text(3, ''), ...text(4, '')]);

describe('Kubernetes protobuf bodies', () => {
  it('decodes a Service, dropping the empty values Go always writes and keeping set pointers', () => {
    const meta = [...text(1, 'web'), ...text(2, ''), ...text(3, ''), ...field(8, []), ...field(11, [...text(1, 'app'), ...text(2, 'web')])];
    const port = [...text(1, 'http'), ...text(2, 'TCP'), ...number(3, 80), ...field(4, [...number(1, 0), ...number(2, 8080), ...text(3, '')]), ...number(5, 0)];
    const named = [...text(1, 'metrics'), ...text(2, 'UDP'), ...number(3, 9090), ...field(4, [...number(1, 1), ...number(2, 0), ...text(3, 'prom')]), ...number(5, 0)];
    const spec = [...field(1, port), ...field(1, named), ...text(3, ''), ...text(4, 'LoadBalancer'), ...number(12, 0), ...number(20, 0)];
    const svc = decodeKubeProtobuf(envelope('v1', 'Service', [...field(1, meta), ...field(2, spec), ...field(3, [])]));
    expect(svc).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 },
          { name: 'metrics', protocol: 'UDP', port: 9090, targetPort: 'prom' },
        ],
        type: 'LoadBalancer',
        allocateLoadBalancerNodePorts: false,
      },
    });
  });

  it('decodes ConfigMap data and binaryData', () => {
    const cm = decodeKubeProtobuf(envelope('v1', 'ConfigMap', [...field(1, text(1, 'cfg')), ...field(2, [...text(1, 'a'), ...text(2, 'b')]), ...field(3, [...text(1, 'bin'), ...field(2, [0, 1, 2])])]));
    expect(cm).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: 'b' }, binaryData: { bin: 'AAEC' } });
  });

  it('refuses other kinds with 415, and garbage or unknown fields with 400', () => {
    const codeOf = (f: () => unknown): number => {
      try {
        f();
      } catch (e) {
        return (e as ApiError).code;
      }
      return 200;
    };
    expect(codeOf(() => decodeKubeProtobuf(envelope('v1', 'Pod', [])))).toBe(415);
    expect(codeOf(() => decodeKubeProtobuf(Buffer.from('{"json": true}')))).toBe(400);
    expect(codeOf(() => decodeKubeProtobuf(envelope('v1', 'ConfigMap', text(9, 'unknown'))))).toBe(400);
    expect(codeOf(() => decodeKubeProtobuf(Buffer.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0xff])))).toBe(400);
  });
});
