// Configuration from three sources, highest first: command-line flags, environment variables, the
// YAML file (--config / KUBE_LB_CONFIG); then the schema's defaults. Validated with zod; an invalid
// value raises ConfigError naming the setting and where it can be set.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { controllerConfigSchema, type ControllerConfig } from './schema.js';

type Kind = 'string' | 'number' | 'boolean';

export interface Setting {
  /** Path in the YAML file / ControllerConfig. */
  path: string[];
  /** Commander flag spec; its camel-cased long name is the options key. */
  flag: string;
  env: string;
  kind: Kind;
  description: string;
}

export const settings: Setting[] = [
  { path: ['clusterName'], flag: '--cluster-name <name>', env: 'KUBE_LB_CLUSTER_NAME', kind: 'string', description: 'Names this cluster in every cloud resource it owns (ownership tags). Required for aws and gcp; default "kubernetes" otherwise.' },
  { path: ['workers'], flag: '--workers <n>', env: 'KUBE_LB_WORKERS', kind: 'number', description: 'Concurrent reconcile workers (default 8).' },
  { path: ['resyncPeriodSeconds'], flag: '--resync-period-seconds <s>', env: 'KUBE_LB_RESYNC_PERIOD_SECONDS', kind: 'number', description: 'Drift repair and garbage collection period (default 300, min 10).' },
  { path: ['backoff', 'initialSeconds'], flag: '--backoff-initial-seconds <s>', env: 'KUBE_LB_BACKOFF_INITIAL_SECONDS', kind: 'number', description: 'First retry delay of a failing Service (default 5).' },
  { path: ['backoff', 'maxSeconds'], flag: '--backoff-max-seconds <s>', env: 'KUBE_LB_BACKOFF_MAX_SECONDS', kind: 'number', description: 'Longest retry delay (default 300).' },
  { path: ['leaderElection', 'enabled'], flag: '--leader-elect <bool>', env: 'KUBE_LB_LEADER_ELECT', kind: 'boolean', description: 'Elect one active replica with a Lease (default true).' },
  { path: ['leaderElection', 'namespace'], flag: '--leader-election-namespace <ns>', env: 'KUBE_LB_LEADER_ELECTION_NAMESPACE', kind: 'string', description: 'Namespace of the Lease (default kube-system).' },
  { path: ['leaderElection', 'leaseName'], flag: '--leader-election-lease-name <name>', env: 'KUBE_LB_LEADER_ELECTION_LEASE_NAME', kind: 'string', description: 'Name of the Lease (default kube-lb-provisioner).' },
  { path: ['metricsAddress'], flag: '--metrics-address <host:port>', env: 'KUBE_LB_METRICS_ADDRESS', kind: 'string', description: 'Where /healthz, /readyz and /metrics listen (default 0.0.0.0:8080).' },
  { path: ['logLevel'], flag: '--log-level <level>', env: 'KUBE_LB_LOG_LEVEL', kind: 'string', description: 'trace, debug, info, warn or error (default info).' },
];

/** Shortcut for a one-provider deployment without a file: `--provider simulated`. */
export const providerSetting = { flag: '--provider <type>', env: 'KUBE_LB_PROVIDER', description: 'Provider type when the file lists none: simulated, or aws (region from --region or AWS_REGION); gcp and metal need the YAML file.' };
/** The AWS region of aws entries that name none; without it, AWS_REGION and the rest of the AWS chain. */
export const regionSetting = { flag: '--region <region>', description: 'AWS region for aws providers that set none (default: AWS_REGION, AWS_DEFAULT_REGION, the AWS config file, instance metadata).' };
export const configFileSetting = { flag: '--config <path>', env: 'KUBE_LB_CONFIG', description: 'YAML configuration file (every setting, including providers).' };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function optionKey(flag: string): string {
  const long = flag.split(' ')[0]?.replace(/^--/, '') ?? '';
  return long.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function coerce(raw: string, kind: Kind): unknown {
  // Leave unparseable text as it is, so the schema's message names the setting.
  if (kind === 'number') return raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  if (kind === 'boolean') return /^(true|1|yes)$/i.test(raw) ? true : /^(false|0|no)$/i.test(raw) ? false : raw;
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] ?? ''] = value;
}

function describePath(path: readonly PropertyKey[]): string {
  const dotted = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const setting = settings.find((s) => s.path.join('.') === path.join('.'));
  return setting ? `${dotted} (flag ${setting.flag.split(' ')[0]}, env ${setting.env})` : dotted || '(root)';
}

export interface LoadSources {
  /** Parsed commander options (keys from optionKey). */
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** YAML text, if already read; otherwise read from flags.config / env KUBE_LB_CONFIG. */
  fileText?: string;
}

export async function loadConfig(sources: LoadSources): Promise<ControllerConfig> {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  let raw: Record<string, unknown> = {};
  const path = (flags.config as string | undefined) ?? env[configFileSetting.env];
  let text = sources.fileText;
  if (text === undefined && path) {
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new ConfigError(`config file ${path}: ${(error as Error).message}`);
    }
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      throw new ConfigError(`config file ${path ?? ''}: not valid YAML: ${(error as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`config file ${path ?? ''}: expected a mapping of settings at the top level`);
    }
    raw = (parsed as Record<string, unknown> | null) ?? {};
  }
  for (const s of settings) {
    const fromEnv = env[s.env];
    if (fromEnv !== undefined && fromEnv !== '') setPath(raw, s.path, coerce(fromEnv, s.kind));
  }
  for (const s of settings) {
    const fromFlag = flags[optionKey(s.flag)];
    if (fromFlag !== undefined) setPath(raw, s.path, typeof fromFlag === 'string' ? coerce(fromFlag, s.kind) : fromFlag);
  }
  const providerType = (flags[optionKey(providerSetting.flag)] as string | undefined) ?? env[providerSetting.env];
  if (providerType && (!Array.isArray(raw.providers) || raw.providers.length === 0)) raw.providers = [{ type: providerType }];
  const region = flags[optionKey(regionSetting.flag)];
  if (typeof region === 'string' && Array.isArray(raw.providers)) {
    for (const entry of raw.providers as unknown[]) {
      if (isRecord(entry) && entry.type === 'aws' && entry.region === undefined) entry.region = region;
    }
  }
  return validate(raw);
}

export function validate(raw: unknown): ControllerConfig {
  const result = controllerConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(`invalid configuration:\n${issuesText(result.error)}`);
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `  ${describePath(i.path)}: ${i.message}`).join('\n');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
