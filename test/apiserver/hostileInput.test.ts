// Hostile request bodies against the real server (issue 10, point 2): prototype paths in JSON
// patches, `constructor`/`prototype`/`__proto__` keys in merge and strategic merge patches, and
// selector names that only exist on Object.prototype. Each gets a 4xx or is pruned, nothing hostile
// is stored, and Object.prototype stays clean for the whole process.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubectl } from '../support/kube.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.stop();
});

interface Reply {
  status: number;
  body: Record<string, unknown>;
  warning: string | null;
}

async function call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const init: RequestInit = { method, headers: { authorization: 'Bearer admin', 'content-type': contentType, accept: 'application/json' } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, warning: res.headers.get('warning') };
}

const polluted = (): unknown[] => [
  (Object.prototype as Record<string, unknown>).polluted,
  (Object as unknown as Record<string, unknown>).polluted,
  ({} as Record<string, unknown>).polluted,
];

afterEach(() => {
  // Leave the process clean for the other tests even if a case failed.
  delete (Object.prototype as Record<string, unknown>).polluted;
  delete (Object as unknown as Record<string, unknown>).polluted;
});

const cmPath = '/api/v1/namespaces/default/configmaps';

async function configMap(name: string): Promise<Record<string, unknown>> {
  const created = await call('POST', cmPath, { metadata: { name, labels: { app: name } }, data: { k: 'v' } });
  expect(created.status).toBe(201);
  return created.body;
}

async function stored(name: string): Promise<Record<string, unknown>> {
  return (await call('GET', `${cmPath}/${name}`)).body;
}

describe('JSON patch with prototype paths', () => {
  it.each([
    ['/__proto__/polluted'],
    ['/constructor/prototype/polluted'],
    ['/metadata/__proto__/polluted'],
    ['/constructor/polluted'],
  ])('%s is refused with a 4xx and changes nothing', async (path) => {
    const before = await configMap(`jp-${path.replace(/[^a-z]/g, '').slice(0, 30)}`);
    const name = (before.metadata as { name: string }).name;
    const res = await call('PATCH', `${cmPath}/${name}`, [{ op: 'add', path, value: 'yes' }], 'application/json-patch+json');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body).toMatchObject({ kind: 'Status', status: 'Failure' });
    expect(polluted()).toEqual([undefined, undefined, undefined]);
    const after = await stored(name);
    expect((after.metadata as { resourceVersion: string }).resourceVersion).toBe((before.metadata as { resourceVersion: string }).resourceVersion);
  });

  it('a top-level `constructor` added by JSON patch is an unknown field: pruned with a warning, refused when strict', async () => {
    await configMap('jp-ctor');
    const warned = await call('PATCH', `${cmPath}/jp-ctor`, [{ op: 'add', path: '/constructor', value: { prototype: { polluted: 'yes' } } }], 'application/json-patch+json');
    expect(warned.status).toBe(200);
    expect(warned.warning).toContain('unknown field \\"constructor\\"');
    expect(Object.hasOwn(await stored('jp-ctor'), 'constructor')).toBe(false);
    const strict = await call('PATCH', `${cmPath}/jp-ctor?fieldValidation=Strict`, [{ op: 'add', path: '/constructor', value: 1 }], 'application/json-patch+json');
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('strict decoding error: unknown field "constructor"');
    expect(polluted()).toEqual([undefined, undefined, undefined]);
  });
});

describe('merge and strategic merge patches with hostile keys', () => {
  it('kubectl patch with constructor/prototype gets the unknown-field warning and changes nothing', async () => {
    await configMap('smp-ctor');
    const r = await kubectl(api, ['patch', 'configmap', 'smp-ctor', '-p', '{"constructor":{"prototype":{"polluted":"yes"}}}']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Warning: unknown field "constructor"');
    expect(r.stdout).toContain('configmap/smp-ctor patched (no change)');
    expect(Object.hasOwn(await stored('smp-ctor'), 'constructor')).toBe(false);
    expect(polluted()).toEqual([undefined, undefined, undefined]);
  });

  it.each([
    ['application/strategic-merge-patch+json'],
    ['application/merge-patch+json'],
  ])('%s: a top-level constructor key is pruned (Warn), never stored', async (type) => {
    const name = `ctor-${type.includes('strategic') ? 'smp' : 'merge'}`;
    await configMap(name);
    const res = await call('PATCH', `${cmPath}/${name}`, { constructor: { prototype: { polluted: 'yes' } }, data: { k: 'w' } }, type);
    expect(res.status).toBe(200);
    expect(res.warning).toContain('unknown field \\"constructor\\"');
    const after = await stored(name);
    expect(Object.keys(after)).not.toContain('constructor');
    expect(after.data).toEqual({ k: 'w' });
    expect(polluted()).toEqual([undefined, undefined, undefined]);
  });

  it.each([
    ['application/strategic-merge-patch+json'],
    ['application/merge-patch+json'],
    ['application/json'],
  ])('%s: a __proto__ key anywhere in the body is a 400 and nothing is stored', async (type) => {
    const name = `proto-${type.replace(/[^a-z]/g, '').slice(11, 30)}`;
    await configMap(name);
    const body = '{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}},"data":{"__proto__":{"polluted":"yes"}}}';
    const res = type === 'application/json' ? await call('PUT', `${cmPath}/${name}`, body, type) : await call('PATCH', `${cmPath}/${name}`, body, type);
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('"__proto__" is not allowed');
    const after = await stored(name);
    expect(after.data).toEqual({ k: 'v' });
    expect(after.metadata).toMatchObject({ labels: { app: name } });
    expect(polluted()).toEqual([undefined, undefined, undefined]);
  });

  it('a JSON patch value carrying __proto__ is refused too', async () => {
    await configMap('jp-value');
    const res = await call('PATCH', `${cmPath}/jp-value`, '[{"op":"add","path":"/data/x","value":{"__proto__":{"polluted":"yes"}}}]', 'application/json-patch+json');
    expect(res.status).toBe(400);
    expect(polluted()).toEqual([undefined, undefined, undefined]);
  });
});

describe('names that exist only on Object.prototype', () => {
  it('a label selector on `constructor` matches only objects that carry that label', async () => {
    await configMap('sel-plain');
    const list = await call('GET', `${cmPath}?labelSelector=constructor`);
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
    await call('POST', cmPath, { metadata: { name: 'sel-ctor', labels: { constructor: 'yes' } } });
    const hit = await call('GET', `${cmPath}?labelSelector=constructor%3Dyes`);
    expect((hit.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual(['sel-ctor']);
  });

  it('a field selector on `constructor` or `toString` is not a supported field label', async () => {
    for (const field of ['constructor', 'toString', '__proto__']) {
      const res = await call('GET', `${cmPath}?fieldSelector=${field}%3Dx`);
      expect(res.status).toBe(400);
      expect(res.body.message).toBe(`field label not supported: ${field}`);
    }
  });

  it('a patch content type named after an Object.prototype member is a 415', async () => {
    await configMap('ct-ctor');
    const res = await call('PATCH', `${cmPath}/ct-ctor`, { data: { k: 'x' } }, 'constructor');
    expect(res.status).toBe(415);
    expect((await stored('ct-ctor')).data).toEqual({ k: 'v' });
  });
});
