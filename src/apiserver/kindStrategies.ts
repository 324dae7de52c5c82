// Per-kind admission that does not fit the generic verbs: CRDs (defaults, validation, the status the
// server reports), custom resources (their schema: prune, default, validate) and Secrets.
// Each function changes the object in place and returns field errors.
import type { FieldError } from './apiErrors.js';
import { crdStatus, crdStorage, defaultCrd, validateCrd } from './customResourceDefinitions.js';
import type { KubeObject } from './objectStore.js';
import type { ResourceDefinition } from './resourceCatalog.js';
import { admitSecret } from './secretStrategy.js';
import { prunedFields, validateAgainstSchema } from './structuralSchema.js';

function admitCustomResource(def: ResourceDefinition, obj: KubeObject): FieldError[] {
  const schema = def.custom?.schema;
  if (!schema) return [];
  prunedFields(schema, obj, true);
  return validateAgainstSchema(schema, obj);
}

export function admitCreate(def: ResourceDefinition, obj: KubeObject, now: string): FieldError[] {
  if (def.custom) {
    // With a status subresource, status is only written through it.
    if (def.hasStatus) delete obj.status;
    return admitCustomResource(def, obj);
  }
  if (def.storage === crdStorage) {
    defaultCrd(obj);
    const errors = validateCrd(obj);
    if (errors.length === 0) obj.status = crdStatus(obj, undefined, now);
    return errors;
  }
  if (def.storage === 'secrets') return admitSecret(obj);
  return [];
}

/** `next` is the whole new object; `subresource` is 'status' for writes to /status. */
export function admitUpdate(def: ResourceDefinition, next: KubeObject, old: KubeObject, now: string): FieldError[] {
  if (def.custom) return admitCustomResource(def, next);
  if (def.storage === crdStorage) {
    defaultCrd(next);
    const errors = validateCrd(next, old);
    if (errors.length === 0) next.status = crdStatus(next, old, now);
    return errors;
  }
  if (def.storage === 'secrets') return admitSecret(next, old);
  return [];
}

/** Whether a write changed what metadata.generation counts: spec for built-ins, all but metadata/status for custom resources. */
export function generationChanged(def: ResourceDefinition, old: KubeObject, next: KubeObject, equal: (a: unknown, b: unknown) => boolean): boolean {
  if (!def.custom) return !equal(old.spec, next.spec);
  const strip = (o: KubeObject): Record<string, unknown> => {
    const { metadata: _m, status, ...rest } = o;
    return def.hasStatus ? rest : { ...rest, status };
  };
  return !equal(strip(old), strip(next));
}
