// Secrets as the kube-apiserver keeps them: `data` values are base64, `stringData` is a write-only
// convenience merged into `data` (winning over it) and never stored, `type` defaults to Opaque and
// is immutable, and an immutable Secret keeps its data.
import { forbiddenField, invalidValue, type FieldError } from './apiErrors.js';
import type { KubeObject } from './objectStore.js';

const secretKey = /^[-._a-zA-Z0-9]+$/;
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const maxSecretBytes = 1024 * 1024;

function keyError(field: string, k: string): FieldError | undefined {
  if (secretKey.test(k) && k !== '.' && k !== '..' && !k.startsWith('..') && k.length <= 253) return undefined;
  return invalidValue(
    `${field}[${k}]`,
    k,
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  );
}

/** Merge stringData into data, default the type, validate; in place. */
export function admitSecret(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const data = (obj.data ?? {}) as Record<string, unknown>;
  if (typeof data !== 'object' || Array.isArray(data)) return [invalidValue('data', data, 'must be a map')];
  const stringData = obj.stringData as Record<string, unknown> | undefined;
  if (stringData !== undefined && stringData !== null) {
    if (typeof stringData !== 'object' || Array.isArray(stringData)) return [invalidValue('stringData', stringData, 'must be a map')];
    for (const [k, v] of Object.entries(stringData)) {
      if (typeof v !== 'string') errors.push(invalidValue(`stringData[${k}]`, v, 'must be a string'));
      else Object.defineProperty(data, k, { value: Buffer.from(v, 'utf8').toString('base64'), enumerable: true, writable: true, configurable: true });
    }
  }
  delete obj.stringData;
  if (Object.keys(data).length > 0) obj.data = data;
  obj.type ??= 'Opaque';
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    const e = keyError('data', k);
    if (e) errors.push(e);
    if (typeof v !== 'string' || !base64.test(v)) errors.push(invalidValue(`data[${k}]`, '<secret contents redacted>', 'must be a base64-encoded string'));
    else total += Buffer.from(v, 'base64').length;
  }
  if (total > maxSecretBytes) errors.push({ type: 'FieldValueTooLong', field: 'data', value: '', detail: `Too long: must have at most ${maxSecretBytes} bytes` });
  if (old) {
    if (old.type !== obj.type) errors.push(invalidValue('type', obj.type, 'field is immutable'));
    if (old.immutable === true) {
      if (JSON.stringify(old.data ?? {}) !== JSON.stringify(obj.data ?? {})) errors.push(forbiddenField('data', 'field is immutable when `immutable` is set'));
      if (obj.immutable !== true) errors.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
    }
  }
  return errors;
}
