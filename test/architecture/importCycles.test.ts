// No import cycles in src/ and providers/: neither between files nor between modules (a directory
// of src/ or providers/, or a file directly in providers/). Type-only and lazy imports count too:
// they tie the modules together just the same.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Edges left alone on purpose, each with its reason (none today). */
const KNOWN_EDGES = new Set<string>();

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(rel);
    return rel.endsWith('.ts') && !rel.endsWith('.test.ts') && !rel.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Relative imports and re-exports of a file, static or lazy, resolved to repository paths. */
export function importsOf(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/g), ...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]!);
  return specifiers.map((s) => path.posix.normalize(path.posix.join(path.posix.dirname(file), s)).replace(/\.js$/, '.ts'));
}

function moduleOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'providers' && parts.length === 2) return file;
  return parts.slice(0, 2).join('/');
}

/** Strongly connected components of more than one node (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function importGraph(): { files: Map<string, Set<string>>; modules: Map<string, Set<string>> } {
  const all = [...sourceFiles('src'), ...sourceFiles('providers')];
  const known = new Set(all);
  const files = new Map<string, Set<string>>();
  const modules = new Map<string, Set<string>>();
  for (const file of all) {
    const targets = importsOf(file, fs.readFileSync(path.join(ROOT, file), 'utf8')).filter((t) => known.has(t) && !KNOWN_EDGES.has(`${file} -> ${t}`));
    files.set(file, new Set(targets));
    const from = moduleOf(file);
    if (!modules.has(from)) modules.set(from, new Set());
    for (const t of targets) if (moduleOf(t) !== from) modules.get(from)!.add(moduleOf(t));
  }
  return { files, modules };
}

describe('import structure', () => {
  it('reads static, type-only, re-exported and lazy imports', () => {
    const text = "import type { A } from './a.js';\nexport { B } from '../b.js';\nconst c = await import('./c/index.js');\nimport { z } from 'zod';";
    expect(importsOf('src/x/y.ts', text)).toEqual(['src/x/a.ts', 'src/b.ts', 'src/x/c/index.ts']);
  });

  it('finds a cycle when there is one', () => {
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(graph)).toEqual([['a', 'b', 'c']]);
  });

  it('has no cycle between files', () => {
    expect(cycles(importGraph().files)).toEqual([]);
  });

  it('has no cycle between modules (controller and kube, config and the registry, the registry and each provider)', () => {
    expect(cycles(importGraph().modules)).toEqual([]);
  });
});
