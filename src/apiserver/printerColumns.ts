// additionalPrinterColumns of a custom resource: the JSONPath subset CRDs use (`.a.b`, `.a[0]`,
// `.a[*].b`, `.a[?(@.type=="Ready")].status`, escaped dots in keys) evaluated into Table cells, as
// the apiextensions server's table convertor does: one result is the cell, several are joined by
// commas, none is empty, and `date` columns show an age.
import { ageOf } from './humanDuration.js';
import type { PrinterColumn } from './customResourceVersion.js';

type Step = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; value: string };

function parse(jsonPath: string): Step[] {
  const text = jsonPath.trim().replace(/^\{(.*)\}$/, '$1').replace(/^\$/, '');
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '.') {
      i++;
      let key = '';
      while (i < text.length && text[i] !== '.' && text[i] !== '[') {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        key += text[i++];
      }
      if (key) steps.push({ kind: 'key', key });
    } else if (text[i] === '[') {
      const end = text.indexOf(']', i);
      if (end < 0) break;
      const inner = text.slice(i + 1, end).trim();
      i = end + 1;
      const filter = /^\?\(@\.([\w.]+)\s*==\s*["']?([^"']*)["']?\)$/.exec(inner);
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (filter) steps.push({ kind: 'filter', path: filter[1]!.split('.'), value: filter[2]! });
      else steps.push({ kind: 'key', key: inner.replace(/^['"]|['"]$/g, '') });
    } else i++;
  }
  return steps;
}

function dig(v: unknown, path: string[]): unknown {
  return path.reduce<unknown>((cur, k) => (cur && typeof cur === 'object' && Object.hasOwn(cur, k) ? (cur as Record<string, unknown>)[k] : undefined), v);
}

export function evaluateJsonPath(obj: unknown, jsonPath: string): unknown[] {
  let current: unknown[] = [obj];
  for (const step of parse(jsonPath)) {
    const next: unknown[] = [];
    for (const v of current) {
      if (v === null || typeof v !== 'object') continue;
      if (step.kind === 'key') {
        if (!Array.isArray(v) && Object.hasOwn(v, step.key)) next.push((v as Record<string, unknown>)[step.key]);
      } else if (!Array.isArray(v)) {
        if (step.kind === 'all') next.push(...Object.values(v));
      } else if (step.kind === 'index') {
        const item = v[step.index < 0 ? v.length + step.index : step.index];
        if (item !== undefined) next.push(item);
      } else if (step.kind === 'all') next.push(...v);
      else next.push(...v.filter((item) => String(dig(item, step.path)) === step.value));
    }
    current = next;
  }
  return current.filter((v) => v !== undefined);
}

export function printerCell(obj: unknown, column: PrinterColumn, now: Date): unknown {
  const results = evaluateJsonPath(obj, column.jsonPath);
  if (results.length === 0) return null;
  if (column.type === 'date') return typeof results[0] === 'string' ? ageOf(results[0], now) : null;
  if (results.length === 1) {
    const only = results[0];
    return only !== null && typeof only === 'object' ? JSON.stringify(only) : only;
  }
  return results.map((r) => (r !== null && typeof r === 'object' ? JSON.stringify(r) : String(r))).join(',');
}
