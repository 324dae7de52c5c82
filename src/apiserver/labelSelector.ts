// The Kubernetes label-selector grammar (k8s.io/apimachinery/pkg/labels):
//   key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b), key>n, key<n, joined by commas.
import { badRequest } from './apiErrors.js';
import { ownValue } from './ownProperties.js';

export type Requirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'gt' | 'lt'; value: number };

export type LabelSelector = Requirement[];

const keyPattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const valuePattern = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function fail(selector: string, why: string): never {
  throw badRequest(`unable to parse requirement: ${why} (selector: "${selector}")`);
}

function checkKey(selector: string, key: string): string {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  if (!keyPattern.test(key) || name.length > 63) fail(selector, `invalid label key "${key}"`);
  return key;
}

function checkValue(selector: string, value: string): string {
  if (value.length > 63 || !valuePattern.test(value)) fail(selector, `invalid label value: "${value}"`);
  return value;
}

/** Split on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

export function parseLabelSelector(selector: string | undefined): LabelSelector {
  if (selector === undefined || selector.trim() === '') return [];
  const out: LabelSelector = [];
  for (const raw of splitTerms(selector)) {
    const term = raw.trim();
    if (term === '') fail(selector, 'found empty requirement');
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^(\S+?)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(',').map((v) => checkValue(selector, v.trim()));
      out.push({ key: checkKey(selector, m[1]!), op: m[2] as 'in' | 'notin', values });
    } else if ((m = term.match(/^!\s*(\S+)$/))) {
      out.push({ key: checkKey(selector, m[1]!), op: 'notexists' });
    } else if ((m = term.match(/^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/))) {
      const key = checkKey(selector, m[1]!);
      const value = m[3]!.trim();
      if (m[2] === '>' || m[2] === '<') {
        const n = Number(value);
        if (!/^-?\d+$/.test(value)) fail(selector, `for 'Gt', 'Lt' operators, the value must be an integer`);
        out.push({ key, op: m[2] === '>' ? 'gt' : 'lt', value: n });
      } else {
        out.push({ key, op: m[2] === '!=' ? 'notin' : 'in', values: [checkValue(selector, value)] });
      }
    } else if ((m = term.match(/^(\S+)$/))) {
      out.push({ key: checkKey(selector, m[1]!), op: 'exists' });
    } else {
      fail(selector, `unexpected term "${term}"`);
    }
  }
  return out;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  for (const r of selector) {
    const value = ownValue(labels, r.key);
    switch (r.op) {
      case 'exists':
        if (value === undefined) return false;
        break;
      case 'notexists':
        if (value !== undefined) return false;
        break;
      case 'in':
        if (value === undefined || !r.values.includes(value)) return false;
        break;
      case 'notin':
        if (value !== undefined && r.values.includes(value)) return false;
        break;
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^-?\d+$/.test(value)) return false;
        const n = Number(value);
        if (r.op === 'gt' ? !(n > r.value) : !(n < r.value)) return false;
        break;
      }
    }
  }
  return true;
}
