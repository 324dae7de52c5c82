// Playground nodes behave like nodes: one added with kubectl gets its own loopback address, its
// NodePorts and kube-proxy's health endpoint, and takes traffic; one going NotReady fails its
// health check and gets none; one deleted is gone from the data plane. `plan` against the running
// playground sees its cloud.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAll } from '../../src/cli/planCommand.js';
import { startPlayground, type Playground } from '../../src/cli/playgroundCommand.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { waitFor, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectlOk } from '../support/kube.js';
import { bodyOf, httpFrom, statusOf, UdpClient } from '../support/loopbackClients.js';

let pg: Playground;
let ip = '';

async function bodies(n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(bodyOf(await httpFrom(ip, 8080)));
  return out;
}

beforeAll(async () => {
  pg = await startPlayground({ instance: 2, logger: silentLogger(), healthCheckIntervalMs: 100 });
  await kubectlOk(pg.api, ['apply', '-f', pg.exampleServicePath]);
  ip = (await waitForIngress(kubeConfigFor(pg.api), 'default', 'hello', { timeoutMs: 10_000 }))[0]?.ip ?? '';
});
afterAll(async () => {
  await pg?.stop();
});

describe('playground nodes', () => {
  it('serve the walk-through: each node in turn, kube-proxy health on :10256', async () => {
    await waitFor(async () => new Set(await bodies(3)).size === 3, { message: 'three nodes in turn' });
    for (const n of pg.nodes) expect(bodyOf(await httpFrom(n.ip, 10256, { path: '/healthz' }))).toMatch(/"nodeEligible":true/);
  });

  it('give a Node added with kubectl its own loopback address, NodePorts and health, and send it traffic; deleted, it leaves the load balancer and no request is lost after', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-4' } }));
    const address = await waitFor(async () => (await kubectlOk(pg.api, ['get', 'node', 'node-4', '-o', 'jsonpath={.status.addresses[0].address}'])) || undefined, { message: 'an address for node-4' });
    expect(address).toBe('127.3.0.4');
    expect(await kubectlOk(pg.api, ['get', 'node', 'node-4'])).toMatch(/node-4\s+Ready/);
    await waitFor(async () => statusOf(await httpFrom('127.3.0.4', 10256, { path: '/healthz' })) === 200, { message: 'node-4 health' });
    await waitFor(async () => (await bodies(8)).includes('served by node-4'), { message: 'node-4 taking traffic' });
    expect(await bodies(8)).not.toContainEqual(expect.stringMatching(/^failed/));

    await kubectlOk(pg.api, ['delete', 'node', 'node-4']);
    await waitFor(async () => 'failed' in (await httpFrom('127.3.0.4', 10256, { path: '/healthz' })), { message: 'node-4 sockets closed' });
    // Requests sent to node-4 between its going and its deregistration fail, as with a real node;
    // once the cloud no longer lists it, none is lost.
    const targets = () => pg.provider!.cloud.snapshot().flatMap((lb) => lb.targets.map((t) => t.name));
    await waitFor(async () => !targets().includes('node-4'), { message: 'node-4 out of the load balancer' });
    expect(await bodies(12)).not.toContainEqual(expect.stringMatching(/^failed|served by node-4/));
  });

  it('take a NotReady node out of traffic through the health check, and back when Ready', async () => {
    const setReady = (status: string) =>
      kubectlOk(pg.api, ['patch', 'node', 'node-2', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status, reason: 'Playground', message: 'test' }] } })]);
    await setReady('False');
    await waitFor(async () => 'failed' in (await httpFrom('127.3.0.2', 10256, { path: '/healthz' })), { message: 'node-2 down' });
    // The controller keeps NotReady nodes as targets (upstream); the cloud's health check drops it.
    expect(pg.provider!.cloud.snapshot()[0]?.targets.map((t) => t.name)).toContain('node-2');
    await waitFor(async () => !(await bodies(6)).some((b) => b.includes('node-2') || b.startsWith('failed')), { message: 'node-2 skipped, nothing failing' });
    await setReady('True');
    await waitFor(async () => (await bodies(6)).includes('served by node-2'), { message: 'node-2 back' });
  });

  it('answers kube-proxy /healthz 503 on a node tainted for deletion', async () => {
    await kubectlOk(pg.api, ['taint', 'node', 'node-3', 'ToBeDeletedByClusterAutoscaler=1:NoSchedule']);
    await waitFor(async () => statusOf(await httpFrom('127.3.0.3', 10256, { path: '/healthz' })) === 503, { message: 'node-3 draining' });
    await kubectlOk(pg.api, ['taint', 'node', 'node-3', 'ToBeDeletedByClusterAutoscaler-']);
    await waitFor(async () => (await bodies(6)).includes('served by node-3'), { message: 'node-3 back' });
  });

  it('forward UDP to every node in turn', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'dns' }, spec: { type: 'LoadBalancer', selector: { app: 'dns' }, ports: [{ port: 53, protocol: 'UDP' }] } }));
    const udpIP = (await waitForIngress(kubeConfigFor(pg.api), 'default', 'dns'))[0]?.ip ?? '';
    const seen = new Set<string>();
    await waitFor(
      async () => {
        // Each new client socket is a new flow, so the load balancer picks the next node.
        const client = new UdpClient();
        seen.add((await client.ask(udpIP, 53)) ?? 'no answer');
        client.close();
        return ['served by node-1', 'served by node-2', 'served by node-3'].every((s) => seen.has(s));
      },
      { message: 'UDP answers from all three nodes' },
    );
    await kubectlOk(pg.api, ['delete', 'service', 'dns']);
  });
});

describe('the load balancer', () => {
  it('closes a TCP connection idle past its idle timeout', async () => {
    await kubectlOk(pg.api, ['annotate', 'service', 'hello', 'kube-lb-provisioner.io/idle-timeout-seconds=1']);
    await waitFor(() => pg.provider!.cloud.snapshot()[0]?.idleTimeoutSeconds === 1, { message: 'the idle timeout applied' });
    const socket = net.connect({ host: ip, port: 8080 });
    const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
    await new Promise((resolve) => socket.once('connect', resolve));
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r(false), 10_000))])).toBe(true);
    await kubectlOk(pg.api, ['annotate', 'service', 'hello', 'kube-lb-provisioner.io/idle-timeout-seconds-']);
    await waitFor(() => pg.provider!.cloud.snapshot()[0]?.idleTimeoutSeconds === 350, { message: 'the default idle timeout back' });
  });
});

describe('plan against the running playground', () => {
  it('sees the playground cloud: the walk-through Service is up to date, and plan makes no call that changes it', async () => {
    const config = await loadConfig({ flags: { config: pg.planConfigPath }, env: {} });
    const before = pg.provider!.cloud.stats();
    const out = await planAll({ kubeConfig: kubeConfigFor(pg.api), config, logger: silentLogger() });
    expect(out).toBe('default/hello (simulated): up to date');
    const after = pg.provider!.cloud.stats();
    expect(after.mutating).toBe(before.mutating);
    expect(after.byOperation.DescribeLoadBalancers).toBeGreaterThan(before.byOperation.DescribeLoadBalancers ?? 0);

    await kubectlOk(pg.api, ['annotate', 'service', 'hello', 'kube-lb-provisioner.io/idle-timeout-seconds=forever']);
    const invalid = await planAll({ kubeConfig: kubeConfigFor(pg.api), config, logger: silentLogger() });
    expect(invalid).toMatch(/^default\/hello \(simulated\): invalid: metadata.annotations\[kube-lb-provisioner.io\/idle-timeout-seconds\]/);
    await kubectlOk(pg.api, ['annotate', 'service', 'hello', 'kube-lb-provisioner.io/idle-timeout-seconds-']);
    await waitFor(() => pg.provider!.cloud.snapshot()[0]?.idleTimeoutSeconds === 350, { message: 'the default idle timeout back' });
  });
});
