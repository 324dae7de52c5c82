// Runs the real helm binary on the chart and parses what it renders. Shared by the chart tests.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from '../setup/install-helm.js';

const execFileAsync = promisify(execFile);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const chartDir = join(repoRoot, 'charts', 'kube-lb-provisioner');
export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const cloudValuesFiles = ['values-aws.yaml', 'values-gcp.yaml', 'values-metal.yaml'] as const;
export type CloudValuesFile = (typeof cloudValuesFiles)[number];

/**
 * The example files hold no site-specific values (they fail alone, naming what to set), so every
 * render of them adds what a user would supply: fixtures/site-<cloud>.yaml.
 */
export const siteValues: Record<CloudValuesFile, string> = {
  'values-aws.yaml': join(fixturesDir, 'site-aws.yaml'),
  'values-gcp.yaml': join(fixturesDir, 'site-gcp.yaml'),
  'values-metal.yaml': join(fixturesDir, 'site-metal.yaml'),
};

/** The example files, then each one's site values (later files win, as with helm -f). */
export function withSiteValues(...files: CloudValuesFile[]): string[] {
  return [...files, ...files.map((f) => siteValues[f])];
}
export const releaseName = 'klp';
export const releaseNamespace = 'kube-lb-system';

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; never throws for a non-zero exit (tests assert on it). Throws if helm cannot be installed. */
export async function helm(args: string[]): Promise<HelmResult> {
  const binary = ensureHelm();
  try {
    const { stdout, stderr } = await execFileAsync(binary, args, {
      cwd: repoRoot,
      maxBuffer: 32 * 1024 * 1024,
      // A private HOME-like config so the user's helm repos and plugins cannot change the result.
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HELM_CACHE_HOME: join(repoRoot, '.tools', 'helm-home', 'cache'),
        HELM_CONFIG_HOME: join(repoRoot, '.tools', 'helm-home', 'config'),
        HELM_DATA_HOME: join(repoRoot, '.tools', 'helm-home', 'data'),
        KUBECONFIG: join(repoRoot, '.tools', 'helm-home', 'no-kubeconfig'),
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    if (typeof failure.code !== 'number') throw new Error(`could not run ${binary}: ${failure.message}`, { cause: error });
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

export interface RenderOptions {
  /** Values files: names inside the chart directory, or absolute paths. */
  valuesFiles?: readonly string[];
  set?: Record<string, string>;
  namespace?: string;
  /** More helm flags. */
  extraArgs?: readonly string[];
}

function valuesArgs(options: RenderOptions): string[] {
  const args: string[] = [];
  for (const file of options.valuesFiles ?? []) args.push('-f', file.startsWith('/') ? file : join(chartDir, file));
  for (const [key, value] of Object.entries(options.set ?? {})) args.push('--set', `${key}=${value}`);
  args.push(...(options.extraArgs ?? []));
  return args;
}

export function lintChart(options: RenderOptions): Promise<HelmResult> {
  return helm(['lint', chartDir, '--strict', '--namespace', options.namespace ?? releaseNamespace, ...valuesArgs(options)]);
}

export function templateChart(options: RenderOptions): Promise<HelmResult> {
  return helm(['template', releaseName, chartDir, '--namespace', options.namespace ?? releaseNamespace, ...valuesArgs(options)]);
}

/** A rendered Kubernetes object, as plain JSON. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Renders the chart and returns its objects; fails with helm's message if rendering fails. */
export async function renderChart(options: RenderOptions): Promise<Manifest[]> {
  const result = await templateChart(options);
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  const manifests: Manifest[] = [];
  for (const doc of parseAllDocuments(result.stdout)) {
    if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Manifest | null;
    if (value !== null) manifests.push(value);
  }
  return manifests;
}

export function findManifest(manifests: readonly Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
  return found;
}

/**
 * Renders NOTES.txt, which helm template leaves out: a copy of the chart gets one more template, a
 * ConfigMap whose data is NOTES.txt included by its template name.
 */
export async function renderNotes(options: RenderOptions): Promise<string> {
  const copy = mkdtempSync(join(tmpdir(), 'klp-notes-'));
  try {
    cpSync(chartDir, copy, { recursive: true });
    writeFileSync(
      join(copy, 'templates', 'zz-rendered-notes.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\ndata:\n  NOTES.txt: |\n{{ include "kube-lb-provisioner/templates/NOTES.txt" . | indent 4 }}\n',
    );
    const result = await helm([
      'template', releaseName, copy, '--namespace', options.namespace ?? releaseNamespace, '--show-only', 'templates/zz-rendered-notes.yaml',
      ...valuesArgs({ ...options, valuesFiles: (options.valuesFiles ?? []).map((f) => (f.startsWith('/') ? f : join(chartDir, f))) }),
    ]);
    if (result.code !== 0) throw new Error(`rendering NOTES.txt failed:\n${result.stderr}`);
    const doc = parseAllDocuments(result.stdout)[0]?.toJS() as { data: { 'NOTES.txt': string } } | undefined;
    if (!doc) throw new Error('rendering NOTES.txt produced nothing');
    return doc.data['NOTES.txt'];
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
