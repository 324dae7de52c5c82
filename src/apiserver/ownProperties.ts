// Property access that sees only an object's own data. Request bodies choose the keys, so a lookup
// such as `shape[key]` must never answer with something inherited from Object.prototype (a key
// `constructor` would find Object itself), and a write must never go through `__proto__`.
import { badRequest } from './apiErrors.js';

export function ownValue<T>(obj: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Define `key` as an own data property, even when it is `__proto__`. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * Refuse a decoded body that carries a `__proto__` key anywhere (JSON.parse and the YAML parser keep
 * it as an own key; much JavaScript downstream, client-node's decoding included, would not).
 */
export function assertNoProtoKeys(value: unknown, path = ''): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertNoProtoKeys(v, `${path}[${i}]`));
    return;
  }
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '__proto__') throw badRequest(`the body of the request has the field "${at}": the key "__proto__" is not allowed`);
    assertNoProtoKeys((value as Record<string, unknown>)[key], at);
  }
}
