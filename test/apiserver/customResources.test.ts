// CustomResourceDefinitions with the real kubectl and client-node: established condition,
// discovery, schema defaults/pruning/validation, printer columns, the status subresource,
// generation, selectors, an informer, finalizers, several versions and deleting the CRD.
import { ApiextensionsV1Api, CustomObjectsApi, makeInformer, PatchStrategy, setHeaderOptions, type KubernetesObject } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubeConfigFor, kubectl, kubectlOk } from '../support/kube.js';

let api: ApiServerHandle;
const crdYaml = readFileSync(new URL('./fixtures/widgets-crd.yaml', import.meta.url), 'utf8');

beforeAll(async () => {
  api = await startApiServer();
  await ok(['apply', '-f', '-'], crdYaml);
  await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/widgets.example.com']);
});
afterAll(async () => {
  await api.stop();
});

const ok = (args: string[], input?: string): Promise<string> => kubectlOk(api, args, input);

async function refused(args: string[], input?: string): Promise<string> {
  const r = await kubectl(api, args, input === undefined ? {} : { input });
  expect(r.code).not.toBe(0);
  return r.stderr.trim();
}

async function call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: Record<string, unknown>; warning: string | null }> {
  const init: RequestInit = { method, headers: { authorization: 'Bearer admin', 'content-type': contentType, accept: 'application/json' } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, warning: res.headers.get('warning') };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const widget = (name: string, spec: string, labels = ''): string =>
  `apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: ${name}\n${labels ? `  labels: {${labels}}\n` : ''}spec: ${spec}\n`;

type Widget = KubernetesObject & { spec: Record<string, unknown>; status?: Record<string, unknown> };

describe('a CRD applied with kubectl', () => {
  it('is established, reports accepted names and stored versions, and is listed in discovery', async () => {
    const crd = JSON.parse(await ok(['get', 'crd', 'widgets.example.com', '-o', 'json'])) as { status: { conditions: { type: string; status: string }[]; acceptedNames: { kind: string; listKind: string }; storedVersions: string[] } };
    expect(crd.status.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['NamesAccepted=True', 'Established=True']);
    expect(crd.status.acceptedNames).toMatchObject({ kind: 'Widget', listKind: 'WidgetList' });
    expect(crd.status.storedVersions).toEqual(['v1']);
    const resources = await ok(['api-resources', '--api-group=example.com', '--no-headers']);
    expect(resources).toMatch(/^widgets\s+wd\s+example\.com\/v1\s+true\s+Widget$/m);
    const group = JSON.parse(await ok(['get', '--raw', '/apis/example.com'])) as { versions: { version: string }[]; preferredVersion: { version: string } };
    expect(group.versions.map((v) => v.version)).toEqual(['v1', 'v1beta1']);
    expect(group.preferredVersion.version).toBe('v1');
    const list = JSON.parse(await ok(['get', '--raw', '/apis/example.com/v1'])) as { resources: { name: string; categories?: string[] }[] };
    expect(list.resources.map((r) => r.name)).toEqual(['widgets', 'widgets/status']);
    expect(list.resources[0]!.categories).toEqual(['all', 'gadgets']);
  });

  it('refuses a CRD whose name is not plural.group, or whose schema is not structural, with the apiextensions messages', async () => {
    const bad = crdYaml.replace('name: widgets.example.com', 'name: gizmos.example.com');
    expect(await refused(['apply', '-f', '-'], bad)).toContain('metadata.name: Invalid value: "gizmos.example.com": must be spec.names.plural+"."+spec.group');
    const untyped = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example.com}
spec:
  group: example.com
  scope: Cluster
  names: {plural: things, kind: Thing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {properties: {a: {type: string}}}
`;
    expect(await refused(['apply', '-f', '-'], untyped)).toContain(
      'spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields',
    );
  });
});

describe('custom resources', () => {
  it('apply defaults, validate with field paths (422), and refuse unknown fields when strict', async () => {
    await ok(['apply', '-f', '-'], widget('small', '{size: 2, port: http, extra: {anything: [1, 2]}}'));
    const small = JSON.parse(await ok(['get', 'widget', 'small', '-o', 'json'])) as Widget;
    expect(small.spec).toEqual({ size: 2, color: 'red', port: 'http', extra: { anything: [1, 2] } });
    expect(small.metadata?.generation).toBe(1);
    expect(await refused(['apply', '-f', '-'], widget('huge', '{size: 30, color: pink, port: 1.5}'))).toBe(
      [
        'The Widget "huge" is invalid: ',
        '* spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"',
        '* spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"',
        '* spec.size: Invalid value: 30: spec.size in body should be less than or equal to 10',
      ].join('\n'),
    );
    expect(await refused(['apply', '-f', '-'], widget('nosize', '{color: blue}'))).toBe('The Widget "nosize" is invalid: spec.size: Required value');
    expect(await refused(['apply', '-f', '-'], widget('typo', '{size: 1, colour: blue}'))).toContain('strict decoding error: unknown field "spec.colour"');
  });

  it('prune unknown fields with a warning when not strict', async () => {
    const res = await call('POST', '/apis/example.com/v1/namespaces/default/widgets', { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'pruned' }, spec: { size: 1, colour: 'x' }, top: 1 });
    expect(res.status).toBe(201);
    expect(res.warning).toContain('unknown field \\"spec.colour\\"');
    expect(res.body.spec).toEqual({ size: 1, color: 'red' });
    expect(Object.keys(res.body)).not.toContain('top');
  });

  it('print the additionalPrinterColumns in kubectl get, and are found by short name and category', async () => {
    await ok(['apply', '-f', '-'], widget('printed', '{size: 7, color: blue}'));
    await ok(['patch', 'widget', 'printed', '--subresource=status', '--type=merge', '-p', '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}']);
    const table = await ok(['get', 'wd', 'printed']);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+SIZE\s+COLOR\s+READY\s+AGE$/);
    expect(table.split('\n')[1]).toMatch(/^printed\s+7\s+blue\s+True\s+\d+s$/);
    expect(await ok(['get', 'gadgets', '-o', 'name'])).toContain('widget.example.com/printed');
  });

  it('keep status to the status subresource and count generation on spec changes only', async () => {
    await ok(['apply', '-f', '-'], widget('gen', '{size: 1}'));
    await ok(['patch', 'widget', 'gen', '--type=merge', '-p', '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}']);
    let w = JSON.parse(await ok(['get', 'widget', 'gen', '-o', 'json'])) as Widget;
    expect(w.status).toBeUndefined();
    expect(w.metadata?.generation).toBe(1);
    await ok(['patch', 'widget', 'gen', '--subresource=status', '--type=merge', '-p', '{"status":{"conditions":[{"type":"Ready","status":"True"}]},"spec":{"size":9}}']);
    w = JSON.parse(await ok(['get', 'widget', 'gen', '-o', 'json'])) as Widget;
    expect(w.status).toEqual({ conditions: [{ type: 'Ready', status: 'True' }] });
    expect(w.spec.size).toBe(1);
    expect(w.metadata?.generation).toBe(1);
    await ok(['label', 'widget', 'gen', 'x=y']);
    await ok(['patch', 'widget', 'gen', '--type=merge', '-p', '{"spec":{"size":2}}']);
    w = JSON.parse(await ok(['get', 'widget', 'gen', '-o', 'json'])) as Widget;
    expect(w.metadata?.generation).toBe(2);
  });

  it('are served in every served version with only apiVersion rewritten', async () => {
    await ok(['apply', '-f', '-'], widget('versioned', '{size: 4}'));
    const beta = await call('GET', '/apis/example.com/v1beta1/namespaces/default/widgets/versioned');
    expect(beta.body.apiVersion).toBe('example.com/v1beta1');
    expect(beta.body.spec).toEqual({ size: 4, color: 'red' });
    const written = await call('PUT', '/apis/example.com/v1beta1/namespaces/default/widgets/versioned', { ...beta.body, spec: { size: 5, color: 'green' } });
    expect(written.status).toBe(200);
    expect((await call('GET', '/apis/example.com/v1/namespaces/default/widgets/versioned')).body).toMatchObject({ apiVersion: 'example.com/v1', spec: { size: 5 } });
  });

  it('refuse a strategic merge patch, as the real server does for custom resources', async () => {
    await ok(['apply', '-f', '-'], widget('nosmp', '{size: 1}'));
    const res = await call('PATCH', '/apis/example.com/v1/namespaces/default/widgets/nosmp', { spec: { size: 2 } }, 'application/strategic-merge-patch+json');
    expect(res.status).toBe(415);
  });

  it('honour finalizers', async () => {
    await ok(['apply', '-f', '-'], widget('held', '{size: 1}').replace('metadata:\n', 'metadata:\n  finalizers: [example.com/hold]\n'));
    await ok(['delete', 'widget', 'held', '--wait=false']);
    const held = JSON.parse(await ok(['get', 'widget', 'held', '-o', 'json'])) as Widget;
    expect(held.metadata?.deletionTimestamp).toBeDefined();
    await ok(['patch', 'widget', 'held', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    expect((await kubectl(api, ['get', 'widget', 'held'])).stderr).toContain('NotFound');
  });
});

describe('client-node on custom resources', () => {
  it('lists with label and field selectors, and an informer sees adds, updates and deletes', async () => {
    const kc = kubeConfigFor(api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const base = { group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets' };
    for (const [name, team] of [['inf-a', 'red'], ['inf-b', 'blue']] as const) {
      await custom.createNamespacedCustomObject({ ...base, body: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name, labels: { team } }, spec: { size: 1 } } });
    }
    const byLabel = (await custom.listNamespacedCustomObject({ ...base, labelSelector: 'team=blue' })) as { items: Widget[] };
    expect(byLabel.items.map((i) => i.metadata?.name)).toEqual(['inf-b']);
    const byName = (await custom.listNamespacedCustomObject({ ...base, fieldSelector: 'metadata.name=inf-a' })) as { items: Widget[] };
    expect(byName.items.map((i) => i.metadata?.name)).toEqual(['inf-a']);

    const seen: string[] = [];
    const informer = makeInformer<Widget>(
      kc,
      '/apis/example.com/v1/namespaces/default/widgets',
      () => custom.listNamespacedCustomObject({ ...base, labelSelector: 'team' }) as never,
      'team',
    );
    informer.on('add', (w) => seen.push(`add ${w.metadata!.name}`));
    informer.on('update', (w) => seen.push(`update ${w.metadata!.name} ${String(w.spec.size)}`));
    informer.on('delete', (w) => seen.push(`delete ${w.metadata!.name}`));
    await informer.start();
    try {
      await until('initial adds', () => seen.length >= 2);
      await custom.patchNamespacedCustomObject({ ...base, name: 'inf-a', body: { spec: { size: 3 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      await custom.deleteNamespacedCustomObject({ ...base, name: 'inf-b' });
      await until('update and delete', () => seen.includes('update inf-a 3') && seen.includes('delete inf-b'));
      expect(seen.slice(0, 2).sort()).toEqual(['add inf-a', 'add inf-b']);
    } finally {
      await informer.stop();
    }
  });

  it('deleting the CRD deletes its objects and stops serving them', async () => {
    const kc = kubeConfigFor(api);
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const crd = await ext.readCustomResourceDefinition({ name: 'widgets.example.com' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    await ok(['delete', 'crd', 'widgets.example.com']);
    expect((await call('GET', '/apis/example.com/v1/namespaces/default/widgets')).status).toBe(404);
    expect((await call('GET', '/apis/example.com')).status).toBe(404);
    await ok(['apply', '-f', '-'], crdYaml);
    const list = await call('GET', '/apis/example.com/v1/namespaces/default/widgets');
    expect(list.body.items).toEqual([]);
  });
});
