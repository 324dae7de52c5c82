// Timestamps come back the way Go serializes them: metav1.Time with second precision and
// metav1.MicroTime with exactly six fractional digits. kubectl's decoder rejects MicroTime values
// with any other number of digits, and client-node writes JavaScript's millisecond ISO strings.
import { badRequest } from './apiErrors.js';

type Obj = Record<string, unknown>;

const microFields: Record<string, string[][]> = {
  events: [['eventTime'], ['series', 'lastObservedTime']],
  leases: [['spec', 'acquireTime'], ['spec', 'renewTime']],
};

const secondFields: Record<string, string[][]> = {
  events: [['firstTimestamp'], ['lastTimestamp']],
};

function parse(path: string[], value: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(d.getTime())) {
    throw badRequest(`${path.join('.')}: parsing time "${value}" as RFC 3339: cannot parse`);
  }
  return d;
}

function micro(value: string, d: Date): string {
  const frac = /\.(\d+)/.exec(value)?.[1] ?? '';
  const digits = (frac + '000000').slice(0, 6);
  return `${d.toISOString().slice(0, 19)}.${digits}Z`;
}

function rewrite(obj: Obj, path: string[], format: (value: string, d: Date) => string): void {
  let cur: unknown = obj;
  for (const k of path.slice(0, -1)) {
    if (!cur || typeof cur !== 'object') return;
    cur = (cur as Obj)[k];
  }
  if (!cur || typeof cur !== 'object') return;
  const last = path[path.length - 1]!;
  const value = (cur as Obj)[last];
  if (typeof value !== 'string' || value === '') return;
  (cur as Obj)[last] = format(value, parse(path, value));
}

function normalizeConditions(list: unknown): void {
  if (!Array.isArray(list)) return;
  for (const c of list) {
    if (!c || typeof c !== 'object') continue;
    for (const f of ['lastTransitionTime', 'lastHeartbeatTime', 'lastProbeTime', 'lastUpdateTime']) rewrite(c as Obj, [f], (_v, d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  }
}

/** Rewrite the storage's time fields in place into Go's canonical form (400 if unparsable). */
export function normalizeTimes(storage: string, obj: Obj): void {
  for (const p of microFields[storage] ?? []) rewrite(obj, p, micro);
  for (const p of secondFields[storage] ?? []) rewrite(obj, p, (_v, d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z'));
  normalizeConditions((obj.status as Obj | undefined)?.conditions);
}
