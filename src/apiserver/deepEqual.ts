// Structural equality of JSON values, ignoring object key order (clients reorder keys freely) and
// members whose value is undefined (JSON has none; an object we build may carry one): fast-deep-equal
// over the values as JSON would write them.
import equal from 'fast-deep-equal';

export function deepEqual(a: unknown, b: unknown): boolean {
  return equal(withoutUndefined(a), withoutUndefined(b));
}

function withoutUndefined(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(withoutUndefined);
  return Object.fromEntries(
    Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => [k, withoutUndefined(x)]),
  );
}
