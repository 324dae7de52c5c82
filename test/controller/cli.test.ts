// The front door: the playground serves real TCP through a simulated load balancer, `plan` prints
// changes without making any, the health endpoints answer, and a bad setting exits non-zero.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../src/apiserver/index.js';
import { kubeconfigText } from '../../src/apiserver/kubeconfigText.js';
import { planAll } from '../../src/cli/planCommand.js';
import { startPlayground, type Playground } from '../../src/cli/playgroundCommand.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createNodes, lbService, startSimulatedController, testConfig, waitFor, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { CoreV1Api } from '@kubernetes/client-node';
import { SimulatedCloud } from '../../providers/simulated/cloud.js';
import { createSimulatedProvider } from '../../providers/simulated/index.js';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { timeout: 3_000, agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject)
      .on('timeout', function (this: http.ClientRequest) {
        this.destroy(new Error('timeout'));
      });
  });
}

describe('playground', () => {
  let pg: Playground;
  beforeAll(async () => {
    pg = await startPlayground({ logger: silentLogger() });
  });
  afterAll(async () => {
    await pg?.stop();
  });

  it('gives a kubectl-applied Service an EXTERNAL-IP that forwards to the nodes, and releases it on delete', async () => {
    const apply = await kubectl(pg.api, ['apply', '-f', pg.exampleServicePath]);
    expect(apply.code, apply.stderr).toBe(0);
    const kc = kubeConfigFor(pg.api);
    const [ingress] = await waitForIngress(kc, 'default', 'hello', { timeoutMs: 10_000 });
    const ip = ingress?.ip ?? '';
    expect(ip).toMatch(/^127\.240\.0\./);
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const res = await get(`http://${ip}:8080/`);
        seen.add(res.body.trim());
        return seen.size === 3;
      },
      { message: 'answers from all three nodes', timeoutMs: 10_000 },
    );
    expect([...seen].sort()).toEqual(['served by node-1', 'served by node-2', 'served by node-3']);
    const table = await kubectl(pg.api, ['get', 'service', 'hello']);
    expect(table.stdout).toContain(ip);
    const metrics = await get(`${pg.controller.httpUrl}/metrics`);
    expect(metrics.body).toMatch(/kube_lb_provider_api_calls_total\{provider="simulated",operation="CreateLoadBalancer",mutating="true",outcome="ok"\} 1/);
    expect((await get(`${pg.controller.httpUrl}/healthz`)).status).toBe(200);
    expect((await get(`${pg.controller.httpUrl}/readyz`)).status).toBe(200);

    const del = await kubectl(pg.api, ['delete', 'service', 'hello', '--wait=true', '--timeout=20s']);
    expect(del.code, del.stderr).toBe(0);
    await expect(get(`http://${ip}:8080/`)).rejects.toThrow();
  });
});

describe('plan', () => {
  it('prints each Service plan and changes nothing', async () => {
    const api = await startApiServer({ port: 0 });
    const kc = kubeConfigFor(api);
    const core = kc.makeApiClient(CoreV1Api);
    try {
      await createNodes(core, 2);
      const cloud = new SimulatedCloud({ addressPool: '127.240.0.0/16' });
      const sim = await startSimulatedController({ kubeConfig: kc, cloud });
      await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('existing')) });
      await waitForIngress(kc, 'default', 'existing');
      await sim.controller.stop();
      await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('fresh')) });
      await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('broken', {}, { annotations: { 'kube-lb-provisioner.io/idle-timeout-seconds': 'forever' } })) });
      await createNodes(core, 1, 'late-');
      const writesBefore = api.requests.filter((r) => r.verb !== 'get' && r.verb !== 'list' && r.verb !== 'watch').length;
      const mutatingBefore = cloud.stats().mutating;
      const out = await planAll({
        kubeConfig: kc,
        config: testConfig(),
        logger: silentLogger(),
        createProvider: (entry, deps) => createSimulatedProvider(entry as never, deps, cloud),
      });
      expect(out).toMatch(/^default\/broken \(simulated\): invalid: metadata\.annotations\[kube-lb-provisioner\.io\/idle-timeout-seconds\]: "forever" is not a whole number/m);
      expect(out).toMatch(/^default\/existing \(simulated\): 1 change\n {2}~ registerTargets: register late-1$/m);
      expect(out).toMatch(/^default\/fresh \(simulated\): 1 change\n {2}\+ createLoadBalancer: create load balancer/m);
      expect(cloud.stats().mutating).toBe(mutatingBefore);
      expect(api.requests.filter((r) => r.verb !== 'get' && r.verb !== 'list' && r.verb !== 'watch').length).toBe(writesBefore);
    } finally {
      await api.stop();
    }
  });
  it('plans metal Services from the addresses they already hold, not as new allocations', async () => {
    const api = await startApiServer();
    try {
      const kc = kubeConfigFor(api);
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespacedService({ namespace: 'default', body: lbService('held') });
      await kubectl(api, ['patch', 'service', 'held', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.7","ipMode":"VIP"}]}}}']);
      await core.createNamespacedService({ namespace: 'default', body: lbService('fresh') });
      const out = await planAll({
        kubeConfig: kc,
        config: testConfig({ providers: [{ type: 'metal', pools: [{ name: 'lan', addresses: ['192.0.2.0/28'] }] }] }),
        logger: silentLogger(),
      });
      expect(out).toMatch(/^default\/held \(metal\): up to date\n {4}keepAddress: keep 192\.0\.2\.7/m);
      // The fresh Service must not be offered the held address.
      expect(out).toMatch(/^default\/fresh \(metal\): 1 change\n {2}\+ assignAddress: assign 192\.0\.2\.(?!7\b)\d+/m);
    } finally {
      await api.stop();
    }
  });
});

describe('controller command', () => {
  it('exits non-zero and names the setting when a value is invalid', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--provider', 'simulated', '--cluster-name', 'c', '--workers', '0'], {
      env: { ...process.env, KUBE_LB_LOG_LEVEL: 'loud' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/workers \(flag --workers, env KUBE_LB_WORKERS\): Too small/);
    expect(stderr).toMatch(/logLevel \(flag --log-level, env KUBE_LB_LOG_LEVEL\)/);
  });

  /** Runs the real CLI; resolves with its exit code and everything it printed. */
  async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, stderr, stdout };
  }

  it('start-up failures print one line naming the setting, then exit non-zero: no stack trace', async () => {
    const api = await startApiServer({ port: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'klp-startup-'));
    const good = join(dir, 'kubeconfig');
    await api.writeKubeconfig(good);
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    const refusing = await refusingServer();
    try {
      const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
        ['metrics port in use', ['--kubeconfig', good, '--metrics-address', `127.0.0.1:${port}`], {}, new RegExp(`--metrics-address \\(env KUBE_LB_METRICS_ADDRESS\\): 127\\.0\\.0\\.1:${port} is already in use`)],
        ['unreadable kubeconfig', ['--kubeconfig', join(dir, 'missing')], {}, /--kubeconfig .*missing: cannot be read \(ENOENT/],
        ['unreachable API server', [], { KUBECONFIG: unreachableKubeconfig(dir) }, /cannot reach the API server at http:\/\/127\.0\.0\.1:1 .*check the server in the kubeconfig/],
        ['credentials refused', ['--kubeconfig', rejectedKubeconfig(dir, refusing.url)], {}, /refused the credentials of kubeconfig user "nobody" \(401 Unauthorized\)/],
      ];
      for (const [what, args, env, message] of cases) {
        const { code, stderr } = await run(['controller', '--provider', 'simulated', '--leader-elect', 'false', ...args], { KUBE_LB_METRICS_ADDRESS: '127.0.0.1:0', ...env });
        expect(code, `${what}: ${stderr}`).toBe(1);
        expect(stderr, what).toMatch(message);
        expect(stderr.trim().split('\n'), `${what}: one line`).toHaveLength(1);
        expect(stderr, what).not.toMatch(/\n\s+at /);
      }
    } finally {
      taken.close();
      refusing.close();
      await api.stop();
    }
  });

  it('a speaker given its Pod name without the uid (or the reverse) says so in one line and exits 1', async () => {
    for (const [args, env] of [
      [['--pod-name', 'speaker-x7k2p'], { POD_UID: '' }],
      [['--pod-uid', '0f6e1c1a'], { POD_NAME: '' }],
    ] as const) {
      const { code, stderr } = await run(['speaker', '--node-name', 'node-1', '--kubeconfig', '/nonexistent', ...args], env);
      expect(code, stderr).toBe(1);
      expect(stderr.trim().split('\n')).toEqual(['kube-lb-provisioner: --pod-name and --pod-uid go together (POD_NAME and POD_UID from the downward API): pass both, or neither']);
    }
  });

  it('starts with --provider simulated alone: the cluster name defaults to "kubernetes"', async () => {
    const api = await startApiServer({ port: 0 });
    const dir = mkdtempSync(join(tmpdir(), 'klp-startup-'));
    await api.writeKubeconfig(join(dir, 'kubeconfig'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--provider', 'simulated', '--leader-elect', 'false', '--kubeconfig', join(dir, 'kubeconfig')], {
      env: { ...process.env, KUBE_LB_METRICS_ADDRESS: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('defaulted')) });
      await waitForIngress(kubeConfigFor(api), 'default', 'defaulted', { timeoutMs: 30_000, message: `ingress (output: ${output})` });
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.on('close', resolve));
      await api.stop();
    }
  });
});

function unreachableKubeconfig(dir: string): string {
  const path = join(dir, 'unreachable');
  writeFileSync(path, kubeconfigText('http://127.0.0.1:1', 'admin'));
  return path;
}

/** A kubeconfig for `url` as user "nobody" (the refusing server below answers it 401). */
function rejectedKubeconfig(dir: string, url: string): string {
  const path = join(dir, 'rejected');
  writeFileSync(path, kubeconfigText(url, 'nobody'));
  return path;
}

/** Answers every request as kube-apiserver answers a bad token (the embedded server accepts any token). */
async function refusingServer(): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}
