// Two deployments of ours as real `controller` processes, each serving its own class (neither the
// default), against the embedded API server, beside Services other controllers left behind: a
// class-less one with the shared cleanup finalizer and an ingress (as EKS's or GKE's controller
// leaves it) and one of a vendor's class. Each process serves only its class; neither writes to
// anything else, and a foreign Service being deleted keeps its finalizer for its own controller.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../../src/controller/serviceSelection.js';
import { createNodes, eventsFor, lbService, readService, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { servesClasses, writesToServicesNotServed } from '../support/writeAudit.js';

let api: ApiServerHandle;
let admin: KubeConfig;
let core: CoreV1Api;
let dir: string;
const merge = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const processes: Record<string, { child: ChildProcess; output: () => string; user: string; cls: string }> = {};

function startProcess(which: 'a' | 'b', pool: string): void {
  const user = `controller-${which}`;
  const cls = `example.com/${which}`;
  writeFileSync(join(dir, `${which}.yaml`), ['providers:', '  - type: simulated', `    loadBalancerClass: ${cls}`, `    addressPool: ${pool}`, ''].join('\n'));
  writeFileSync(join(dir, `${which}.kubeconfig`), api.kubeconfig(user));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--config', join(dir, `${which}.yaml`), '--kubeconfig', join(dir, `${which}.kubeconfig`), '--leader-election-lease-name', `ours-${which}`],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBE_LB_METRICS_ADDRESS: '127.0.0.1:0', KUBE_LB_BACKOFF_INITIAL_SECONDS: '0.1' } },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  processes[which] = { child, output: () => output, user, cls };
}

/** A Service as another controller leaves it: the shared finalizer and an ingress it wrote. */
async function leftByAnother(name: string, spec: Record<string, unknown>, ip: string): Promise<void> {
  await core.createNamespacedService({ namespace: 'default', body: lbService(name, spec, { finalizers: [LOAD_BALANCER_CLEANUP_FINALIZER] }) });
  await core.patchNamespacedServiceStatus({ namespace: 'default', name, body: { status: { loadBalancer: { ingress: [{ ip }] } } } }, merge());
}

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  admin = kubeConfigFor(api);
  core = admin.makeApiClient(CoreV1Api);
  dir = mkdtempSync(join(tmpdir(), 'klp-neighbours-'));
  await createNodes(core, 2);
  await leftByAnother('eks-made', {}, '198.51.100.9');
  await leftByAnother('vendor', { loadBalancerClass: 'vendor.example/lb' }, '203.0.113.7');
  startProcess('a', '127.246.0.0/24');
  startProcess('b', '127.247.0.0/24');
});

afterAll(async () => {
  for (const p of Object.values(processes)) {
    if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await new Promise((resolve) => (p.child.exitCode !== null ? resolve(null) : p.child.once('exit', resolve)));
  }
  await api?.stop();
});

describe('two controller processes of different classes beside foreign Services', () => {
  it('each serves its own class', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('svc-a', { loadBalancerClass: 'example.com/a' })) });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('svc-b', { loadBalancerClass: 'example.com/b' })) });
    const timeout = { timeoutMs: 30_000 };
    expect((await waitForIngress(admin, 'default', 'svc-a', { ...timeout, message: `svc-a (a: ${processes.a?.output()})` }))[0]?.ip).toMatch(/^127\.246\./);
    expect((await waitForIngress(admin, 'default', 'svc-b', { ...timeout, message: `svc-b (b: ${processes.b?.output()})` }))[0]?.ip).toMatch(/^127\.247\./);
    await waitForEvent(admin, 'default', 'svc-a', 'EnsuredLoadBalancer');
    await waitForEvent(admin, 'default', 'svc-b', 'EnsuredLoadBalancer');
  });

  it('foreign Services keep their finalizer, ingress and silence, even while being deleted', async () => {
    for (const name of ['eks-made', 'vendor']) expect((await kubectl(api, ['delete', 'svc', name, '--wait=false'])).code).toBe(0);
    // Each process has seen the deletions once the Service it serves reacts to a change made after them.
    for (const which of ['a', 'b'] as const) {
      await core.patchNamespacedService({ namespace: 'default', name: `svc-${which}`, body: { metadata: { labels: { poke: '1' } }, spec: { ports: [{ name: 'http', port: 81, targetPort: 8080, protocol: 'TCP' }] } } }, merge());
      await waitFor(async () => (await eventsFor(admin, 'default', `svc-${which}`)).some((e) => e.reason === 'EnsuredLoadBalancer' && (e.count ?? 1) >= 2), { message: `svc-${which} re-ensured` });
    }
    for (const [name, ip] of [['eks-made', '198.51.100.9'], ['vendor', '203.0.113.7']] as const) {
      const svc = await readService(admin, 'default', name);
      expect(svc?.metadata?.deletionTimestamp, name).toBeDefined();
      expect(svc?.metadata?.finalizers, name).toEqual([LOAD_BALANCER_CLEANUP_FINALIZER]);
      expect(svc?.status?.loadBalancer?.ingress, name).toEqual([{ ip }]);
      expect(await eventsFor(admin, 'default', name), name).toHaveLength(0);
    }
  });

  it('neither process wrote to a Service it does not serve', async () => {
    for (const which of ['a', 'b'] as const) {
      const p = processes[which]!;
      const identity = new RegExp(`^${hostname()}-${p.child.pid}-[0-9a-f]{6}$`);
      expect(writesToServicesNotServed(api, { user: p.user, identity, serves: servesClasses([p.cls], false) }), which).toEqual([]);
      // The audit sees this process's own writes.
      expect(api.requests.some((r) => r.user === p.user && r.resource === 'services' && r.name === `svc-${which}` && r.verb === 'patch'), which).toBe(true);
    }
  });
});
