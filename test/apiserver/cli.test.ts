// `kube-lb-provisioner apiserver` as a user runs it: a free port, a kubeconfig kubectl can use,
// and a clean exit on SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kubectlPath } from '../support/kube.js';

function run(args: string[], kubeconfig: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath, ['--kubeconfig', kubeconfig, '--cache-dir', join(kubeconfig, '..', 'cache'), ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('kube-lb-provisioner apiserver', () => {
  it('serves on a free port, writes a working kubeconfig and stops on SIGTERM', async () => {
    if (!existsSync(kubectlPath)) throw new Error(`kubectl is missing at ${kubectlPath}`);
    const dir = mkdtempSync(join(tmpdir(), 'apiserver-cli-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'apiserver', '--port', '0', '--write-kubeconfig', kubeconfig, '--namespace', 'demo', '--service-cluster-ip-range', '10.96.0.0/16,fd00:10:96::/112', '--log-level', 'warn'], {
      cwd: join(import.meta.dirname, '..', '..'),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!stdout.includes('kubeconfig written')) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`apiserver did not start: ${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const url = /API server listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(stdout);
      expect(url).not.toBeNull();
      expect(Number(url![2])).toBeGreaterThan(0);
      expect(readFileSync(kubeconfig, 'utf8')).toContain(`server: ${url![1]}`);
      const ns = await run(['get', 'ns', '-o', 'name'], kubeconfig);
      expect(ns.stdout).toContain('namespace/demo\n');
      const applied = await run(['create', 'service', 'loadbalancer', 'cli-web', '--tcp=80:8080'], kubeconfig);
      expect(applied.code, applied.stderr).toBe(0);
      const svc = await run(['get', 'svc', 'cli-web'], kubeconfig);
      expect(svc.stdout).toMatch(/^cli-web\s+LoadBalancer\s+10\.\S+\s+<pending>\s+80:3\d{4}\/TCP/m);
      // --service-cluster-ip-range with two ranges makes a dual-stack cluster.
      const patched = await run(['patch', 'svc', 'cli-web', '-p', '{"spec":{"ipFamilyPolicy":"PreferDualStack"}}'], kubeconfig);
      expect(patched.code, patched.stderr).toBe(0);
      const ips = await run(['get', 'svc', 'cli-web', '-o', 'jsonpath={.spec.clusterIPs}'], kubeconfig);
      expect(JSON.parse(ips.stdout)).toEqual([expect.stringMatching(/^10\.96\./), expect.stringMatching(/^fd00:10:96::/)]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
