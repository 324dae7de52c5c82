// RFC 6902 JSON Patch over plain JSON values. Works on a deep copy, so a failing operation never
// leaves a half-applied document behind.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class PatchError extends Error {}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function arrayIndex(arr: Json[], token: string, forInsert: boolean): number {
  if (token === '-' && forInsert) return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new PatchError(`invalid array index "${token}"`);
  const i = Number(token);
  if (i > arr.length || (!forInsert && i === arr.length)) throw new PatchError(`array index ${i} out of bounds`);
  return i;
}

function parentOf(doc: Json, tokens: string[], pointer: string): Json {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false)]!;
    else if (isObject(cur) && t in cur) cur = cur[t]!;
    else throw new PatchError(`doc is missing path: "${pointer}"`);
  }
  return cur;
}

function getAt(doc: Json, pointer: string): Json {
  let cur: Json = doc;
  for (const t of parsePointer(pointer)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false)]!;
    else if (isObject(cur) && t in cur) cur = cur[t]!;
    else throw new PatchError(`doc is missing path: "${pointer}"`);
  }
  return cur;
}

function add(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new PatchError(`doc is missing path: "${pointer}"`);
  return doc;
}

function remove(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchError('cannot remove the whole document');
  const parent = parentOf(doc, tokens, pointer);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
  else if (isObject(parent) && last in parent) delete parent[last];
  else throw new PatchError(`unable to remove nonexistent key: ${last}: missing value`);
  return doc;
}

function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: Json | undefined): Json | undefined {
  if (Array.isArray(v)) return v.map((x) => canonical(x) as Json);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k]) as Json]));
  return v;
}

export function applyJsonPatch(document: Json, patch: unknown): Json {
  if (!Array.isArray(patch)) throw new PatchError('a JSON patch must be an array of operations');
  let doc = structuredClone(document);
  for (const raw of patch as unknown[]) {
    if (!raw || typeof raw !== 'object') throw new PatchError('each JSON patch operation must be an object');
    const op = raw as Operation;
    if (typeof op.path !== 'string') throw new PatchError(`operation "${String(op.op)}" is missing "path"`);
    switch (op.op) {
      case 'add':
        if (!('value' in op)) throw new PatchError('operation "add" is missing "value"');
        doc = add(doc, op.path, structuredClone(op.value as Json));
        break;
      case 'remove':
        doc = remove(doc, op.path);
        break;
      case 'replace':
        if (!('value' in op)) throw new PatchError('operation "replace" is missing "value"');
        getAt(doc, op.path);
        if (op.path === '') doc = structuredClone(op.value as Json);
        else doc = add(remove(doc, op.path), op.path, structuredClone(op.value as Json));
        break;
      case 'move': {
        if (typeof op.from !== 'string') throw new PatchError('operation "move" is missing "from"');
        const value = getAt(doc, op.from);
        doc = add(remove(doc, op.from), op.path, value);
        break;
      }
      case 'copy': {
        if (typeof op.from !== 'string') throw new PatchError('operation "copy" is missing "from"');
        doc = add(doc, op.path, structuredClone(getAt(doc, op.from)));
        break;
      }
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value)) throw new PatchError(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw new PatchError(`unexpected kind of operation: ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}
