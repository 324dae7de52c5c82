// A CRD's structural openAPIV3Schema applied to custom resources, as the apiextensions server does:
// prune fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields), apply
// `default`s, then validate, with errors naming the field path in kube-openapi's words. Validation
// is ajv's; the OpenAPI dialect (nullable, boolean exclusiveMinimum, int-or-string) is translated
// first. CEL rules (x-kubernetes-validations) are not evaluated.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { invalidValue, requiredValue, unsupportedValue, type FieldError } from './apiErrors.js';
import type { SchemaNode } from './customResourceVersion.js';

type JsonSchema = Record<string, unknown>;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, validateFormats: false, discriminator: false });
const compiled = new WeakMap<SchemaNode, ValidateFunction>();

/** The OpenAPI v3.0 node as a JSON schema ajv understands. */
function toJsonSchema(node: SchemaNode, root = false): JsonSchema {
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith('x-kubernetes-') || k === 'description' || k === 'example' || k === 'externalDocs') continue;
    if (k === 'properties' && v && typeof v === 'object') {
      const props: Record<string, JsonSchema> = {};
      for (const [name, child] of Object.entries(v as Record<string, SchemaNode>)) {
        // Root metadata is ObjectMeta, validated by the server itself.
        props[name] = root && name === 'metadata' ? { type: 'object' } : toJsonSchema(child);
      }
      out.properties = props;
    } else if ((k === 'items' || k === 'additionalProperties' || k === 'not') && v && typeof v === 'object') {
      out[k] = toJsonSchema(v as SchemaNode);
    } else if ((k === 'allOf' || k === 'anyOf' || k === 'oneOf') && Array.isArray(v)) {
      out[k] = (v as SchemaNode[]).map((s) => toJsonSchema(s));
    } else if (k === 'exclusiveMinimum' || k === 'exclusiveMaximum') {
      // OpenAPI 3.0: a boolean qualifying minimum/maximum.
      const bound = k === 'exclusiveMinimum' ? 'minimum' : 'maximum';
      if (v === true && typeof node[bound] === 'number') out[k] = node[bound];
    } else if ((k === 'minimum' || k === 'maximum') && node[k === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum'] === true) {
      continue;
    } else {
      out[k] = v;
    }
  }
  // The schema's own anyOf (integer | string with patterns) stays; the type is either.
  if (node['x-kubernetes-int-or-string'] === true) out.type = ['integer', 'string'];
  if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
  delete out.nullable;
  return out;
}

/** Compile a schema once (ajv reports a schema it cannot use by throwing). */
export function compileSchema(schema: SchemaNode): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(toJsonSchema(schema, true));
    compiled.set(schema, fn);
  }
  return fn;
}

function childPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function prune(value: unknown, node: SchemaNode | undefined, path: string, out: string[], mutate: boolean, root: boolean): void {
  if (!node || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => prune(v, node.items, `${path}[${i}]`, out, mutate, false));
    return;
  }
  if (node['x-kubernetes-embedded-resource'] === true && !root) return;
  const obj = value as Record<string, unknown>;
  const props = node.properties;
  const extra = typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
  const preserve = node['x-kubernetes-preserve-unknown-fields'] === true || node.additionalProperties === true;
  for (const key of Object.keys(obj)) {
    if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    const child = props && Object.hasOwn(props, key) ? props[key] : extra;
    if (child) prune(obj[key], child, childPath(path, key), out, mutate, false);
    else if (!preserve) {
      out.push(childPath(path, key));
      if (mutate) delete obj[key];
    }
  }
}

/** Paths of fields the schema does not declare; removed from `obj` when `mutate`. */
export function prunedFields(schema: SchemaNode, obj: unknown, mutate: boolean): string[] {
  const out: string[] = [];
  prune(obj, schema, '', out, mutate, true);
  return out;
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, t) => (/^\d+$/.test(t) ? `${acc}[${t}]` : childPath(acc, t)), '');
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function valueAt(obj: unknown, instancePath: string): unknown {
  let cur = obj;
  for (const t of instancePath.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[t.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function fieldError(e: ErrorObject, obj: unknown): FieldError | undefined {
  const at = fieldPath(e.instancePath);
  const shown = at || '<root>';
  const value = valueAt(obj, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return requiredValue(childPath(at, String(p.missingProperty)));
    case 'type':
      return invalidValue(at, jsonType(value), `${shown} in body must be of type ${Array.isArray(p.type) ? p.type.join(',') : String(p.type)}: "${jsonType(value)}"`);
    case 'enum':
      return unsupportedValue(at, value, (p.allowedValues as unknown[]).map((v) => String(v)));
    case 'minimum':
    case 'exclusiveMinimum':
      return invalidValue(at, value, `${shown} in body should be greater than ${e.keyword === 'minimum' ? 'or equal to ' : ''}${String(p.limit)}`);
    case 'maximum':
    case 'exclusiveMaximum':
      return invalidValue(at, value, `${shown} in body should be less than ${e.keyword === 'maximum' ? 'or equal to ' : ''}${String(p.limit)}`);
    case 'minLength':
      return invalidValue(at, value, `${shown} in body should be at least ${String(p.limit)} chars long`);
    case 'maxLength':
      return invalidValue(at, value, `${shown} in body should be at most ${String(p.limit)} chars long`);
    case 'pattern':
      return invalidValue(at, value, `${shown} in body should match '${String(p.pattern)}'`);
    case 'minItems':
      return invalidValue(at, value, `${shown} in body should have at least ${String(p.limit)} items`);
    case 'maxItems':
      return invalidValue(at, value, `${shown} in body should have at most ${String(p.limit)} items`);
    case 'uniqueItems':
      return invalidValue(at, value, `${shown} in body shouldn't contain duplicates`);
    case 'minProperties':
      return invalidValue(at, value, `${shown} in body should have at least ${String(p.limit)} properties`);
    case 'maxProperties':
      return invalidValue(at, value, `${shown} in body should have at most ${String(p.limit)} properties`);
    case 'multipleOf':
      return invalidValue(at, value, `${shown} in body should be a multiple of ${String(p.multipleOf)}`);
    case 'anyOf':
    case 'oneOf':
    case 'allOf':
    case 'not':
      return invalidValue(at, value, `${shown} in body ${e.message ?? 'is invalid'}`);
    default:
      return invalidValue(at, value, e.message ?? 'is invalid');
  }
}

/** Apply defaults (in place) and validate; field errors in the apiextensions server's words. */
export function validateAgainstSchema(schema: SchemaNode, obj: unknown): FieldError[] {
  const validate = compileSchema(schema);
  if (validate(obj)) return [];
  // int-or-string fields report their failed alternatives too; one error per path and keyword is enough.
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  for (const e of validate.errors ?? []) {
    const key = `${e.instancePath}|${e.keyword}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const fe = fieldError(e, obj);
    if (fe) errors.push(fe);
  }
  return errors;
}
