// The real `controller` command as a separate process: YAML config, leader election with another
// replica, SIGTERM releasing the lease, and a SIGKILLed leader replaced once its lease expires.
import { CoordinationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { createNodes, lbService, startSimulatedController, testConfig, waitFor, waitForIngress, type SimulatedController } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

let api: ApiServerHandle;
let kc: KubeConfig;
let dir: string;
const children: ChildProcess[] = [];
const replicas: SimulatedController[] = [];

const leaderElection = { enabled: true, namespace: 'kube-system', leaseName: 'process-test', leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 1 };

function startProcess(): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'controller', '--config', join(dir, 'config.yaml'), '--kubeconfig', join(dir, 'kubeconfig')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBE_LB_METRICS_ADDRESS: '127.0.0.1:0' },
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  children.push(child);
  return { child, output: () => output };
}

const holder = async () =>
  (await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'kube-system', name: 'process-test' }).catch(() => undefined))?.spec?.holderIdentity;
const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  await createNodes(kc.makeApiClient(CoreV1Api), 2);
  dir = mkdtempSync(join(tmpdir(), 'klp-process-'));
  await api.writeKubeconfig(join(dir, 'kubeconfig'));
  writeFileSync(
    join(dir, 'config.yaml'),
    [
      'clusterName: process-test',
      'logLevel: info',
      'leaderElection:',
      ...Object.entries(leaderElection).map(([k, v]) => `  ${k}: ${v}`),
      'providers:',
      '  - type: simulated',
      '    addressPool: 127.242.0.0/24',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const r of replicas) await r.controller.stop();
  await api?.stop();
});

describe('controller process and leader election', () => {
  it('SIGTERM finishes and releases the lease; SIGKILL leaves it to expire and the other replica takes over', async () => {
    const first = startProcess();
    const leader = await waitFor(async () => (await holder()) || undefined, { message: `process leads (output: ${first.output()})`, timeoutMs: 30_000 });
    expect(leader).toMatch(/-\d+-[0-9a-f]{6}$/);
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('by-process')) });
    expect((await waitForIngress(kc, 'default', 'by-process'))[0]?.ip).toMatch(/^127\.242\.0\./);

    // An in-process standby replica: it must not act while the process leads.
    const standby = await startSimulatedController({ kubeConfig: kc, identity: 'standby', config: testConfig({ leaderElection }) });
    replicas.push(standby);
    expect(standby.controller.isLeader()).toBe(false);

    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toBe(0);
    expect(first.output()).toMatch(/released the leader lease/);
    await waitFor(() => standby.controller.isLeader(), { message: 'standby takes over after release', timeoutMs: 10_000 });
    await standby.controller.stop();
    replicas.pop();

    // Now a leader that dies without releasing.
    const second = startProcess();
    await waitFor(async () => {
      const h = await holder();
      return h !== undefined && h !== '' && h !== 'standby' && h !== leader ? h : undefined;
    }, { message: 'second process leads', timeoutMs: 30_000 });
    const standby2 = await startSimulatedController({ kubeConfig: kc, identity: 'standby-2', config: testConfig({ leaderElection }) });
    replicas.push(standby2);
    second.child.kill('SIGKILL');
    await exited(second.child);
    expect(standby2.controller.isLeader()).toBe(false);
    await waitFor(() => standby2.controller.isLeader(), { message: 'standby-2 takes over once the lease expires', timeoutMs: 15_000 });
    expect(await holder()).toBe('standby-2');
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('after-crash')) });
    await waitForIngress(kc, 'default', 'after-crash');
  });
});
