// Secrets with the real kubectl and client-node: `kubectl create secret generic --from-literal`
// (protobuf from kubectl's typed client), base64 data, stringData merged into data on write and
// never stored, and the kube-apiserver's refusals.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubeConfigFor, kubectl, kubectlOk } from '../support/kube.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.stop();
});

const ok = (args: string[], input?: string): Promise<string> => kubectlOk(api, args, input);

describe('Secrets', () => {
  it('kubectl create secret generic --from-literal stores base64 data that client-node reads back', async () => {
    expect(await ok(['create', 'secret', 'generic', 'bgp-password', '--from-literal=password=s3cr3t!', '--type=kubernetes.io/basic-auth'])).toBe('secret/bgp-password created\n');
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({ name: 'bgp-password', namespace: 'default' });
    expect(secret.type).toBe('kubernetes.io/basic-auth');
    expect(Buffer.from(secret.data!.password!, 'base64').toString()).toBe('s3cr3t!');
    expect(await ok(['get', 'secrets'])).toMatch(/^bgp-password\s+kubernetes\.io\/basic-auth\s+1\s+\d+s$/m);
  });

  it('merges stringData into data (stringData wins), defaults the type and never stores stringData', async () => {
    await ok(['apply', '-f', '-'], 'apiVersion: v1\nkind: Secret\nmetadata: {name: mixed}\ndata: {a: YQ==, b: Yg==}\nstringData: {b: bee, c: see}\n');
    const s = JSON.parse(await ok(['get', 'secret', 'mixed', '-o', 'json'])) as { data: Record<string, string>; type: string; stringData?: unknown };
    expect(s.type).toBe('Opaque');
    expect(s.stringData).toBeUndefined();
    expect(Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]))).toEqual({ a: 'a', b: 'bee', c: 'see' });
  });

  it('refuses data that is not base64, a bad key, and a type change', async () => {
    const bad = await kubectl(api, ['create', '-f', '-'], { input: 'apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata: {"bad key": "not base64!"}\n' });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('data[bad key]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters');
    expect(bad.stderr).toContain('must be a base64-encoded string');
    const retype = await kubectl(api, ['patch', 'secret', 'mixed', '--type=merge', '-p', '{"type":"kubernetes.io/tls"}']);
    expect(retype.code).not.toBe(0);
    expect(retype.stderr.trim()).toBe('The Secret "mixed" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable');
  });
});
