// Server-side apply (application/apply-patch+yaml) and the field ownership every other write
// records, as the kube-apiserver's field manager does it:
// - an apply owns exactly the fields of its configuration; a field another manager owns with a
//   different value is a conflict (409 naming manager and field) unless force, which takes it;
// - fields the manager applied before and no longer applies are removed, unless someone else owns them;
// - the configuration merges into the live object by list type: list-maps by their keys (Service
//   ports by port+protocol), sets as a union, everything else replaced;
// - create, update and patch record an `Update` entry for the fields they changed, taking them
//   from other managers.
import { applyListType, defaultedKeys } from './applyListTypes.js';
import { deepEqual } from './deepEqual.js';
import {
  fieldSetOf,
  fromFieldsV1,
  readManagedFields,
  removeAt,
  sameScope,
  toFieldsV1,
  valueAt,
  type FieldScope,
  type FieldSet,
  type ManagedFieldsEntry,
} from './managedFields.js';
import type { KubeObject } from './objectStore.js';
import { isJsonObject } from './jsonObject.js';

type Obj = Record<string, unknown>;

export interface ApplyConflict {
  manager: string;
  apiVersion: string;
  field: string;
}

/** `.spec.ports[port=80,protocol="TCP"].targetPort`, the way conflicts name fields. */
export function describePath(encoded: string): string {
  let out = '';
  for (const el of JSON.parse(encoded) as string[]) {
    if (el.startsWith('f:')) out += `.${el.slice(2)}`;
    else if (el.startsWith('k:')) {
      const keys = JSON.parse(el.slice(2)) as Obj;
      out += `[${Object.entries(keys).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    } else if (el.startsWith('v:')) out += `[=${el.slice(2)}]`;
  }
  return out;
}

function mergeInto(scope: FieldScope, live: unknown, config: unknown, dotted: string): unknown {
  if (isJsonObject(config)) {
    const out: Obj = isJsonObject(live) ? { ...live } : {};
    for (const [k, v] of Object.entries(config)) {
      const child = dotted ? `${dotted}.${k}` : k;
      Object.defineProperty(out, k, { value: mergeInto(scope, Object.hasOwn(out, k) ? out[k] : undefined, v, child), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (Array.isArray(config) && Array.isArray(live)) {
    const type = applyListType(scope.storage, scope.schema, dotted);
    if (type.kind === 'set') return [...live, ...config.filter((v) => !live.some((l) => deepEqual(l, v)))];
    if (type.kind === 'map') {
      const defaults = defaultedKeys(dotted);
      const keyOf = (item: unknown): string => JSON.stringify(type.keys.map((k) => (isJsonObject(item) && Object.hasOwn(item, k) ? item[k] : defaults[k])));
      const out = [...live];
      for (const item of config) {
        const at = out.findIndex((l) => keyOf(l) === keyOf(item));
        if (at >= 0) out[at] = mergeInto(scope, out[at], item, dotted);
        else out.push(structuredClone(item));
      }
      return out;
    }
  }
  return structuredClone(config);
}

function entrySet(e: ManagedFieldsEntry): FieldSet {
  return fromFieldsV1(e.fieldsV1);
}

function withSet(e: ManagedFieldsEntry, set: FieldSet): ManagedFieldsEntry {
  return { ...e, fieldsV1: toFieldsV1(set) };
}

export interface ApplyRequest {
  scope: FieldScope;
  live: KubeObject | undefined;
  config: KubeObject;
  manager: string;
  force: boolean;
  apiVersion: string;
  now: string;
}

/** The object after applying `config`, or the conflicts that stop it. */
export function applyConfiguration(req: ApplyRequest): { object: KubeObject } | { conflicts: ApplyConflict[] } {
  const { scope, live, config, manager } = req;
  const entries = readManagedFields(live).map((e) => ({ ...e }));
  const applied = fieldSetOf(scope, config);
  const mine = entries.findIndex((e) => e.manager === manager && e.operation === 'Apply' && sameScope(e, scope.subresource));
  const conflicts: ApplyConflict[] = [];
  const taken = new Map<number, FieldSet>();
  entries.forEach((e, i) => {
    if (i === mine || !sameScope(e, scope.subresource)) return;
    const owned = entrySet(e);
    for (const p of owned) {
      if (!applied.has(p) || p.endsWith('"."]')) continue;
      if (deepEqual(valueAt(live, p), valueAt(config, p))) continue;
      conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, field: describePath(p) });
      owned.delete(p);
    }
    taken.set(i, owned);
  });
  if (conflicts.length > 0 && !req.force) return { conflicts };

  const base = live ? structuredClone(live) : ({ metadata: {} } as KubeObject);
  const merged = mergeInto(scope, base, config, '') as KubeObject;
  // What this manager applied before and dropped now goes, unless another manager owns it.
  if (mine >= 0) {
    const others = new Set<string>();
    entries.forEach((e, i) => {
      if (i !== mine && sameScope(e, scope.subresource)) for (const p of taken.get(i) ?? entrySet(e)) others.add(p);
    });
    const dropped = [...entrySet(entries[mine]!)].filter((p) => !applied.has(p) && !others.has(p));
    // Whole list items first (found by their keys, so order does not matter), then single fields.
    const items = dropped.filter((p) => p.endsWith('"."]')).map((p) => JSON.stringify((JSON.parse(p) as string[]).slice(0, -1)));
    for (const p of items) removeAt(merged, p);
    for (const p of dropped) if (!p.endsWith('"."]')) removeAt(merged, p);
  }
  const next: ManagedFieldsEntry[] = entries.map((e, i) => (taken.has(i) && req.force ? withSet(e, taken.get(i)!) : e));
  const entry: ManagedFieldsEntry = {
    manager,
    operation: 'Apply',
    apiVersion: req.apiVersion,
    time: req.now,
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(applied),
    ...(scope.subresource ? { subresource: scope.subresource } : {}),
  };
  const unchanged = mine >= 0 && deepEqual(entries[mine]!.fieldsV1, entry.fieldsV1) && live && deepEqual({ ...merged, metadata: { ...merged.metadata, managedFields: undefined } }, { ...live, metadata: { ...live.metadata, managedFields: undefined } });
  if (mine >= 0) next[mine] = unchanged ? entries[mine]! : entry;
  else next.push(entry);
  merged.metadata.managedFields = next.filter((e) => Object.keys(e.fieldsV1).length > 0);
  return { object: merged };
}

export interface UpdateRequest {
  scope: FieldScope;
  old: KubeObject | undefined;
  next: KubeObject;
  manager: string;
  apiVersion: string;
  now: string;
}

/** managedFields after a create, update or patch by `manager` (operation Update). */
export function managedFieldsAfterUpdate(req: UpdateRequest): ManagedFieldsEntry[] {
  const { scope, old, next, manager } = req;
  const entries = readManagedFields(old);
  const before = old ? fieldSetOf(scope, old) : new Set<string>();
  const after = fieldSetOf(scope, next);
  const changed = new Set([...after].filter((p) => !before.has(p) || (!p.endsWith('"."]') && !deepEqual(valueAt(old, p), valueAt(next, p)))));
  const removed = [...before].some((p) => !after.has(p));
  if (changed.size === 0 && !removed) return entries;
  const out: ManagedFieldsEntry[] = [];
  let found = false;
  for (const e of entries) {
    if (!sameScope(e, scope.subresource)) {
      out.push(e);
      continue;
    }
    const set = new Set([...entrySet(e)].filter((p) => after.has(p)));
    if (e.manager === manager && e.operation === 'Update') {
      found = true;
      for (const p of changed) set.add(p);
      out.push({ ...withSet(e, set), time: req.now, apiVersion: req.apiVersion });
    } else {
      for (const p of changed) set.delete(p);
      out.push(withSet(e, set));
    }
  }
  if (!found && changed.size > 0) {
    out.push({
      manager,
      operation: 'Update',
      apiVersion: req.apiVersion,
      time: req.now,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(changed),
      ...(scope.subresource ? { subresource: scope.subresource } : {}),
    });
  }
  return out.filter((e) => Object.keys(e.fieldsV1).length > 0);
}
