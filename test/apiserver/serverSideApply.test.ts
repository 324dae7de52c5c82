// Server-side apply with the real kubectl (`kubectl apply --server-side`) and client-node: field
// managers recorded in managedFields, a second manager's conflict naming the field (409) unless
// forced, no-op re-applies, fields dropped from a configuration removed, list-maps merged by their
// keys (Service ports by port+protocol), and custom resources.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
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

interface Managed {
  manager: string;
  operation: string;
  fieldsV1: Record<string, unknown>;
}

async function managedFields(kind: string, name: string): Promise<Managed[]> {
  const obj = JSON.parse(await ok(['get', kind, name, '-o', 'json', '--show-managed-fields'])) as { metadata: { managedFields?: Managed[] } };
  return obj.metadata.managedFields ?? [];
}

const cm = (data: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  labels: {app: demo}\ndata: ${data}\n`;

describe('kubectl apply --server-side', () => {
  it('creates the object and records the manager and its fields', async () => {
    expect(await ok(['apply', '--server-side', '--field-manager=alice', '-f', '-'], cm('{a: "1", b: "2"}'))).toBe('configmap/shared serverside-applied\n');
    const [entry, ...rest] = await managedFields('configmap', 'shared');
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({ manager: 'alice', operation: 'Apply', fieldsV1: { 'f:data': { 'f:a': {}, 'f:b': {} }, 'f:metadata': { 'f:labels': { 'f:app': {} } } } });
  });

  it('applying the same configuration again changes nothing', async () => {
    const before = JSON.parse(await ok(['get', 'configmap', 'shared', '-o', 'json'])) as { metadata: { resourceVersion: string } };
    expect(await ok(['apply', '--server-side', '--field-manager=alice', '-f', '-'], cm('{a: "1", b: "2"}'))).toBe('configmap/shared serverside-applied\n');
    const after = JSON.parse(await ok(['get', 'configmap', 'shared', '-o', 'json'])) as { metadata: { resourceVersion: string } };
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('a second manager changing a field the first owns gets a 409 naming it; the same value is shared; force takes it', async () => {
    const conflict = await kubectl(api, ['apply', '--server-side', '--field-manager=bob', '-f', '-'], { input: cm('{a: "changed", c: "3"}') });
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain('Apply failed with 1 conflict: conflict with "alice" using v1: .data.a');
    // Nothing was written.
    expect(JSON.parse(await ok(['get', 'configmap', 'shared', '-o', 'jsonpath={.data}']))).toEqual({ a: '1', b: '2' });

    await ok(['apply', '--server-side', '--field-manager=bob', '-f', '-'], cm('{a: "1", c: "3"}'));
    const shared = await managedFields('configmap', 'shared');
    expect(shared.map((m) => m.manager)).toEqual(['alice', 'bob']);
    expect(shared[1]!.fieldsV1).toMatchObject({ 'f:data': { 'f:a': {}, 'f:c': {} } });

    await ok(['apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-f', '-'], cm('{a: "forced", c: "3"}'));
    expect(JSON.parse(await ok(['get', 'configmap', 'shared', '-o', 'jsonpath={.data}']))).toEqual({ a: 'forced', b: '2', c: '3' });
    const after = await managedFields('configmap', 'shared');
    expect(after.find((m) => m.manager === 'alice')!.fieldsV1).toEqual({ 'f:data': { 'f:b': {} }, 'f:metadata': { 'f:labels': { 'f:app': {} } } });
  });

  it('a field its manager stops applying is removed, unless another manager owns it too', async () => {
    await ok(['apply', '--server-side', '--field-manager=alice', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {}\n');
    const data = JSON.parse(await ok(['get', 'configmap', 'shared', '-o', 'jsonpath={.data}'])) as Record<string, string>;
    // alice dropped b (hers alone) and the label; a, c and the label stay: bob applies them too.
    expect(data).toEqual({ a: 'forced', c: '3' });
    expect(await ok(['get', 'configmap', 'shared', '-o', 'jsonpath={.metadata.labels}'])).toBe('{"app":"demo"}');
  });

  it('a client-side write takes the fields it changes from their apply manager', async () => {
    await ok(['patch', 'configmap', 'shared', '--type=merge', '-p', '{"data":{"c":"patched"}}']);
    const entries = await managedFields('configmap', 'shared');
    expect(entries.find((m) => m.manager === 'kubectl-patch')).toMatchObject({ operation: 'Update', fieldsV1: { 'f:data': { 'f:c': {} } } });
    const conflict = await kubectl(api, ['apply', '--server-side', '--field-manager=bob', '-f', '-'], { input: cm('{a: "forced", c: "mine"}') });
    expect(conflict.stderr).toContain('conflict with "kubectl-patch" using v1: .data.c');
  });
});

describe('server-side apply merges lists by their keys', () => {
  it('Service ports are merged by port and protocol, each manager keeping its own', async () => {
    const svc = (ports: string): string => `apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: LoadBalancer\n  selector: {app: web}\n  ports:\n${ports}`;
    await ok(['apply', '--server-side', '--field-manager=team-a', '-f', '-'], svc('  - {name: http, port: 80, targetPort: 8080}\n'));
    await ok(['apply', '--server-side', '--field-manager=team-b', '-f', '-'], svc('  - {name: dns, port: 53, protocol: UDP}\n'));
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    let web = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(web.spec!.ports!.map((p) => `${p.name}:${p.port}/${p.protocol}->${String(p.targetPort)}`)).toEqual(['http:80/TCP->8080', 'dns:53/UDP->53']);
    const a = web.metadata!.managedFields!.find((m) => m.manager === 'team-a')!;
    expect(Object.keys((a.fieldsV1 as { 'f:spec': { 'f:ports': object } })['f:spec']['f:ports'])).toEqual(['k:{"port":80,"protocol":"TCP"}']);
    // team-a stops applying its port: only that one goes.
    await ok(['apply', '--server-side', '--field-manager=team-a', '-f', '-'], svc('  - {name: dns, port: 53, protocol: UDP}\n'));
    web = await core.readNamespacedService({ name: 'web', namespace: 'default' });
    expect(web.spec!.ports!.map((p) => p.port)).toEqual([53]);
  });

  it('client-node applies with PatchStrategy.ServerSideApply and a conflict carries FieldManagerConflict causes', async () => {
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    const body: V1Service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cn' }, spec: { selector: { app: 'cn' }, ports: [{ port: 80 }], sessionAffinity: 'ClientIP' } };
    await core.patchNamespacedService({ name: 'cn', namespace: 'default', body, fieldManager: 'one' }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply));
    const err = await core
      .patchNamespacedService({ name: 'cn', namespace: 'default', body: { ...body, spec: { ...body.spec, sessionAffinity: 'None' } }, fieldManager: 'two' }, setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply))
      .then(() => undefined, (e: unknown) => e as { code: number; body: string });
    expect(err?.code).toBe(409);
    const status = JSON.parse(err!.body) as { reason: string; details: { causes: { reason: string; field: string; message: string }[] } };
    expect(status.reason).toBe('Conflict');
    expect(status.details.causes).toEqual([{ reason: 'FieldManagerConflict', message: 'conflict with "one" using v1', field: '.spec.sessionAffinity' }]);
  });
});

describe('server-side apply of custom resources', () => {
  it('kubectl apply --server-side creates and merges custom resources', async () => {
    await ok(['apply', '--server-side', '-f', '-'], readFileSync(new URL('./fixtures/widgets-crd.yaml', import.meta.url), 'utf8'));
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/widgets.example.com']);
    const w = (spec: string): string => `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ssa}\nspec: ${spec}\n`;
    await ok(['apply', '--server-side', '--field-manager=sizer', '-f', '-'], w('{size: 3}'));
    await ok(['apply', '--server-side', '--field-manager=painter', '-f', '-'], w('{size: 3, color: blue}'));
    expect(JSON.parse(await ok(['get', 'widget', 'ssa', '-o', 'jsonpath={.spec}']))).toEqual({ size: 3, color: 'blue' });
    const conflict = await kubectl(api, ['apply', '--server-side', '--field-manager=painter', '-f', '-'], { input: w('{size: 4, color: blue}') });
    expect(conflict.stderr).toContain('conflict with "sizer" using example.com/v1: .spec.size');
    // painter co-owns size (it applied the same value), so sizer must force to change it.
    const bad = await kubectl(api, ['apply', '--server-side', '--field-manager=sizer', '--force-conflicts', '-f', '-'], { input: w('{size: 40}') });
    expect(bad.stderr).toContain('spec.size in body should be less than or equal to 10');
  });
});
