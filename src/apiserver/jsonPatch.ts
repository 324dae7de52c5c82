// RFC 6902 JSON Patch, applied by fast-json-patch (which refuses `__proto__` and
// `constructor/prototype` paths) on a deep copy, so a failing operation never leaves a half-applied
// document behind. Errors are worded as the kube-apiserver's JSON patch library words them.
import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class PatchError extends Error {}

const operations = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** JSON pointer tokens that reach outside the document's own data in JavaScript. */
const hostileTokens = new Set(['__proto__', 'prototype', 'constructor']);

function tokensOf(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Refuse a pointer that walks through a property the document does not own (e.g. `/constructor/x`). */
function assertOwnPath(doc: Json, pointer: string, index: number): void {
  const tokens = tokensOf(pointer);
  let cur: Json | undefined = doc;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '__proto__') throw new PatchError(`operation ${index}: path "${pointer}" names __proto__, which is not allowed`);
    if (cur === null || typeof cur !== 'object') return;
    if (Array.isArray(cur)) {
      cur = /^\d+$/.test(t) ? cur[Number(t)] : undefined;
      continue;
    }
    const own = Object.hasOwn(cur, t);
    // Walking through (not ending on) an inherited property would write outside the document.
    if (!own && i < tokens.length - 1 && hostileTokens.has(t)) throw new PatchError(`doc is missing path: "${pointer}": missing value`);
    cur = own ? cur[t] : undefined;
  }
}

function message(e: unknown, op: { op?: unknown; path?: unknown }): string {
  const name = (e as { name?: string }).name;
  const path = String(op.path);
  switch (name) {
    case 'TEST_OPERATION_FAILED':
      return `testing value ${path} failed: test failed`;
    case 'OPERATION_OP_INVALID':
      return `unexpected kind of operation: ${JSON.stringify(op.op)}`;
    case 'OPERATION_PATH_UNRESOLVABLE':
    case 'OPERATION_PATH_CANNOT_ADD':
    case 'OPERATION_FROM_UNRESOLVABLE':
      return `${String(op.op)} operation does not apply: doc is missing path: "${path}": missing value`;
    case 'OPERATION_VALUE_OUT_OF_BOUNDS':
      return `${String(op.op)} operation does not apply: array index out of bounds: "${path}"`;
    case 'OPERATION_VALUE_REQUIRED':
      return `operation "${String(op.op)}" is missing "value"`;
    case 'OPERATION_PATH_INVALID':
    case 'OPERATION_FROM_REQUIRED':
      return `operation "${String(op.op)}" has an invalid "path" or "from"`;
    default:
      return (e as Error).message.split('\n')[0] ?? 'invalid JSON patch';
  }
}

export function applyJsonPatch(document: Json, patch: unknown): Json {
  if (!Array.isArray(patch)) throw new PatchError('a JSON patch must be an array of operations');
  let doc = structuredClone(document);
  (patch as unknown[]).forEach((raw, index) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new PatchError('each JSON patch operation must be an object');
    const op = raw as { op?: unknown; path?: unknown; from?: unknown; value?: unknown };
    if (typeof op.path !== 'string') throw new PatchError(`operation "${String(op.op)}" is missing "path"`);
    if (typeof op.op !== 'string' || !operations.has(op.op)) throw new PatchError(`unexpected kind of operation: ${JSON.stringify(op.op)}`);
    assertOwnPath(doc, op.path, index);
    if (typeof op.from === 'string') assertOwnPath(doc, op.from, index);
    try {
      doc = jsonPatch.applyOperation(doc, structuredClone(op) as Operation, true, true, true, index).newDocument;
    } catch (e) {
      throw new PatchError(message(e, op));
    }
  });
  return doc;
}
