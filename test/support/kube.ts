// Test support: a client-node KubeConfig and a real-kubectl runner for an embedded API server.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ApiServerHandle } from '../../src/apiserver/index.js';

export const kubectlPath = '/usr/bin/kubectl';

export function kubeConfigFor(handle: ApiServerHandle, user = 'admin'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(handle.kubeconfig(user));
  return kc;
}

// One kubeconfig and discovery cache directory per server and user, so kubectl runs stay fast
// and never see another server's cached discovery.
const dirs = new Map<string, { kubeconfig: string; cache: string }>();

function filesFor(handle: ApiServerHandle, user: string): { kubeconfig: string; cache: string } {
  const key = `${handle.url}|${user}`;
  let d = dirs.get(key);
  if (!d) {
    const dir = mkdtempSync(join(tmpdir(), 'kubectl-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, handle.kubeconfig(user), { mode: 0o600 });
    d = { kubeconfig, cache: join(dir, 'cache') };
    dirs.set(key, d);
  }
  return d;
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export async function kubectl(
  handle: ApiServerHandle,
  args: string[],
  opts: { input?: string; user?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  if (!existsSync(kubectlPath)) {
    throw new Error(`kubectl is missing: these tests drive the real kubectl at ${kubectlPath}; install it (e.g. apt-get install kubectl)`);
  }
  const files = filesFor(handle, opts.user ?? 'admin');
  const child = spawn(kubectlPath, ['--kubeconfig', files.kubeconfig, '--cache-dir', files.cache, ...args], {
    env: { ...process.env, KUBECONFIG: files.kubeconfig, HOME: join(files.cache, '..') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? -1));
  });
  clearTimeout(timer);
  return { stdout, stderr, code };
}

/** Runs kubectl and answers its stdout, or fails with its stderr. */
export async function kubectlOk(handle: ApiServerHandle, args: string[], input?: string): Promise<string> {
  const r = await kubectl(handle, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}
