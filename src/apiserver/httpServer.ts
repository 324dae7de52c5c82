// The HTTP edge: parses Kubernetes REST paths, content types and query parameters, calls
// ResourceOperations, records every resource request, and renders JSON, Tables and watch streams.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest, internalError, methodNotAllowed, resourceNotFound, tooLarge, unsupportedMediaType } from './apiErrors.js';
import { decodeKubeProtobuf } from './kubeProtobuf.js';
import { pruneUnknownFields, unknownFields } from './knownFields.js';
import { assertNoProtoKeys, ownValue } from './ownProperties.js';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openapiV3Document, openapiV3Root, serverVersion } from './discoveryDocuments.js';
import type { KubeObject, ObjectStore, StoredEntry } from './objectStore.js';
import { apiVersionOf, type ResourceCatalog, type ResourceDefinition } from './resourceCatalog.js';
import { prunedFields } from './structuralSchema.js';
import { ResourceOperations, type DeleteOptions, type ListQuery, type PatchType, type Scope, type WriteOptions } from './resourceOperations.js';
import { renderTable, type IncludeObject } from './tableRendering.js';
import { WatchStream } from './watchStream.js';

export interface RecordedRequest {
  user: string;
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
}

export const maxBodyBytes = 3 * 1024 * 1024;

const patchTypes: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/**
 * The field manager of a write: its `fieldManager` parameter (kubectl always sends one). A write
 * without one is not recorded in managedFields. The real server records it under the user agent's
 * first word; doing so here doubled the size and time of a LIST of 10,000 Services (see README).
 */
function managerOf(q: URLSearchParams): string | undefined {
  return q.get('fieldManager') || undefined;
}

interface ParsedPath {
  def: ResourceDefinition;
  namespace?: string;
  name?: string;
  subresource?: string;
  watchPrefix: boolean;
}

type Answer = { code: number; body: unknown } | { code: number; raw: string };

export interface HttpContext {
  store: ObjectStore;
  ops: ResourceOperations;
  requests: RecordedRequest[];
  watches: Set<WatchStream>;
  serverAddress: () => string;
  bookmarkIntervalMs: number;
  requestRecordLimit: number;
  now: () => Date;
}

function userOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim() || 'system:anonymous';
  return 'system:anonymous';
}

/** Resolve /api/v1/... and /apis/{g}/{v}/... to a resource, namespace, name and subresource. */
/** A resource path this server does not serve: still recorded, as a component really asked for it. */
interface UnknownPath {
  unknown: true;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  watchPrefix: boolean;
}

function parseResourcePath(catalog: ResourceCatalog, segments: string[]): ParsedPath | UnknownPath | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else return undefined;
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const def = catalog.find(group, version, rest[0] ?? '');
  const subresource = rest[2];
  const unknown = (): UnknownPath => ({
    unknown: true,
    group,
    resource: rest[0] ?? '',
    watchPrefix,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(rest[1] !== undefined ? { name: rest[1] } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  });
  if (!def || rest.length > 3) return unknown();
  if (namespace !== undefined && !def.namespaced) return unknown();
  if (subresource !== undefined && !(subresource === 'status' && def.hasStatus) && !(subresource === 'finalize' && def.storage === 'namespaces')) return unknown();
  const parsed: ParsedPath = { def, watchPrefix };
  if (namespace !== undefined) parsed.namespace = namespace;
  if (rest[1] !== undefined) parsed.name = rest[1];
  if (subresource !== undefined) parsed.subresource = subresource;
  return parsed;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = declared > maxBodyBytes;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBodyBytes) overflow = true;
    if (!overflow) chunks.push(chunk as Buffer);
  }
  if (overflow) throw tooLarge(maxBodyBytes);
  return Buffer.concat(chunks);
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function decodeDocument(buf: Buffer, type: string): unknown {
  const doc = parseDocument(buf, type);
  assertNoProtoKeys(doc);
  return doc;
}

function parseDocument(buf: Buffer, type: string): unknown {
  if (type === 'application/vnd.kubernetes.protobuf') return decodeKubeProtobuf(buf);
  if (type.includes('protobuf') || type.includes('cbor')) throw unsupportedMediaType(type, ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf']);
  const text = buf.toString('utf8');
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
    try {
      return parseYaml(text) as unknown;
    } catch (e) {
      throw badRequest(`error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`the body of the request could not be decoded as JSON: ${(e as Error).message}`);
  }
}

function acceptOf(req: IncomingMessage): { table: boolean; partial: boolean } {
  const accept = req.headers.accept ?? '';
  // The first acceptable alternative wins, as in content negotiation.
  for (const alt of accept.split(',')) {
    const a = alt.replace(/\s/g, '');
    if (a.includes('as=Table')) return { table: true, partial: false };
    if (a.includes('as=PartialObjectMetadata')) return { table: false, partial: true };
    if (a.startsWith('application/json') || a.startsWith('*/*') || a.startsWith('application/yaml')) return { table: false, partial: false };
  }
  return { table: false, partial: false };
}

function send(res: ServerResponse, answer: Answer, warnings: string[] = []): void {
  const text = 'raw' in answer ? answer.raw : JSON.stringify(answer.body);
  const headers: Record<string, string | number | string[]> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' };
  if (warnings.length > 0) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(answer.code, headers);
  res.end(text);
}

function nonResource(ctx: HttpContext, segments: string[], method: string): Answer | undefined {
  const path = segments.join('/');
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (path === 'healthz' || path === 'readyz' || path === 'livez') return { code: 200, raw: 'ok' };
  if (path === 'version') return { code: 200, body: serverVersion };
  if (path === '') {
    const paths = ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version', '/openapi/v3'];
    for (const r of ctx.store.catalog.all()) if (r.group) paths.push(`/apis/${r.group}`, `/apis/${r.group}/${r.version}`);
    return { code: 200, body: { paths: [...new Set(paths)].sort() } };
  }
  if (path === 'api') return { code: 200, body: apiVersions(ctx.serverAddress()) };
  const catalog = ctx.store.catalog;
  if (path === 'apis') return { code: 200, body: apiGroupList(catalog) };
  if (segments[0] === 'api' && segments.length === 2) {
    const list = apiResourceList(catalog, '', segments[1]!);
    return list ? { code: 200, body: list } : { code: 404, body: resourceNotFound().toStatus() };
  }
  if (segments[0] === 'apis' && segments.length === 2) {
    const g = apiGroup(catalog, segments[1]!);
    return g ? { code: 200, body: g } : { code: 404, body: resourceNotFound().toStatus() };
  }
  if (segments[0] === 'apis' && segments.length === 3) {
    const list = apiResourceList(catalog, segments[1]!, segments[2]!);
    return list ? { code: 200, body: list } : { code: 404, body: resourceNotFound().toStatus() };
  }
  if (path === 'openapi/v3') return { code: 200, body: openapiV3Root(catalog) };
  if (segments[0] === 'openapi' && segments[1] === 'v3') {
    const doc = openapiV3Document(catalog, segments.slice(2).join('/'));
    return doc ? { code: 200, body: doc } : { code: 404, body: resourceNotFound().toStatus() };
  }
  return undefined;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}"`);
  return Number(v);
}

function listQuery(q: URLSearchParams): ListQuery {
  const out: ListQuery = {};
  const labelSelector = q.get('labelSelector');
  const fieldSelector = q.get('fieldSelector');
  const limit = intParam(q, 'limit');
  const cont = q.get('continue');
  if (labelSelector) out.labelSelector = labelSelector;
  if (fieldSelector) out.fieldSelector = fieldSelector;
  if (limit !== undefined) out.limit = limit;
  if (cont) out.continue = cont;
  return out;
}

function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

function verbOf(method: string, path: { name?: string }, watch: boolean): RecordedRequest['verb'] | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (watch) return 'watch';
      return path.name === undefined ? 'list' : 'get';
    case 'POST':
      return path.name === undefined ? 'create' : undefined;
    case 'PUT':
      return path.name === undefined ? undefined : 'update';
    case 'PATCH':
      return path.name === undefined ? undefined : 'patch';
    case 'DELETE':
      return path.name === undefined ? 'deletecollection' : 'delete';
    default:
      return undefined;
  }
}

export function createRequestHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((e: unknown) => {
      const err = e instanceof ApiError ? e : internalError((e as Error)?.message ?? String(e));
      if (!res.headersSent) send(res, { code: err.code, body: err.toStatus() });
      else res.end();
    });
  };
}

async function handle(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  let segments: string[];
  try {
    segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    send(res, { code: 400, body: badRequest(`malformed path ${url.pathname}`).toStatus() });
    return;
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const q = url.searchParams;
  const parsed = parseResourcePath(ctx.store.catalog, segments);
  if (parsed === undefined) {
    const answer = nonResource(ctx, segments, method);
    if (req.method !== 'GET' && req.method !== 'HEAD') await readBody(req).catch(() => undefined);
    send(res, answer ?? { code: 404, body: resourceNotFound().toStatus() });
    return;
  }
  const watch = parsed.watchPrefix || q.get('watch') === 'true' || q.get('watch') === '1';
  const verb = verbOf(method, parsed, watch);
  if ('unknown' in parsed) {
    recordRequest(ctx, req, { verb: verb ?? 'get', apiGroup: parsed.group, resource: parsed.resource, code: 404 }, parsed);
    await readBody(req).catch(() => undefined);
    send(res, { code: 404, body: resourceNotFound().toStatus() });
    return;
  }
  // A method the path does not allow is still recorded under the verb it asked for (and its 405).
  const asked: RecordedRequest['verb'] = verb ?? ({ POST: 'create', PUT: 'update', PATCH: 'patch' } as const)[method as 'POST'] ?? 'get';
  const record = recordRequest(ctx, req, { verb: asked, apiGroup: parsed.def.group, resource: parsed.def.resource, code: 0 }, parsed);
  const warnings: string[] = [];
  if (parsed.def.custom?.deprecationWarning) warnings.push(parsed.def.custom.deprecationWarning);
  const reply = (answer: Answer): void => {
    record.code = answer.code;
    send(res, answer, answer.code < 400 ? warnings : []);
  };
  try {
    if (!verb) throw methodNotAllowed();
    // namespaces/{name}/finalize only takes updates (as in Kubernetes).
    if (parsed.subresource === 'finalize' && verb !== 'update') throw methodNotAllowed();
    await routes[verb]({ ctx, req, res, q, parsed, def: parsed.def, scope: scopeOf(parsed), accept: acceptOf(req), record, warnings, reply });
  } catch (e) {
    if (req.readable) await readBody(req).catch(() => undefined);
    const err = e instanceof ApiError ? e : internalError((e as Error)?.message ?? String(e));
    if (res.headersSent) {
      res.end();
      return;
    }
    reply({ code: err.code, body: err.toStatus() });
  }
}

/** Records a resource request (also one for a resource this server does not serve). */
function recordRequest(ctx: HttpContext, req: IncomingMessage, fields: Omit<RecordedRequest, 'user'>, path: { namespace?: string; name?: string; subresource?: string }): RecordedRequest {
  const record: RecordedRequest = { user: userOf(req), ...fields };
  if (path.subresource) record.subresource = path.subresource;
  if (path.namespace !== undefined) record.namespace = path.namespace;
  if (path.name !== undefined) record.name = path.name;
  ctx.requests.push(record);
  // Trim in batches, so a bounded record costs nothing per request.
  if (ctx.requests.length > ctx.requestRecordLimit * 2) ctx.requests.splice(0, ctx.requests.length - ctx.requestRecordLimit);
  return record;
}

function scopeOf(parsed: ParsedPath): Scope {
  const scope: Scope = { def: parsed.def };
  if (parsed.namespace !== undefined) scope.namespace = parsed.namespace;
  if (parsed.name !== undefined) scope.name = parsed.name;
  if (parsed.subresource !== undefined) scope.subresource = parsed.subresource;
  return scope;
}

/** One request for a served resource, as the route handlers see it. */
interface ResourceRequest {
  ctx: HttpContext;
  req: IncomingMessage;
  res: ServerResponse;
  q: URLSearchParams;
  parsed: ParsedPath;
  def: ResourceDefinition;
  scope: Scope;
  accept: { table: boolean; partial: boolean };
  record: RecordedRequest;
  /** Warning headers of a successful answer. */
  warnings: string[];
  reply(answer: Answer): void;
}

const routes: Record<RecordedRequest['verb'], (r: ResourceRequest) => void | Promise<void>> = {
  get: (r) => r.reply(single(r, 200, r.ctx.ops.get(r.scope))),
  list: listResources,
  watch: (r) => startWatch(r.ctx, r.res, r.scope, r.q, r.accept, r.record),
  create: async (r) => {
    if (r.parsed.subresource) throw methodNotAllowed();
    const body = decodeDocument(await readBody(r.req), mediaType(r.req));
    checkFields(r, body);
    r.reply(single(r, 201, r.ctx.ops.create(r.scope, body, dryRunOf(r.q), writeOptionsOf(r.q))));
  },
  update: async (r) => {
    const body = decodeDocument(await readBody(r.req), mediaType(r.req));
    checkFields(r, body);
    r.reply(single(r, 200, r.ctx.ops.update(r.scope, body, dryRunOf(r.q), writeOptionsOf(r.q))));
  },
  patch: patchResource,
  delete: async (r) => {
    const options = await deleteOptionsOf(r.req);
    r.reply(single(r, 200, r.ctx.ops.delete(r.scope, options, dryRunOf(r.q))));
  },
  deletecollection: async (r) => {
    const options = await deleteOptionsOf(r.req);
    const deleted = r.ctx.ops.deleteCollection(r.scope, listQuery(r.q), options, dryRunOf(r.q));
    const items = deleted.map((e) => r.ctx.ops.output(r.def, e).json).join(',');
    r.reply({ code: 200, raw: `{"kind":"${r.def.kind}List","apiVersion":"${apiVersionOf(r.def)}","metadata":{"resourceVersion":"${r.ctx.store.resourceVersion}"},"items":[${items}]}` });
  },
};

function dryRunOf(q: URLSearchParams): boolean {
  return q.getAll('dryRun').includes('All');
}

function writeOptionsOf(q: URLSearchParams): WriteOptions {
  const manager = managerOf(q);
  return { force: q.get('force') === 'true', ...(manager ? { manager } : {}) };
}

async function deleteOptionsOf(req: IncomingMessage): Promise<DeleteOptions> {
  const buf = await readBody(req);
  const options = buf.length > 0 ? (decodeDocument(buf, mediaType(req)) as DeleteOptions) : {};
  return options ?? {};
}

/** One object as asked for: JSON, a Table row, or its metadata alone. */
function single(r: ResourceRequest, code: number, entry: StoredEntry): Answer {
  const out = r.ctx.ops.output(r.def, entry);
  if (r.accept.table) {
    return { code, body: renderTable(r.def, [{ stored: entry.obj, shown: out.obj }], r.ctx.now(), includeObjectOf(r.q), { resourceVersion: entry.obj.metadata.resourceVersion ?? '' }) };
  }
  if (r.accept.partial) return { code, body: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: out.obj.metadata } };
  return { code, raw: out.json };
}

function listResources(r: ResourceRequest): void {
  const { ctx, def } = r;
  const shown = (e: StoredEntry) => ctx.ops.output(def, e);
  const result = ctx.ops.list(r.scope, listQuery(r.q));
  const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = { resourceVersion: String(result.resourceVersion) };
  if (result.continue) {
    metadata.continue = result.continue;
    metadata.remainingItemCount = result.remainingItemCount!;
  }
  if (r.accept.table) {
    const rows = result.entries.map((e) => ({ stored: e.obj, shown: shown(e).obj }));
    r.reply({ code: 200, body: renderTable(def, rows, ctx.now(), includeObjectOf(r.q), metadata) });
  } else if (r.accept.partial) {
    const items = result.entries.map((e) => ({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: shown(e).obj.metadata }));
    r.reply({ code: 200, body: { kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata, items } });
  } else {
    const items = result.entries.map((e) => shown(e).json).join(',');
    r.reply({ code: 200, raw: `{"kind":"${def.kind}List","apiVersion":"${apiVersionOf(def)}","metadata":${JSON.stringify(metadata)},"items":[${items}]}` });
  }
}

async function patchResource(r: ResourceRequest): Promise<void> {
  const type = mediaType(r.req);
  const buf = await readBody(r.req);
  const patchType = ownValue(patchTypes, type);
  if (!patchType) throw unsupportedMediaType(type, Object.keys(patchTypes));
  const body = decodeDocument(buf, patchType === 'apply' ? type : 'application/json');
  const writeOptions = writeOptionsOf(r.q);
  const options = patchType === 'apply' ? { ...writeOptions, manager: r.q.get('fieldManager') ?? undefined } : writeOptions;
  if (options.manager === undefined) delete options.manager;
  r.reply(single(r, 200, r.ctx.ops.patch(r.scope, patchType, body, dryRunOf(r.q), (b) => checkFields(r, b), options)));
}

/** Unknown fields: Strict rejects, Warn (the default) answers with Warning headers, Ignore drops. */
function checkFields(r: ResourceRequest, body: unknown): void {
  const mode = r.q.get('fieldValidation') ?? 'Warn';
  const { def } = r;
  const schema = def.custom?.schema;
  const unknown = schema
    ? prunedFields(schema, body, mode !== 'Strict')
    : mode === 'Strict'
      ? unknownFields(def.group, def.storage, body)
      : pruneUnknownFields(def.group, def.storage, body);
  if (unknown.length === 0 || mode === 'Ignore') return;
  if (mode === 'Strict') {
    throw badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`);
  }
  for (const f of unknown) r.warnings.push(`unknown field "${f}"`);
}

function startWatch(
  ctx: HttpContext,
  res: ServerResponse,
  scope: Scope,
  q: URLSearchParams,
  accept: { table: boolean; partial: boolean },
  record: RecordedRequest,
): void {
  const def = scope.def;
  const query = listQuery(q);
  // A watch on an object's own path (the old single-object form) sees only that object.
  if (scope.name !== undefined) query.fieldSelector = [query.fieldSelector, `metadata.name=${scope.name}`].filter(Boolean).join(',');
  const matches = ctx.ops.matcher(scope, query);
  const rvText = q.get('resourceVersion') ?? '';
  if (rvText !== '' && !/^\d+$/.test(rvText)) throw badRequest(`invalid resource version: "${rvText}"`);
  const sendInitial = q.get('sendInitialEvents') === 'true';
  const timeoutSeconds = intParam(q, 'timeoutSeconds');
  const includeObject = includeObjectOf(q);
  const render = (entry: StoredEntry): string => {
    const out = ctx.ops.output(def, entry);
    if (accept.table) return JSON.stringify(renderTable(def, [{ stored: entry.obj, shown: out.obj }], ctx.now(), includeObject, { resourceVersion: entry.obj.metadata.resourceVersion ?? '' }));
    if (accept.partial) return JSON.stringify({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: out.obj.metadata });
    return out.json;
  };
  const listScope: Scope = { def: scope.def, ...(scope.namespace !== undefined ? { namespace: scope.namespace } : {}) };
  const initial = (): StoredEntry[] =>
    ctx.ops.list(listScope, { ...(query.labelSelector ? { labelSelector: query.labelSelector } : {}), ...(query.fieldSelector ? { fieldSelector: query.fieldSelector } : {}) }).entries;
  const stream = new WatchStream(
    ctx.store,
    res,
    {
      storage: def.storage,
      kind: accept.table ? 'Table' : def.kind,
      apiVersion: accept.table ? 'meta.k8s.io/v1' : apiVersionOf(def),
      matches: (obj: KubeObject) => matches(obj),
      render,
      initial,
      ...(sendInitial ? { resourceVersion: 0 } : rvText === '' ? {} : { resourceVersion: Number(rvText) }),
      sendInitialEventsBookmark: sendInitial,
      bookmarks: q.get('allowWatchBookmarks') === 'true',
      bookmarkIntervalMs: ctx.bookmarkIntervalMs,
      ...(timeoutSeconds !== undefined ? { timeoutMs: timeoutSeconds * 1000 } : {}),
    },
    () => ctx.watches.delete(stream),
  );
  ctx.watches.add(stream);
  record.code = 200;
  stream.start();
}
