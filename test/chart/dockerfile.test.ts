// The image's Dockerfile cannot be built here (no container engine), so this checks what can be
// checked without one: its shape (node:24-slim stages, non-root numeric user, production
// dependencies only), then replays its build: the files the build context sends (after
// charts/Dockerfile.dockerignore) compile with `npm run build`'s tsc, the compiled code imports only
// production dependencies, and the CLI starts with nothing but the production dependency tree.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, matchesGlob, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartDir, repoRoot } from './helmChart.js';

const execFileAsync = promisify(execFile);
const dockerfilePath = join(repoRoot, 'charts', 'Dockerfile');

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({ image, ...(as?.toUpperCase() === 'AS' && name ? { name } : {}), instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${keyword} before the first FROM`);
      stage.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

const packageJson = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('charts/Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(dockerfilePath, 'utf8'));
  const final = stages.at(-1)!;
  const copiesFrom = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'COPY' && i.args.startsWith('--from='));

  it('is multi-stage on node:24-slim', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage.image).toBe('node:24-slim');
  });

  it('runs as a numeric non-root user, the one the chart runs the controller as', () => {
    const users = final.instructions.filter((i) => i.keyword === 'USER');
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    expect(gid).toBeGreaterThan(0);
    const values = parseYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as { controller: { podSecurityContext: { runAsUser: number; runAsGroup: number } } };
    expect(values.controller.podSecurityContext.runAsUser).toBe(uid);
    expect(values.controller.podSecurityContext.runAsGroup).toBe(gid);
  });

  it('ships only production dependencies, the compiled code and package.json', () => {
    const copied = copiesFrom(final).map((i) => i.args);
    const modulesCopy = copied.find((a) => a.includes('node_modules'));
    const fromStage = /--from=(\S+)/.exec(modulesCopy ?? '')?.[1];
    const depsStage = stages.find((s) => s.name === fromStage);
    expect(depsStage, 'node_modules comes from a named stage').toBeDefined();
    const installs = depsStage!.instructions.filter((i) => i.keyword === 'RUN' && /npm ci/.test(i.args));
    expect(installs.length).toBe(1);
    expect(installs[0]!.args).toMatch(/npm ci --omit=dev/);
    // From the build context, the runtime stage takes package.json only: no sources, no lock-step dev tools.
    const contextCopies = final.instructions.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='));
    expect(contextCopies.map((i) => i.args)).toEqual(['package.json ./']);
    expect(final.instructions.some((i) => i.keyword === 'RUN' && /npm (ci|install)/.test(i.args))).toBe(false);
  });

  it('builds with `npm run build` and starts the package bin', () => {
    const build = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && i.args === 'npm run build'));
    expect(build).toBeDefined();
    const entrypoint = final.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    const argv = JSON.parse(entrypoint?.args ?? '[]') as string[];
    expect(argv[0]).toBe('node');
    const bin = Object.values(packageJson.bin)[0]!;
    expect(argv.at(-1)).toBe(`/app/${bin}`);
    // Between them, only node's own options (the CLI start below runs with them: node refuses unknown ones).
    for (const flag of argv.slice(1, -1)) expect(flag).toMatch(/^--[a-z-]+(=\S+)?$/);
    expect(copiesFrom(final).some((i) => i.args === `--from=${build!.name} /app/dist ./dist`)).toBe(true);
  });
});

/** Does charts/Dockerfile.dockerignore send this path (relative to the repo root) to the builder? */
function sentToBuilder(rel: string, patterns: string[]): boolean {
  let included = true;
  const ancestry = rel.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/\/$/, '');
    if (ancestry.some((p) => matchesGlob(p, pattern))) included = negated;
  }
  return included;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe('the image build, replayed without a container engine', () => {
  let work = '';
  const stages = parseDockerfile(readFileSync(dockerfilePath, 'utf8'));
  const patterns = readFileSync(join(repoRoot, 'charts', 'Dockerfile.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'klp-image-'));
    const build = join(work, 'build');
    // The build stage's context COPYs, filtered by the .dockerignore.
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of new Set(sources)) {
      const from = join(repoRoot, source);
      if (!existsSync(from)) throw new Error(`the Dockerfile copies ${source}, which does not exist`);
      const files = statSync(from).isDirectory() ? filesUnder(from) : [from];
      for (const file of files) {
        const rel = relative(repoRoot, file);
        if (!sentToBuilder(rel, patterns)) continue;
        mkdirSync(dirname(join(build, rel)), { recursive: true });
        cpSync(file, join(build, rel));
      }
    }
    // npm ci's result: the repository's installed tree (same lock file).
    symlinkSync(join(repoRoot, 'node_modules'), join(build, 'node_modules'));
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    try {
      await execFileAsync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--sourceMap', 'false'], { cwd: build, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const e = error as { stdout?: string; message: string };
      throw new Error(`npm run build's tsc failed on the build context:\n${e.stdout ?? e.message}`, { cause: error });
    }

    // The runtime stage: dist, package.json, and the production dependency tree only.
    const runtime = join(work, 'runtime');
    cpSync(join(build, 'dist'), join(runtime, 'dist'), { recursive: true });
    cpSync(join(repoRoot, 'package.json'), join(runtime, 'package.json'));
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path.startsWith('node_modules/') || path.slice('node_modules/'.length).includes('node_modules/') || entry.dev) continue;
      const installed = join(repoRoot, path);
      if (!existsSync(installed)) continue; // an optional package for another platform
      mkdirSync(dirname(join(runtime, path)), { recursive: true });
      symlinkSync(installed, join(runtime, path));
    }
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the build context holds no tests, and the build emits the package bin', () => {
    const sent = filesUnder(join(work, 'build')).filter((f) => !f.includes('/node_modules/') && !f.includes('/dist/'));
    expect(sent.some((f) => f.endsWith('.test.ts'))).toBe(false);
    expect(existsSync(join(work, 'build', Object.values(packageJson.bin)[0]!))).toBe(true);
  });

  it('the compiled code imports only Node built-ins and production dependencies', () => {
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    for (const file of filesUnder(join(work, 'build', 'dist')).filter((f) => f.endsWith('.js'))) {
      const text = readFileSync(file, 'utf8');
      const specifiers = [
        ...text.matchAll(/^(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm), // static import/export ... from
        ...text.matchAll(/^import\s*['"]([^'"]+)['"]/gm), // side-effect import
        ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g), // dynamic import of a literal
      ];
      for (const match of specifiers) {
        const specifier = match[1]!;
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
        imported.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    const notProduction = [...imported].filter((name) => !(name in packageJson.dependencies));
    expect(notProduction).toEqual([]);
  });

  it('the CLI starts with the production dependencies alone and the entrypoint\'s node options, and knows its subcommands', async () => {
    const bin = join(work, 'runtime', Object.values(packageJson.bin)[0]!);
    const entrypoint = parseDockerfile(readFileSync(dockerfilePath, 'utf8')).at(-1)!.instructions.find((i) => i.keyword === 'ENTRYPOINT');
    const nodeOptions = (JSON.parse(entrypoint?.args ?? '[]') as string[]).slice(1, -1);
    const { stdout } = await execFileAsync(process.execPath, [...nodeOptions, bin, '--help'], { cwd: join(work, 'runtime'), env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' } });
    expect(stdout).toMatch(/\bcontroller\b/);
    expect(stdout).toMatch(/\bspeaker\b/);
    const run = (args: string[]) => execFileAsync(process.execPath, [...nodeOptions, bin, ...args], { cwd: join(work, 'runtime'), env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' } });
    // The roles the chart runs: the Deployment's `controller --config` and the DaemonSet's `speaker`.
    expect((await run(['controller', '--help'])).stdout).toContain('--config');
    expect((await run(['speaker', '--help'])).stdout).toContain('--interface');
  });
});
