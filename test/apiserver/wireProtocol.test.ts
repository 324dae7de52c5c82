// The REST and watch wire protocol driven with plain HTTP: watch parameters, paging, expiry,
// bad input, size limits, namespaces, dry runs and restarts on a kept store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer({ bookmarkIntervalMs: 100, historyLimit: 1000 });
});
afterAll(async () => {
  await api.stop();
});

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function call(method: string, path: string, body?: unknown, contentType = 'application/json', accept = 'application/json'): Promise<Reply> {
  const init: RequestInit = { method, headers: { authorization: 'Bearer admin', 'content-type': contentType, accept } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(`${api.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

interface WatchEvent {
  type: string;
  object: { kind?: string; code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> } };
}

/** Read a watch stream until `stop` says enough (or the server ends it). */
async function watch(
  path: string,
  stop: (events: WatchEvent[]) => boolean,
  during?: () => Promise<void>,
  accept = 'application/json',
): Promise<{ events: WatchEvent[]; ended: boolean }> {
  const controller = new AbortController();
  const res = await fetch(`${api.url}${path}`, { signal: controller.signal, headers: { authorization: 'Bearer admin', accept } });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: WatchEvent[] = [];
  let buffer = '';
  let ended = false;
  const pending = during?.();
  const deadline = setTimeout(() => controller.abort(), 10_000);
  try {
    while (!stop(events)) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)) as WatchEvent);
        buffer = buffer.slice(nl + 1);
      }
    }
  } finally {
    clearTimeout(deadline);
    controller.abort();
    await pending;
  }
  return { events, ended };
}

const cm = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels }, data: { k: name } });

describe('watch', () => {
  it('resumes from a resourceVersion, replaying only later changes', async () => {
    const first = await call('POST', '/api/v1/namespaces/default/configmaps', cm('w-1'));
    const rv = (first.body.metadata as { resourceVersion: string }).resourceVersion;
    await call('POST', '/api/v1/namespaces/default/configmaps', cm('w-2'));
    await call('PATCH', '/api/v1/namespaces/default/configmaps/w-1', { data: { k: 'changed' } }, 'application/merge-patch+json');
    await call('DELETE', '/api/v1/namespaces/default/configmaps/w-2');
    const { events } = await watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`, (e) => e.length >= 3);
    expect(events.map((e) => `${e.type} ${e.object.metadata!.name}`)).toEqual(['ADDED w-2', 'MODIFIED w-1', 'DELETED w-2']);
    const rvs = events.map((e) => Number(e.object.metadata!.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(rvs[0]).toBeGreaterThan(Number(rv));
  });

  it('without a resourceVersion starts with synthetic ADDED events, then streams', async () => {
    await call('POST', '/api/v1/namespaces/kube-public/configmaps', cm('synthetic'));
    const { events } = await watch(
      '/api/v1/namespaces/kube-public/configmaps?watch=1',
      (e) => e.some((x) => x.object.metadata?.name === 'live'),
      async () => {
        await new Promise((r) => setTimeout(r, 50));
        await call('POST', '/api/v1/namespaces/kube-public/configmaps', cm('live'));
      },
    );
    expect(events.map((e) => `${e.type} ${e.object.metadata!.name}`)).toEqual(['ADDED synthetic', 'ADDED live']);
  });

  it('sends bookmarks when allowed, and the initial-events-end bookmark with sendInitialEvents', async () => {
    const list = await call('GET', '/api/v1/namespaces/default/configmaps');
    const rv = (list.body.metadata as { resourceVersion: string }).resourceVersion;
    const { events } = await watch(`/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`, (e) => e.some((x) => x.type === 'BOOKMARK'));
    const bookmark = events.find((e) => e.type === 'BOOKMARK')!;
    expect(bookmark.object.kind).toBe('ConfigMap');
    expect(Number(bookmark.object.metadata!.resourceVersion)).toBeGreaterThanOrEqual(Number(rv));
    const initial = await watch('/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true', (e) =>
      e.some((x) => x.type === 'BOOKMARK'),
    );
    const end = initial.events.findIndex((e) => e.type === 'BOOKMARK');
    expect(initial.events[end]!.object.metadata!.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(initial.events.slice(0, end).every((e) => e.type === 'ADDED')).toBe(true);
    expect(end).toBeGreaterThan(0);
  });

  it('a watch on one object\'s path (/api/v1/watch/...) sees only that object', async () => {
    await call('POST', '/api/v1/namespaces/default/configmaps', cm('one-of-two'));
    await call('POST', '/api/v1/namespaces/default/configmaps', cm('two-of-two'));
    const { events } = await watch('/api/v1/watch/namespaces/default/configmaps/one-of-two', (e) => e.length >= 2, async () => {
      await new Promise((r) => setTimeout(r, 50));
      await call('PATCH', '/api/v1/namespaces/default/configmaps/two-of-two', { data: { k: 'x' } }, 'application/merge-patch+json');
      await call('PATCH', '/api/v1/namespaces/default/configmaps/one-of-two', { data: { k: 'x' } }, 'application/merge-patch+json');
    });
    expect(events.map((e) => `${e.type} ${e.object.metadata!.name}`)).toEqual(['ADDED one-of-two', 'MODIFIED one-of-two']);
    expect(api.requests.filter((r) => r.verb === 'watch' && r.name === 'one-of-two')).toHaveLength(1);
  });

  it('ends the stream after timeoutSeconds', async () => {
    const { ended } = await watch('/api/v1/namespaces/default/services?watch=true&timeoutSeconds=1', () => false);
    expect(ended).toBe(true);
  });

  it('answers a too-old resourceVersion with an ERROR 410 Expired event', async () => {
    const before = (await call('GET', '/api/v1/namespaces/default/configmaps')).body.metadata as { resourceVersion: string };
    api.dropWatches({ compact: true });
    const { events, ended } = await watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${before.resourceVersion}`, () => false);
    expect(ended).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('ERROR');
    expect(events[0]!.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('streams Tables when asked, as kubectl get -w does', async () => {
    const list = await call('GET', '/api/v1/namespaces/default/configmaps');
    const rv = (list.body.metadata as { resourceVersion: string }).resourceVersion;
    const res = await watch(
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`,
      (e) => e.length >= 1,
      () => call('POST', '/api/v1/namespaces/default/configmaps', cm('tabled')).then(() => undefined),
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    );
    const table = res.events[0]!.object as unknown as { kind: string; rows: { cells: unknown[]; object: { kind: string; metadata: { name: string } } }[] };
    expect(res.events[0]!.type).toBe('ADDED');
    expect(table.kind).toBe('Table');
    expect(table.rows).toHaveLength(1);
    expect(table.rows[0]!.cells.slice(0, 2)).toEqual(['tabled', 1]);
    expect(table.rows[0]!.object).toMatchObject({ kind: 'PartialObjectMetadata', metadata: { name: 'tabled' } });
  });
});

describe('list', () => {
  it('pages with limit and continue, and a compacted continue token is 410 Expired', async () => {
    for (let i = 0; i < 7; i++) await call('POST', '/api/v1/namespaces/kube-node-lease/configmaps', cm(`page-${i}`, { paged: 'yes' }));
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    let firstRemaining: number | undefined;
    do {
      const page = await call('GET', `/api/v1/namespaces/kube-node-lease/configmaps?labelSelector=paged%3Dyes&limit=3${token ? `&continue=${token}` : ''}`);
      expect(page.status).toBe(200);
      const meta = page.body.metadata as { continue?: string; remainingItemCount?: number };
      if (pages === 0) firstRemaining = meta.remainingItemCount;
      names.push(...(page.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name));
      token = meta.continue;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(firstRemaining).toBe(4);
    expect(names).toEqual(Array.from({ length: 7 }, (_, i) => `page-${i}`));

    const first = await call('GET', '/api/v1/namespaces/kube-node-lease/configmaps?limit=2');
    api.dropWatches({ compact: true });
    const expired = await call('GET', `/api/v1/namespaces/kube-node-lease/configmaps?limit=2&continue=${(first.body.metadata as { continue: string }).continue}`);
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
    expect((await call('GET', '/api/v1/namespaces/default/configmaps?continue=garbage!')).status).toBe(400);
  });

  it('later pages show the list as it was when the first page was served', async () => {
    await call('POST', '/api/v1/namespaces', { metadata: { name: 'snapshot' } });
    for (const n of ['a', 'c', 'e', 'g']) await call('POST', '/api/v1/namespaces/snapshot/configmaps', cm(n));
    const first = await call('GET', '/api/v1/namespaces/snapshot/configmaps?limit=2');
    const meta = first.body.metadata as { continue: string; resourceVersion: string };
    await call('POST', '/api/v1/namespaces/snapshot/configmaps', cm('f'));
    await call('DELETE', '/api/v1/namespaces/snapshot/configmaps/e');
    await call('PATCH', '/api/v1/namespaces/snapshot/configmaps/g', { data: { k: 'later' } }, 'application/merge-patch+json');
    const second = await call('GET', `/api/v1/namespaces/snapshot/configmaps?limit=10&continue=${meta.continue}`);
    const items = second.body.items as { metadata: { name: string }; data: { k: string } }[];
    expect(items.map((i) => `${i.metadata.name}=${i.data.k}`)).toEqual(['e=e', 'g=g']);
    expect((second.body.metadata as { resourceVersion: string }).resourceVersion).toBe(meta.resourceVersion);
    const fresh = await call('GET', '/api/v1/namespaces/snapshot/configmaps');
    expect((fresh.body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual(['a', 'c', 'f', 'g']);
  });

  it('filters with label and field selectors, across namespaces too', async () => {
    await call('POST', '/api/v1/namespaces/default/configmaps', cm('sel-a', { tier: 'front' }));
    await call('POST', '/api/v1/namespaces/kube-system/configmaps', cm('sel-b', { tier: 'back' }));
    const names = async (q: string) => ((await call('GET', `/api/v1/configmaps?${q}`)).body.items as { metadata: { name: string } }[]).map((i) => i.metadata.name);
    expect(await names('labelSelector=tier')).toEqual(['sel-a', 'sel-b']);
    expect(await names('labelSelector=tier%20in%20(back)')).toEqual(['sel-b']);
    expect(await names('fieldSelector=metadata.name%3Dsel-a')).toEqual(['sel-a']);
    expect(await names('labelSelector=tier&fieldSelector=metadata.namespace!%3Ddefault')).toEqual(['sel-b']);
    const bad = await call('GET', '/api/v1/configmaps?fieldSelector=spec.whatever%3D1');
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe('field label not supported: spec.whatever');
  });

  it('serves a Table when kubectl asks for one', async () => {
    const t = await call('GET', '/api/v1/namespaces', undefined, 'application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json');
    expect(t.body.kind).toBe('Table');
    expect((t.body.columnDefinitions as { name: string }[]).map((c) => c.name)).toEqual(['Name', 'Status', 'Age']);
  });
});

describe('bad input', () => {
  it('malformed JSON and YAML bodies are 400 and create nothing', async () => {
    const json = await call('POST', '/api/v1/namespaces/default/configmaps', '{"metadata": {"name": "half"');
    expect(json.status).toBe(400);
    expect(json.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'BadRequest', code: 400 });
    const yaml = await call('POST', '/api/v1/namespaces/default/configmaps', 'metadata: {name: [unclosed', 'application/yaml');
    expect(yaml.status).toBe(400);
    expect((await call('GET', '/api/v1/namespaces/default/configmaps/half')).status).toBe(404);
    const goodYaml = await call('POST', '/api/v1/namespaces/default/configmaps', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-yaml}\ndata: {a: b}\n', 'application/yaml');
    expect(goodYaml.status).toBe(201);
  });

  it('a namespace sent on a cluster-scoped object is cleared', async () => {
    const r = await call('POST', '/api/v1/nodes', { metadata: { name: 'stray-ns', namespace: 'default' } });
    expect(r.status).toBe(201);
    expect((r.body.metadata as Record<string, unknown>).namespace).toBeUndefined();
  });

  it('unknown resources and API versions are 404 NotFound', async () => {
    for (const path of ['/api/v1/namespaces/default/widgets', '/apis/example.com/v1/things', '/api/v2/services', '/apis/discovery.k8s.io/v1beta1/endpointslices']) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.body).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource' });
    }
    // Still recorded: a component that asks for something unserved made that request.
    expect(api.requests.slice(-4).map((r) => `${r.verb} ${r.apiGroup}/${r.resource} ${r.code}`)).toEqual([
      'list /widgets 404',
      'list example.com/things 404',
      'list /services 404',
      'list discovery.k8s.io/endpointslices 404',
    ]);
  });

  it('a kind or apiVersion that does not match the URL is 400', async () => {
    const kind = await call('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } });
    expect(kind.status).toBe(400);
    expect(kind.body.message).toContain('the kind in the data (Secret) does not match the expected kind (ConfigMap)');
    const version = await call('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } });
    expect(version.status).toBe(400);
    const ns = await call('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'x', namespace: 'kube-system' } });
    expect(ns.status).toBe(400);
  });

  it('a body over 3 MiB is 413', async () => {
    const big = { metadata: { name: 'big' }, data: { blob: 'x'.repeat(3 * 1024 * 1024 + 10) } };
    const r = await call('POST', '/api/v1/namespaces/default/configmaps', big);
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ reason: 'RequestEntityTooLarge', code: 413 });
    expect((await call('GET', '/api/v1/namespaces/default/configmaps/big')).status).toBe(404);
  });

  it('invalid patches are rejected and leave the object as it was', async () => {
    await call('POST', '/api/v1/namespaces/default/configmaps', cm('patch-target'));
    const before = await call('GET', '/api/v1/namespaces/default/configmaps/patch-target');
    const notJson = await call('PATCH', '/api/v1/namespaces/default/configmaps/patch-target', '[{"op": ', 'application/json-patch+json');
    expect(notJson.status).toBe(400);
    const failing = await call('PATCH', '/api/v1/namespaces/default/configmaps/patch-target', [{ op: 'replace', path: '/data/k', value: 'new' }, { op: 'test', path: '/data/k', value: 'other' }], 'application/json-patch+json');
    expect(failing.status).toBe(422);
    expect(failing.body.reason).toBe('Invalid');
    const notList = await call('PATCH', '/api/v1/namespaces/default/configmaps/patch-target', { op: 'add' }, 'application/json-patch+json');
    expect(notList.status).toBe(422);
    const wrongType = await call('PATCH', '/api/v1/namespaces/default/configmaps/patch-target', { data: {} }, 'text/plain');
    expect(wrongType.status).toBe(415);
    const ssa = await call('PATCH', '/api/v1/namespaces/default/configmaps/patch-target', 'data: {}', 'application/apply-patch+yaml');
    expect(ssa.status).toBe(422);
    expect(ssa.body.message).toBe('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    const renamed = await call('PATCH', '/api/v1/namespaces/default/configmaps/patch-target', { metadata: { name: 'other' } }, 'application/merge-patch+json');
    expect(renamed.status).toBe(400);
    expect(await call('GET', '/api/v1/namespaces/default/configmaps/patch-target')).toEqual(before);
  });

  it('events must name their own namespace and a known type', async () => {
    const ev = (over: Record<string, unknown>) => ({ metadata: { name: `ev-${Math.random().toString(16).slice(2)}` }, involvedObject: { kind: 'Service', name: 'web', namespace: 'default' }, reason: 'R', message: 'm', type: 'Normal', ...over });
    expect((await call('POST', '/api/v1/namespaces/default/events', ev({}))).status).toBe(201);
    const wrongNs = await call('POST', '/api/v1/namespaces/default/events', ev({ involvedObject: { kind: 'Service', name: 'web', namespace: 'kube-system' } }));
    expect(wrongNs.status).toBe(422);
    expect(wrongNs.body.message).toContain('involvedObject.namespace: Invalid value: "kube-system": does not match event.namespace');
    const badType = await call('POST', '/api/v1/namespaces/default/events', ev({ type: 'Fatal' }));
    expect(badType.body.message).toContain('type: Unsupported value: "Fatal": supported values: "Normal", "Warning"');
  });

  it('create in a namespace that does not exist is 404; names are validated', async () => {
    const r = await call('POST', '/api/v1/namespaces/ghost/configmaps', cm('x'));
    expect(r.status).toBe(404);
    expect(r.body.message).toBe('namespaces "ghost" not found');
    const name = await call('POST', '/api/v1/namespaces/default/services', { metadata: { name: 'Bad_Name' }, spec: { ports: [{ port: 80 }] } });
    expect(name.status).toBe(422);
    expect(name.body.message).toContain('metadata.name: Invalid value: "Bad_Name": a DNS-1035 label must consist of lower case alphanumeric characters');
    const dup = await call('POST', '/api/v1/namespaces/default/configmaps', cm('patch-target'));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ reason: 'AlreadyExists', message: 'configmaps "patch-target" already exists' });
    expect((await call('PUT', '/api/v1/namespaces/default/configmaps', cm('x'))).status).toBe(405);
    expect(api.requests.at(-1)).toMatchObject({ verb: 'update', resource: 'configmaps', namespace: 'default', code: 405 });
  });
});

describe('namespaces, dry runs and restarts', () => {
  it('a deleted namespace terminates: content goes, new content is refused, then it disappears', async () => {
    await call('POST', '/api/v1/namespaces', { metadata: { name: 'doomed' } });
    await call('POST', '/api/v1/namespaces/doomed/configmaps', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    await call('POST', '/api/v1/namespaces/doomed/configmaps', cm('free'));
    const del = await call('DELETE', '/api/v1/namespaces/doomed');
    expect(del.status).toBe(200);
    expect((await call('GET', '/api/v1/namespaces/doomed')).body.status).toEqual({ phase: 'Terminating' });
    expect((await call('GET', '/api/v1/namespaces/doomed/configmaps/free')).status).toBe(404);
    const refused = await call('POST', '/api/v1/namespaces/doomed/configmaps', cm('late'));
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('unable to create new content in namespace doomed because it is being terminated');
    await call('PATCH', '/api/v1/namespaces/doomed/configmaps/held', { metadata: { finalizers: null } }, 'application/merge-patch+json');
    expect((await call('GET', '/api/v1/namespaces/doomed')).status).toBe(404);
  });

  it('namespaces/{name}/finalize updates only spec.finalizers and lets a terminating namespace go', async () => {
    await call('POST', '/api/v1/namespaces', { metadata: { name: 'finalized' } });
    await call('POST', '/api/v1/namespaces/finalized/configmaps', { metadata: { name: 'held', finalizers: ['example.com/hold'] } });
    await call('DELETE', '/api/v1/namespaces/finalized');
    const ns = (await call('GET', '/api/v1/namespaces/finalized')).body as { spec: { finalizers: string[] } };
    expect(ns.spec.finalizers).toEqual(['kubernetes']);
    expect((await call('GET', '/api/v1/namespaces/finalized/finalize')).status).toBe(405);
    const done = await call('PUT', '/api/v1/namespaces/finalized/finalize', { ...ns, metadata: { name: 'finalized', labels: { ignored: 'yes' } }, spec: { finalizers: [] } });
    expect(done.status).toBe(200);
    expect((done.body.metadata as { labels: Record<string, string> }).labels).toEqual({ 'kubernetes.io/metadata.name': 'finalized' });
    expect((await call('GET', '/api/v1/namespaces/finalized')).status).toBe(404);
    expect(api.requests.some((r) => r.resource === 'namespaces' && r.subresource === 'finalize' && r.verb === 'update' && r.code === 200)).toBe(true);
  });

  it('dryRun=All validates and answers without storing', async () => {
    const rv = api.store.resourceVersion;
    const r = await call('POST', '/api/v1/namespaces/default/services?dryRun=All', { metadata: { name: 'dry' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
    expect(r.status).toBe(201);
    expect((r.body.spec as { clusterIP: string }).clusterIP).toMatch(/^10\./);
    expect((await call('GET', '/api/v1/namespaces/default/services/dry')).status).toBe(404);
    expect(api.store.resourceVersion).toBe(rv);
    const used = api.store.nodePorts.used;
    await call('POST', '/api/v1/namespaces/default/services?dryRun=All', { metadata: { name: 'dry' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
    expect(api.store.nodePorts.used).toBe(used);
  });

  it('a server restarted on the same store keeps objects, resourceVersions and allocations', async () => {
    const other = await startApiServer();
    const created = await fetch(`${other.url}/api/v1/namespaces/default/services`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'kept' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } }),
    }).then((r) => r.json() as Promise<{ metadata: { resourceVersion: string }; spec: { clusterIP: string; ports: { nodePort: number }[] } }>);
    const store = other.store;
    await other.stop();
    const again = await startApiServer({ store });
    try {
      const kept = (await fetch(`${again.url}/api/v1/namespaces/default/services/kept`).then((r) => r.json())) as typeof created;
      expect(kept).toEqual(created);
      const next = (await fetch(`${again.url}/api/v1/namespaces/default/services`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { name: 'fresh' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } }),
      }).then((r) => r.json())) as typeof created;
      expect(Number(next.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
      expect(next.spec.clusterIP).not.toBe(created.spec.clusterIP);
      expect(next.spec.ports[0]!.nodePort).not.toBe(created.spec.ports[0]!.nodePort);
      expect(again.requests.map((r) => r.user)).toEqual(['system:anonymous', 'system:anonymous']);
    } finally {
      await again.stop();
    }
  });
});
