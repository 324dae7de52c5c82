// The verbs (get, list, create, update, patch, delete, deletecollection) with Kubernetes semantics,
// over the ObjectStore. No HTTP here: the edge parses requests and renders what these return.
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  forbidden,
  forbiddenField,
  invalidError,
  invalidValue,
  notFound,
  unsupportedMediaType,
  unsupportedValue,
  type FieldError,
} from './apiErrors.js';
import { deepEqual } from './deepEqual.js';
import { coreToEventsV1, eventsV1ToCore } from './eventConversion.js';
import { exactName, matchesFields, parseFieldSelector } from './fieldSelector.js';
import { applyJsonPatch, PatchError, type Json } from './jsonPatch.js';
import { matchesLabels, parseLabelSelector } from './labelSelector.js';
import { applyMergePatch } from './mergePatch.js';
import { omitEmptyFields } from './omitEmpty.js';
import { applyConfiguration, managedFieldsAfterUpdate, type ApplyConflict } from './serverSideApply.js';
import type { FieldScope } from './managedFields.js';
import { objectKey, type KubeObject, type ObjectStore, type StoredEntry } from './objectStore.js';
import { validateObjectMeta } from './objectValidation.js';
import { validateKind } from './kindValidation.js';
import { apiVersionOf, type ResourceDefinition } from './resourceCatalog.js';
import { crdStorage, servedResources } from './customResourceDefinitions.js';
import { admitCreate, admitUpdate, generationChanged } from './kindStrategies.js';
import { admitServiceSpec, releaseService } from './serviceStrategy.js';
import type { ServiceSpec } from './serviceDefaults.js';
import { validateServiceStatus } from './serviceValidation.js';
import { applyStrategicMergePatch } from './strategicMergePatch.js';
import { normalizeTimes } from './timeFields.js';
import { isJsonObject } from './jsonObject.js';

export interface Scope {
  def: ResourceDefinition;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface ListQuery {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface ListResult {
  entries: StoredEntry[];
  resourceVersion: number;
  continue?: string;
  remainingItemCount?: number;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

/** Who writes (metadata.managedFields) and, for server-side apply, whether conflicts are forced. */
export interface WriteOptions {
  manager?: string;
  force?: boolean;
  /** managedFields already settled by server-side apply. */
  presetManagedFields?: boolean;
}

function fieldScopeOf(def: ResourceDefinition, subresource: string | undefined): FieldScope {
  return { storage: def.storage, schema: def.custom?.schema, hasStatus: def.hasStatus, subresource };
}

/** 409 as the field manager words it: `Apply failed with 1 conflict: conflict with "m" using v1: .spec.x`. */
function applyConflict(def: ResourceDefinition, name: string, conflicts: ApplyConflict[]): ApiError {
  const byManager = new Map<string, ApplyConflict[]>();
  for (const c of conflicts) byManager.set(`${c.manager}\u0000${c.apiVersion}`, [...(byManager.get(`${c.manager}\u0000${c.apiVersion}`) ?? []), c]);
  const using = (c: ApplyConflict): string => `"${c.manager}"${c.apiVersion ? ` using ${c.apiVersion}` : ''}`;
  const message =
    conflicts.length === 1
      ? `Apply failed with 1 conflict: conflict with ${using(conflicts[0]!)}: ${conflicts[0]!.field}`
      : `Apply failed with ${conflicts.length} conflicts: ${[...byManager.values()].map((cs) => `conflicts with ${using(cs[0]!)}:\n${cs.map((c) => `- ${c.field}`).join('\n')}`).join('\n')}`;
  return new ApiError(409, 'Conflict', message, {
    name,
    group: def.group,
    kind: def.resource,
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${using(c)}`, field: c.field })),
  });
}

const generateNameChars = 'bcdfghjklmnpqrstvwxz2456789';


/** RFC 3339 with second precision, as metav1.Time serializes. */
export function kubeTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}


interface ContinueToken {
  rv: number;
  start: string;
}

export class ResourceOperations {
  constructor(
    readonly store: ObjectStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The object as the client's API version shows it. */
  output(def: ResourceDefinition, entry: StoredEntry): StoredEntry {
    if (def.group === 'events.k8s.io') {
      const obj = coreToEventsV1(entry.obj);
      return { obj, json: JSON.stringify(obj) };
    }
    // Custom resources: stored in the storage version, served in any (conversion None).
    if (def.custom && entry.obj.apiVersion !== apiVersionOf(def)) {
      const obj = { ...entry.obj, apiVersion: apiVersionOf(def) };
      return { obj, json: JSON.stringify(obj) };
    }
    return entry;
  }

  private toStorage(def: ResourceDefinition, obj: KubeObject): KubeObject {
    if (def.group === 'events.k8s.io') return eventsV1ToCore(obj);
    if (def.custom) obj.apiVersion = `${def.group}/${def.custom.storageVersion}`;
    return obj;
  }

  private key(scope: Scope, name: string): string {
    return objectKey(scope.def.namespaced ? scope.namespace : undefined, name);
  }

  get(scope: Scope): StoredEntry {
    const entry = this.store.get(scope.def.storage, this.key(scope, scope.name!));
    if (!entry) throw notFound(scope.def.group, scope.def.resource, scope.name!);
    return entry;
  }

  /** A predicate for list and watch from the selectors (throws 400 on bad selectors). */
  matcher(scope: Scope, query: ListQuery): (obj: KubeObject) => boolean {
    const labels = parseLabelSelector(query.labelSelector);
    const fields = parseFieldSelector(scope.def.storage, query.fieldSelector);
    const ns = scope.def.namespaced ? scope.namespace : undefined;
    return (obj) => {
      if (ns !== undefined && obj.metadata.namespace !== ns) return false;
      if (labels.length > 0 && !matchesLabels(labels, obj.metadata.labels)) return false;
      if (fields.requirements.length > 0 && !matchesFields(fields, obj as Record<string, unknown>)) return false;
      return true;
    };
  }

  list(scope: Scope, query: ListQuery): ListResult {
    const matches = this.matcher(scope, query);
    const storage = scope.def.storage;
    let token: ContinueToken | undefined;
    if (query.continue) {
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8')) as ContinueToken;
      } catch {
        throw badRequest('continue key is not valid: illegal base64 data');
      }
      if (typeof token?.rv !== 'number' || typeof token.start !== 'string') throw badRequest('continue key is not valid: incorrect encoded start resourceVersion');
      if (token.rv < this.store.oldestResumable) {
        throw expired(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      }
    }
    const rv = token?.rv ?? this.store.resourceVersion;
    const limit = query.limit && query.limit > 0 ? query.limit : Infinity;
    const entries: StoredEntry[] = [];
    const fieldName = exactName(parseFieldSelector(storage, query.fieldSelector));
    let keys: readonly string[] =
      fieldName !== undefined && scope.def.namespaced && scope.namespace ? [objectKey(scope.namespace, fieldName)] : this.store.keys(storage);
    let lookup = (key: string): StoredEntry | undefined => this.store.get(storage, key);
    if (token && token.rv < this.store.resourceVersion) {
      // Later pages show the list as it was at the first page's resourceVersion: undo what changed since.
      const since = this.store.eventsSince(storage, token.rv);
      if (!since) throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      if (since.length > 0) {
        const past = new Map<string, StoredEntry | undefined>();
        for (const e of since) if (!past.has(e.key)) past.set(e.key, e.prev);
        lookup = (key) => (past.has(key) ? past.get(key) : this.store.get(storage, key));
        if ([...past.keys()].some((k) => !this.store.get(storage, k))) keys = [...new Set([...keys, ...past.keys()])].sort();
      }
    }
    const firstAfter = (bound: string, inclusive: boolean): number => {
      let lo = 0;
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (inclusive ? keys[mid]! < bound : keys[mid]! <= bound) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    const inNamespace = scope.def.namespaced && scope.namespace && fieldName === undefined ? `${scope.namespace}/` : undefined;
    let i = token ? firstAfter(token.start, false) : inNamespace ? firstAfter(inNamespace, true) : 0;
    let lastKey = '';
    for (; i < keys.length; i++) {
      const key = keys[i]!;
      if (inNamespace && !key.startsWith(inNamespace)) break;
      const entry = lookup(key);
      if (!entry || !matches(entry.obj)) continue;
      if (entries.length >= limit) {
        const next: ContinueToken = { rv, start: lastKey };
        let remaining = 0;
        for (let j = i; j < keys.length; j++) {
          const e = lookup(keys[j]!);
          if (e && matches(e.obj)) remaining++;
        }
        return { entries, resourceVersion: rv, continue: Buffer.from(JSON.stringify(next)).toString('base64url'), remainingItemCount: remaining };
      }
      entries.push(entry);
      lastKey = key;
    }
    return { entries, resourceVersion: rv };
  }

  private parseBody(scope: Scope, body: unknown): KubeObject {
    if (!isJsonObject(body)) throw badRequest('the body of the request must be a JSON object');
    const def = scope.def;
    const expected = apiVersionOf(def);
    if (body.apiVersion !== undefined && body.apiVersion !== expected) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expected})`);
    }
    if (body.kind !== undefined && body.kind !== def.kind) {
      throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${def.kind}) for this URL`);
    }
    if (body.metadata !== undefined && !isJsonObject(body.metadata)) throw badRequest('metadata must be an object');
    const obj = structuredClone(body) as KubeObject;
    obj.apiVersion = expected;
    obj.kind = def.kind;
    obj.metadata ??= {};
    if (def.namespaced) {
      if (obj.metadata.namespace && scope.namespace && obj.metadata.namespace !== scope.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      if (scope.namespace) obj.metadata.namespace = scope.namespace;
    } else {
      // Cluster-scoped objects have no namespace; Kubernetes clears one sent by mistake.
      delete obj.metadata.namespace;
    }
    const stored = this.toStorage(def, obj);
    normalizeTimes(def.storage, stored as Record<string, unknown>);
    return stored;
  }

  private requireNamespace(scope: Scope, name: string): void {
    if (!scope.def.namespaced) return;
    const nsName = scope.namespace;
    if (!nsName) throw badRequest('the namespace of the object must be set in the URL');
    const ns = this.store.get('namespaces', nsName);
    if (!ns) throw notFound('', 'namespaces', nsName);
    if (ns.obj.metadata.deletionTimestamp) {
      throw forbidden(scope.def.group, scope.def.resource, name, `unable to create new content in namespace ${nsName} because it is being terminated`);
    }
  }

  create(scope: Scope, body: unknown, dryRun = false, options: WriteOptions = {}): StoredEntry {
    const def = scope.def;
    const obj = this.parseBody(scope, body);
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += generateNameChars[Math.floor(Math.random() * generateNameChars.length)];
      meta.name = `${meta.generateName}${suffix}`;
    }
    const name = meta.name ?? '';
    const errors = validateObjectMeta(obj, def.nameRule, def.namespaced);
    if (errors.length > 0) throw invalidError(def.group, def.kind, name, errors);
    this.requireNamespace(scope, name);
    const key = this.key(scope, name);
    if (this.store.get(def.storage, key)) throw alreadyExists(def.group, def.resource, name);

    meta.uid = randomUUID();
    meta.creationTimestamp = kubeTime(this.now());
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;

    let commitAllocations: (() => void) | undefined;
    let rollback: (() => void) | undefined;
    if (def.storage === 'services') {
      const admitted = admitServiceSpec(this.store, key, obj.spec as ServiceSpec | undefined, undefined);
      if ('errors' in admitted) throw invalidError(def.group, def.kind, name, admitted.errors);
      obj.spec = admitted.spec;
      obj.status = { loadBalancer: {} };
      commitAllocations = admitted.commit;
      rollback = admitted.rollback;
    } else if (def.storage === 'namespaces') {
      obj.spec = { finalizers: ['kubernetes'] };
      obj.status = { phase: 'Active' };
      meta.labels = { ...(meta.labels ?? {}), 'kubernetes.io/metadata.name': name };
    } else if (def.storage === 'events') {
      this.validateEvent(obj, name);
    } else {
      const kindErrors = [...validateKind(def.storage, obj), ...admitCreate(def, obj, kubeTime(this.now()))];
      if (kindErrors.length > 0) throw invalidError(def.group, def.kind, name, kindErrors);
    }
    if (!options.presetManagedFields) {
      delete meta.managedFields;
      if (options.manager) meta.managedFields = managedFieldsAfterUpdate({ scope: fieldScopeOf(def, undefined), old: undefined, next: obj, manager: options.manager, apiVersion: apiVersionOf(def), now: meta.creationTimestamp });
    }
    const ordered = this.ordered(def, obj);
    if (dryRun) {
      rollback?.();
      return { obj: ordered, json: JSON.stringify(ordered) };
    }
    commitAllocations?.();
    return this.committed(def, this.store.commit(def.storage, key, 'ADDED', ordered));
  }

  private validateEvent(obj: KubeObject, name: string): void {
    const involved = obj.involvedObject as Record<string, unknown> | undefined;
    const errors: FieldError[] = [];
    if (involved?.namespace && obj.metadata.namespace && involved.namespace !== obj.metadata.namespace) {
      errors.push(invalidValue('involvedObject.namespace', involved.namespace, 'does not match event.namespace'));
    }
    if (obj.type !== undefined && obj.type !== '' && obj.type !== 'Normal' && obj.type !== 'Warning') {
      errors.push(unsupportedValue('type', obj.type, ['Normal', 'Warning']));
    }
    if (errors.length > 0) throw invalidError('', 'Event', name, errors);
  }

  /** apiVersion, kind, metadata first, like the real server's output; empty omitempty fields gone. */
  private ordered(def: ResourceDefinition, obj: KubeObject): KubeObject {
    omitEmptyFields(def.storage, obj);
    const { apiVersion, kind, metadata, ...rest } = obj;
    return { apiVersion, kind, metadata, ...rest } as KubeObject;
  }

  update(scope: Scope, body: unknown, dryRun = false, options: WriteOptions = {}): StoredEntry {
    const input = this.parseBody(scope, body);
    const name = scope.name!;
    if (input.metadata.name !== undefined && input.metadata.name !== name) {
      throw badRequest(`the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    }
    return this.write(scope, input, dryRun, options);
  }

  /** The shared tail of update and patch: `input` is the whole desired object, in storage form. */
  private write(scope: Scope, input: KubeObject, dryRun: boolean, options: WriteOptions = {}): StoredEntry {
    const def = scope.def;
    const name = scope.name!;
    const key = this.key(scope, name);
    const existing = this.store.get(def.storage, key);
    if (!existing) throw notFound(def.group, def.resource, name);
    const old = existing.obj;
    if (input.metadata.resourceVersion && input.metadata.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(def.group, def.resource, name);
    }
    if (input.metadata.uid && input.metadata.uid !== old.metadata.uid) {
      throw conflict(def.group, def.resource, name, `Precondition failed: UID in precondition: ${input.metadata.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    let next: KubeObject;
    if (scope.subresource === 'finalize') {
      next = structuredClone(old);
      next.spec = { finalizers: ((input.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).slice() };
    } else if (scope.subresource === 'status') {
      next = structuredClone(old);
      if (input.status === undefined) delete next.status;
      else next.status = input.status;
      const errors = admitUpdate(def, next, old, kubeTime(this.now()));
      if (errors.length > 0) throw invalidError(def.group, def.kind, name, errors);
    } else {
      next = input;
      if (def.hasStatus) {
        if (old.status === undefined) delete next.status;
        else next.status = structuredClone(old.status);
      }
      const meta = next.metadata;
      meta.name = old.metadata.name;
      if (def.namespaced) meta.namespace = old.metadata.namespace;
      meta.uid = old.metadata.uid;
      meta.creationTimestamp = old.metadata.creationTimestamp;
      if (old.metadata.deletionTimestamp) {
        meta.deletionTimestamp = old.metadata.deletionTimestamp;
        meta.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
        const added = (meta.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
        if (added.length > 0) {
          throw invalidError(def.group, def.kind, name, [
            forbiddenField('metadata.finalizers', `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`),
          ]);
        }
      } else {
        delete meta.deletionTimestamp;
        delete meta.deletionGracePeriodSeconds;
      }
      if (def.tracksGeneration) meta.generation = old.metadata.generation ?? 1;
      else delete meta.generation;
      const errors = [...validateObjectMeta(next, def.nameRule, def.namespaced), ...validateKind(def.storage, next, old)];
      if (errors.length === 0) errors.push(...admitUpdate(def, next, old, kubeTime(this.now())));
      if (errors.length > 0) throw invalidError(def.group, def.kind, name, errors);
      if (def.storage === 'namespaces') next.spec = structuredClone(old.spec);
    }

    let commitAllocations: (() => void) | undefined;
    let rollback: (() => void) | undefined;
    if (def.storage === 'services') {
      if (scope.subresource === 'status') {
        const errors = validateServiceStatus(next.status);
        if (errors.length > 0) throw invalidError(def.group, def.kind, name, errors);
      } else {
        const admitted = admitServiceSpec(this.store, key, next.spec as ServiceSpec | undefined, old.spec as ServiceSpec | undefined);
        if ('errors' in admitted) throw invalidError(def.group, def.kind, name, admitted.errors);
        next.spec = admitted.spec;
        commitAllocations = admitted.commit;
        rollback = admitted.rollback;
      }
    }
    if (def.tracksGeneration && scope.subresource === undefined && generationChanged(def, old, next, deepEqual)) {
      next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    }
    if (!options.presetManagedFields) {
      // Ownership is the server's record: a client's copy of managedFields is not taken as it is.
      const managed = options.manager
        ? managedFieldsAfterUpdate({ scope: fieldScopeOf(def, scope.subresource), old, next, manager: options.manager, apiVersion: apiVersionOf(def), now: kubeTime(this.now()) })
        : old.metadata.managedFields;
      if (managed === undefined) delete next.metadata.managedFields;
      else next.metadata.managedFields = managed;
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    next = this.ordered(def, next);
    if (dryRun) {
      rollback?.();
      return { obj: next, json: JSON.stringify(next) };
    }
    commitAllocations?.();
    if (deepEqual(next, old)) return existing;
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && !this.holdsNamespace(def, next)) {
      return this.remove(def, key, next);
    }
    return this.committed(def, this.store.commit(def.storage, key, 'MODIFIED', next));
  }

  /** A CRD written or gone changes what is served. */
  private committed(def: ResourceDefinition, entry: StoredEntry): StoredEntry {
    if (def.storage === crdStorage) this.store.catalog.setCustom(entry.obj.metadata.name!, servedResources(entry.obj));
    return entry;
  }

  /** `inspect` sees the patched object first (field validation may reject it or prune it). */
  patch(scope: Scope, type: PatchType, patchBody: unknown, dryRun = false, inspect?: (patched: Record<string, unknown>) => void, options: WriteOptions = {}): StoredEntry {
    if (type === 'apply') return this.apply(scope, patchBody, dryRun, inspect, options);
    const def = scope.def;
    const name = scope.name!;
    const existing = this.get(scope);
    const current = this.output(def, existing).obj as unknown as Json;
    let patched: Json;
    try {
      if (type === 'json') patched = applyJsonPatch(current, patchBody);
      else if (type === 'strategic' && def.custom) {
        throw unsupportedMediaType('application/strategic-merge-patch+json', ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml']);
      } else if (type === 'merge') {
        if (!isJsonObject(patchBody)) throw new PatchError('a merge patch must be a JSON object');
        patched = applyMergePatch(current, patchBody as Json);
      } else patched = applyStrategicMergePatch(def.storage, current, patchBody as Json);
    } catch (e) {
      if (e instanceof PatchError) throw invalidError(def.group, def.kind, name, [invalidValue('patch', JSON.stringify(patchBody).slice(0, 200), e.message)]);
      throw e;
    }
    if (!isJsonObject(patched)) throw invalidError(def.group, def.kind, name, [invalidValue('patch', '', 'the patched document is not an object')]);
    inspect?.(patched as Record<string, unknown>);
    const meta = (patched as Record<string, unknown>).metadata;
    if (isJsonObject(meta) && meta.name !== undefined && meta.name !== name) {
      throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    return this.write(scope, this.parseBody(scope, patched), dryRun, options);
  }

  /** Server-side apply: merge the configuration by field ownership; creates the object when absent. */
  private apply(scope: Scope, body: unknown, dryRun: boolean, inspect: ((patched: Record<string, unknown>) => void) | undefined, options: WriteOptions): StoredEntry {
    const def = scope.def;
    const name = scope.name!;
    if (!options.manager) {
      throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
        group: 'meta.k8s.io',
        kind: 'PatchOptions',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
      });
    }
    if (!isJsonObject(body)) throw badRequest('the body of an apply patch must be an object');
    for (const field of ['apiVersion', 'kind'] as const) {
      if (typeof body[field] !== 'string' || body[field] === '') throw badRequest(`invalid object type: ${field} must be set in an apply configuration`);
    }
    inspect?.(body);
    const config = this.parseBody(scope, body);
    if (config.metadata.name !== undefined && config.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(config.metadata.name)}) does not match the name on the URL (${name})`);
    }
    delete config.metadata.managedFields;
    const existing = this.store.get(def.storage, this.key(scope, name));
    if (!existing && scope.subresource) throw notFound(def.group, def.resource, name);
    const live = existing ? (structuredClone(this.output(def, existing).obj)) : undefined;
    if (live) this.toStorage(def, live);
    const result = applyConfiguration({
      scope: fieldScopeOf(def, scope.subresource),
      live,
      config,
      manager: options.manager,
      force: options.force === true,
      apiVersion: apiVersionOf(def),
      now: kubeTime(this.now()),
    });
    if ('conflicts' in result) throw applyConflict(def, name, result.conflicts);
    const merged = result.object;
    merged.metadata.name = name;
    if (!existing) {
      delete merged.metadata.resourceVersion;
      merged.apiVersion = apiVersionOf(def);
      return this.create(scope, merged, dryRun, { ...options, presetManagedFields: true });
    }
    merged.metadata.resourceVersion = existing.obj.metadata.resourceVersion;
    return this.write(scope, this.toStorage(def, merged), dryRun, { ...options, presetManagedFields: true });
  }

  private holdsNamespace(def: ResourceDefinition, obj: KubeObject): boolean {
    return def.storage === 'namespaces' && ((obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).length > 0;
  }

  private remove(def: ResourceDefinition, key: string, obj: KubeObject): StoredEntry {
    if (def.storage === crdStorage) this.dropCustomResources(obj.metadata.name!);
    const entry = this.store.commit(def.storage, key, 'DELETED', obj);
    if (def.storage === 'services') releaseService(this.store, obj.spec as ServiceSpec | undefined);
    if (def.namespaced && obj.metadata.namespace) this.finalizeNamespace(obj.metadata.namespace);
    return entry;
  }

  /** Deleting a CRD deletes its objects (finalizers are not waited for) and stops serving them. */
  private dropCustomResources(crdName: string): void {
    const served = this.store.catalog.customOf(crdName);
    const storage = served[0]?.storage;
    this.store.catalog.setCustom(crdName, []);
    if (!storage) return;
    for (const k of [...this.store.keys(storage)]) {
      const e = this.store.get(storage, k);
      if (e) this.store.commit(storage, k, 'DELETED', structuredClone(e.obj));
    }
  }

  /** One definition per storage of the namespaced resources (for namespace cleanup). */
  private namespacedStorages(): ResourceDefinition[] {
    const seen = new Set<string>();
    return this.store.catalog.all().filter((d) => d.namespaced && !seen.has(d.storage) && seen.add(d.storage));
  }

  delete(scope: Scope, options: DeleteOptions = {}, dryRun = false): StoredEntry {
    const def = scope.def;
    const name = scope.name!;
    const key = this.key(scope, name);
    const existing = this.get(scope);
    const pre = options.preconditions;
    if (pre?.uid && pre.uid !== existing.obj.metadata.uid) {
      throw conflict(def.group, def.resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.obj.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== existing.obj.metadata.resourceVersion) {
      throw conflict(
        def.group,
        def.resource,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.obj.metadata.resourceVersion}`,
      );
    }
    if (dryRun) return existing;
    if (def.storage === 'namespaces') return this.deleteNamespace(key, existing);
    if ((existing.obj.metadata.finalizers ?? []).length > 0) {
      if (existing.obj.metadata.deletionTimestamp) return existing;
      const next = structuredClone(existing.obj);
      next.metadata.deletionTimestamp = kubeTime(this.now());
      next.metadata.deletionGracePeriodSeconds = 0;
      return this.store.commit(def.storage, key, 'MODIFIED', next);
    }
    return this.remove(def, key, structuredClone(existing.obj));
  }

  /** Namespaces terminate: their content is deleted, then the namespace goes once it is empty. */
  private deleteNamespace(key: string, existing: StoredEntry): StoredEntry {
    let entry = existing;
    if (!existing.obj.metadata.deletionTimestamp) {
      const next = structuredClone(existing.obj);
      next.metadata.deletionTimestamp = kubeTime(this.now());
      next.metadata.deletionGracePeriodSeconds = 0;
      next.status = { phase: 'Terminating' };
      entry = this.store.commit('namespaces', key, 'MODIFIED', next);
    }
    const ns = existing.obj.metadata.name!;
    for (const def of this.namespacedStorages()) {
      for (const k of [...this.store.keys(def.storage)]) {
        if (!k.startsWith(`${ns}/`)) continue;
        const e = this.store.get(def.storage, k);
        if (!e) continue;
        try {
          this.delete({ def, namespace: ns, name: e.obj.metadata.name! });
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
        }
      }
    }
    return this.finalizeNamespace(ns) ?? this.store.get('namespaces', key) ?? entry;
  }

  private finalizeNamespace(ns: string): StoredEntry | undefined {
    const entry = this.store.get('namespaces', ns);
    if (!entry?.obj.metadata.deletionTimestamp) return undefined;
    for (const def of this.namespacedStorages()) {
      if (this.store.keys(def.storage).some((k) => k.startsWith(`${ns}/`))) return undefined;
    }
    const final = structuredClone(entry.obj);
    final.spec = {};
    if ((final.metadata.finalizers ?? []).length > 0) return this.store.commit('namespaces', ns, 'MODIFIED', final);
    return this.store.commit('namespaces', ns, 'DELETED', final);
  }

  deleteCollection(scope: Scope, query: ListQuery, options: DeleteOptions = {}, dryRun = false): StoredEntry[] {
    const { entries } = this.list(scope, { labelSelector: query.labelSelector, fieldSelector: query.fieldSelector });
    const out: StoredEntry[] = [];
    for (const e of entries) {
      try {
        out.push(this.delete({ def: scope.def, namespace: e.obj.metadata.namespace, name: e.obj.metadata.name! }, options, dryRun));
      } catch (err) {
        if (!(err instanceof ApiError) || err.code !== 404) throw err;
      }
    }
    return out;
  }
}
