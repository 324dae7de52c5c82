// metadata.managedFields: which field manager owns which fields, in the FieldsV1 form the real
// server writes (`f:<field>`, `k:{<list-map keys>}`, `v:<set value>`, `.` for a list item itself).
// A field set is held as a Set of JSON-encoded paths; these helpers compute the set of an object,
// read and write FieldsV1, and find, compare or remove the value at a path.
import { applyListType, defaultedKeys } from './applyListTypes.js';
import type { SchemaNode } from './customResourceVersion.js';
import { deepEqual } from './deepEqual.js';
import type { KubeObject } from './objectStore.js';
import { isJsonObject } from './jsonObject.js';

export type FieldPath = string[];
export type FieldSet = Set<string>;

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** Which part of an object a write manages: the main resource (status excluded when it is a subresource) or /status. */
export interface FieldScope {
  storage: string;
  schema: SchemaNode | undefined;
  hasStatus: boolean;
  subresource: string | undefined;
}

type Obj = Record<string, unknown>;
const ownedMetadata = ['labels', 'annotations', 'finalizers', 'ownerReferences'];

function keyOf(item: Obj, keys: string[], path: string): string {
  const defaults = defaultedKeys(path);
  const picked: Obj = {};
  for (const k of [...keys].sort()) picked[k] = Object.hasOwn(item, k) ? item[k] : defaults[k];
  return `k:${JSON.stringify(picked)}`;
}

function walk(scope: FieldScope, value: unknown, path: FieldPath, dotted: string, out: FieldSet): void {
  if (isJsonObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0 && path.length > 0) out.add(JSON.stringify(path));
    for (const k of keys) walk(scope, value[k], [...path, `f:${k}`], dotted ? `${dotted}.${k}` : k, out);
    return;
  }
  if (Array.isArray(value)) {
    const type = applyListType(scope.storage, scope.schema, dotted);
    if (type.kind === 'set') {
      for (const v of value) out.add(JSON.stringify([...path, `v:${JSON.stringify(v)}`]));
    } else if (type.kind === 'map' && value.every(isJsonObject)) {
      for (const item of value as Obj[]) {
        const at = [...path, keyOf(item, type.keys, dotted)];
        out.add(JSON.stringify([...at, '.']));
        for (const k of Object.keys(item)) walk(scope, item[k], [...at, `f:${k}`], `${dotted}.${k}`, out);
      }
    } else out.add(JSON.stringify(path));
    return;
  }
  out.add(JSON.stringify(path));
}

/** The fields an object sets, within the scope's part of it. */
export function fieldSetOf(scope: FieldScope, obj: KubeObject | Obj): FieldSet {
  const out: FieldSet = new Set();
  const status = scope.subresource === 'status';
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (status !== (k === 'status') && (status || scope.hasStatus)) continue;
    if (k === 'metadata') {
      if (!isJsonObject(v)) continue;
      for (const m of ownedMetadata) if (Object.hasOwn(v, m)) walk(scope, v[m], ['f:metadata', `f:${m}`], `metadata.${m}`, out);
      continue;
    }
    walk(scope, v, [`f:${k}`], k, out);
  }
  return out;
}

export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  const root: Obj = {};
  for (const encoded of [...set].sort()) {
    let node = root;
    for (const el of JSON.parse(encoded) as FieldPath) {
      if (!Object.hasOwn(node, el)) Object.defineProperty(node, el, { value: {}, enumerable: true, writable: true, configurable: true });
      node = node[el] as Obj;
    }
  }
  return root;
}

export function fromFieldsV1(fields: unknown): FieldSet {
  const out: FieldSet = new Set();
  const visit = (node: unknown, path: FieldPath): void => {
    if (!isJsonObject(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length > 0) out.add(JSON.stringify(path));
    for (const k of keys) {
      if (k === '.') out.add(JSON.stringify([...path, '.']));
      else visit(node[k], [...path, k]);
    }
  };
  visit(fields, []);
  return out;
}

function matchItem(list: unknown[], el: string, dotted: string): number {
  if (el.startsWith('v:')) {
    const v: unknown = JSON.parse(el.slice(2));
    return list.findIndex((x) => deepEqual(x, v));
  }
  const want = JSON.parse(el.slice(2)) as Obj;
  const defaults = defaultedKeys(dotted);
  return list.findIndex((x) => isJsonObject(x) && Object.entries(want).every(([k, v]) => deepEqual(Object.hasOwn(x, k) ? x[k] : defaults[k], v)));
}

/** The parent container and the step to the value at `path` (undefined when absent). */
function locate(obj: unknown, path: FieldPath): { parent: Obj | unknown[]; step: string | number } | undefined {
  let cur: unknown = obj;
  let dotted = '';
  for (let i = 0; i < path.length; i++) {
    const el = path[i]!;
    let step: string | number;
    if (el.startsWith('f:')) {
      if (!isJsonObject(cur) || !Object.hasOwn(cur, el.slice(2))) return undefined;
      step = el.slice(2);
      dotted = dotted ? `${dotted}.${step}` : step;
    } else if (el.startsWith('k:') || el.startsWith('v:')) {
      if (!Array.isArray(cur)) return undefined;
      step = matchItem(cur, el, dotted);
      if (step < 0) return undefined;
    } else return undefined;
    if (i === path.length - 1 || (i === path.length - 2 && path[i + 1] === '.')) return { parent: cur as Obj | unknown[], step };
    cur = (cur as Record<string | number, unknown>)[step];
  }
  return undefined;
}

export function valueAt(obj: unknown, encoded: string): unknown {
  const path = JSON.parse(encoded) as FieldPath;
  const at = locate(obj, path);
  return at ? (at.parent as Record<string | number, unknown>)[at.step] : undefined;
}

/** Remove the field or list item at `path` from `obj` (in place). */
export function removeAt(obj: unknown, encoded: string): void {
  const at = locate(obj, JSON.parse(encoded) as FieldPath);
  if (!at) return;
  if (Array.isArray(at.parent)) at.parent.splice(at.step as number, 1);
  else delete at.parent[at.step as string];
}

export function readManagedFields(obj: KubeObject | undefined): ManagedFieldsEntry[] {
  const list = obj?.metadata.managedFields;
  return Array.isArray(list) ? (list as ManagedFieldsEntry[]) : [];
}

export const sameScope = (e: ManagedFieldsEntry, subresource: string | undefined): boolean => (e.subresource ?? '') === (subresource ?? '');
