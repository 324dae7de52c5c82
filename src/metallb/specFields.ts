// Reading an unchecked spec (a custom object the API server may have stored under another schema,
// e.g. MetalLB's own CRDs): each reader answers a value or a problem naming the field. Pure.
import { selectorProblem, type LabelSelector } from './labelSelector.js';

export class FieldProblem extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function asRecord(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new FieldProblem(field, 'must be an object');
  return value as Record<string, unknown>;
}

export function optionalString(spec: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = spec[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new FieldProblem(`${field}.${key}`, 'must be a string');
  return v;
}

export function optionalBoolean(spec: Record<string, unknown>, key: string, field: string, fallback: boolean): boolean {
  const v = spec[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new FieldProblem(`${field}.${key}`, 'must be true or false');
  return v;
}

export function optionalInteger(spec: Record<string, unknown>, key: string, field: string, range: [number, number]): number | undefined {
  const v = spec[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) {
    throw new FieldProblem(`${field}.${key}`, `must be an integer from ${range[0]} to ${range[1]}, not ${JSON.stringify(v)}`);
  }
  return v;
}

export function stringList(spec: Record<string, unknown>, key: string, field: string): string[] {
  const v = spec[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FieldProblem(`${field}.${key}`, 'must be a list of strings');
  return v.map((item, i) => {
    if (typeof item !== 'string') throw new FieldProblem(`${field}.${key}[${i}]`, 'must be a string');
    return item;
  });
}

export function selectorList(spec: Record<string, unknown>, key: string, field: string): LabelSelector[] {
  const v = spec[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new FieldProblem(`${field}.${key}`, 'must be a list of label selectors');
  return v.map((item, i) => {
    const at = `${field}.${key}[${i}]`;
    const selector = asRecord(item, at) as LabelSelector;
    const problem = selectorProblem(selector, at);
    if (problem) {
      const [where, ...rest] = problem.split(': ');
      throw new FieldProblem(where!, rest.join(': '));
    }
    return selector;
  });
}
