// Strategic merge patch, as kubectl apply/edit and controllers send it: maps merge, lists merge by
// their merge key (Service ports by `port`, conditions by `type`), primitive lists such as finalizers
// union, and the directives $patch (replace/delete/merge), $retainKeys, $deleteFromPrimitiveList/<f>
// and $setElementOrder/<f> are honoured. Keys are read and written as own properties only.
import { PatchError, type Json } from './jsonPatch.js';
import { ownValue, setOwn } from './ownProperties.js';
import { listStrategy } from './strategicMergeSchema.js';
import { isJsonObject } from './jsonObject.js';

type JsonObject = { [key: string]: Json };


function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function stripDirectives(value: Json): Json {
  if (Array.isArray(value)) return value.filter((v) => !(isJsonObject<Json>(v) && v.$patch !== undefined && Object.keys(v).length === 1)).map(stripDirectives);
  if (!isJsonObject<Json>(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) continue;
    setOwn(out, k, stripDirectives(v));
  }
  return out;
}

function mergeKeyed(storage: string, path: string, key: string, original: Json[], patch: Json[]): Json[] {
  if (patch.some((p) => isJsonObject<Json>(p) && p.$patch === 'replace')) return stripDirectives(patch) as Json[];
  const out = original.map((o) => structuredClone(o));
  for (const item of patch) {
    if (!isJsonObject<Json>(item)) throw new PatchError(`${path}: expected a list of objects merged by "${key}"`);
    const id = item[key];
    if (id === undefined) throw new PatchError(`${path}: map is missing the merge key "${key}"`);
    const at = out.findIndex((o) => isJsonObject<Json>(o) && o[key] === id);
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    if (at >= 0) out[at] = mergeObject(storage, path, out[at] as JsonObject, item);
    else out.push(mergeObject(storage, path, {}, item));
  }
  return out;
}

function mergePrimitives(original: Json[], patch: Json[]): Json[] {
  if (patch.some((p) => isJsonObject<Json>(p) && p.$patch === 'replace')) return stripDirectives(patch) as Json[];
  const out = [...original];
  for (const v of patch) if (!out.some((o) => o === v)) out.push(v);
  return out;
}

function reorder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const idOf = (v: Json): Json | undefined => (key && isJsonObject<Json>(v) ? v[key] : v);
  const rank = new Map<unknown, number>();
  order.forEach((o, i) => rank.set(idOf(o), i));
  const ranked = list.filter((v) => rank.has(idOf(v))).sort((a, b) => rank.get(idOf(a))! - rank.get(idOf(b))!);
  const rest = list.filter((v) => !rank.has(idOf(v)));
  return [...ranked, ...rest];
}

function mergeObject(storage: string, path: string, original: JsonObject, patch: JsonObject): JsonObject {
  const directive = patch.$patch;
  if (directive === 'replace') return stripDirectives(patch) as JsonObject;
  if (directive !== undefined && directive !== 'merge' && directive !== 'delete') throw new PatchError(`unknown patch type: ${String(directive)}`);
  const out: JsonObject = { ...original };
  const orders: [string, Json[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch') continue;
    if (k === '$retainKeys') {
      if (!Array.isArray(v)) throw new PatchError('$retainKeys must be a list');
      for (const existing of Object.keys(out)) if (!v.includes(existing) && !Object.hasOwn(patch, existing)) delete out[existing];
      continue;
    }
    if (k.startsWith('$setElementOrder/')) {
      if (!Array.isArray(v)) throw new PatchError(`${k} must be a list`);
      orders.push([k.slice('$setElementOrder/'.length), v]);
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      if (!Array.isArray(v)) throw new PatchError(`${k} must be a list`);
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const current = ownValue(out, field);
      if (Array.isArray(current)) setOwn(out, field, current.filter((x) => !v.includes(x)));
      continue;
    }
    if (k.startsWith('$')) throw new PatchError(`unknown patch directive ${k}`);
    const childPath = join(path, k);
    if (v === null) {
      delete out[k];
    } else if (isJsonObject<Json>(v)) {
      const current = ownValue(out, k);
      if (v.$patch === 'delete') delete out[k];
      else setOwn(out, k, mergeObject(storage, childPath, isJsonObject<Json>(current) ? current : {}, v));
    } else if (Array.isArray(v)) {
      const strategy = listStrategy(storage, childPath);
      const existing = ownValue(out, k);
      const current = Array.isArray(existing) ? existing : [];
      if (strategy?.kind === 'mergeByKey') setOwn(out, k, mergeKeyed(storage, childPath, strategy.key, current, v));
      else if (strategy?.kind === 'mergePrimitives') setOwn(out, k, mergePrimitives(current, v));
      else setOwn(out, k, stripDirectives(v));
    } else {
      setOwn(out, k, v);
    }
  }
  for (const [field, order] of orders) {
    const list = ownValue(out, field);
    if (!Array.isArray(list)) continue;
    const strategy = listStrategy(storage, join(path, field));
    setOwn(out, field, reorder(list, order, strategy?.kind === 'mergeByKey' ? strategy.key : undefined));
  }
  return out;
}

/** Apply a strategic merge patch for an object kept in `storage` (selects the list merge keys). */
export function applyStrategicMergePatch(storage: string, original: Json, patch: Json): Json {
  if (!isJsonObject<Json>(patch)) throw new PatchError('a strategic merge patch must be a JSON object');
  if (!isJsonObject<Json>(original)) throw new PatchError('the object to patch is not a JSON object');
  return mergeObject(storage, '', original, patch);
}
