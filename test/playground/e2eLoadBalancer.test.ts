// The Kubernetes end-to-end LoadBalancer behaviours (k/k test/e2e/network/loadbalancer.go), run
// against the playground with the real kubectl and real traffic on loopback: the simulated cloud
// as a passthrough load balancer, the playground nodes as kube-proxy, the endpoints annotation as
// the pods. The NodePort-less Service served by metal is in metalPlayground.test.ts.
import type { V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlayground, type Playground } from '../../src/cli/playgroundCommand.js';
import { silentLogger } from '../../src/observability/logger.js';
import { readService, waitFor, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectlOk } from '../support/kube.js';
import { bodyOf, httpFrom, statusOf, UdpClient } from '../support/loopbackClients.js';

const FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';
let pg: Playground;
const kc = () => kubeConfigFor(pg.api);
const service = async (name: string) => (await readService(kc(), 'default', name)) as V1Service;
const ingressIP = async (name: string) => (await waitForIngress(kc(), 'default', name, { timeoutMs: 10_000 }))[0]?.ip ?? '';
const patch = (name: string, body: unknown) => kubectlOk(pg.api, ['patch', 'service', name, '--type=merge', '-p', JSON.stringify(body)]);
const annotate = (name: string, endpoints: string) => kubectlOk(pg.api, ['annotate', 'service', name, '--overwrite', `playground.kube-lb-provisioner.io/endpoints=${endpoints}`]);
const nodeIP = (name: string) => pg.nodes.find((n) => n.name === name)?.ip ?? '';

function manifest(name: string, spec: Record<string, unknown>, annotations: Record<string, string> = {}): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name, annotations }, spec: { selector: { app: name }, ...spec } });
}

/** The bodies of `n` requests through ip:port from `from`. */
async function bodies(ip: string, port: number, n: number, from?: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(bodyOf(await httpFrom(ip, port, from ? { from } : {})));
  return out;
}

beforeAll(async () => {
  pg = await startPlayground({ instance: 1, logger: silentLogger(), healthCheckIntervalMs: 100 });
});
afterAll(async () => {
  await pg?.stop();
});

describe('k/k LoadBalancer behaviours against the playground', () => {
  it('switches a TCP Service ClusterIP -> NodePort -> LoadBalancer -> new port -> ClusterIP, keeping the nodePort and the ingress IP', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('mutable', { type: 'ClusterIP', ports: [{ port: 80, targetPort: 8080 }] }));
    await patch('mutable', { spec: { type: 'NodePort' } });
    const nodePort = (await service('mutable')).spec?.ports?.[0]?.nodePort ?? 0;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    await waitFor(async () => bodyOf(await httpFrom(nodeIP('node-2'), nodePort)) === 'served by node-2', { message: 'the NodePort on node-2' });

    await patch('mutable', { spec: { type: 'LoadBalancer' } });
    const ip = await ingressIP('mutable');
    expect((await service('mutable')).spec?.ports?.[0]?.nodePort).toBe(nodePort);
    await waitFor(async () => new Set(await bodies(ip, 80, 6)).size === 3, { message: 'all three nodes through the load balancer' });

    await patch('mutable', { spec: { ports: [{ port: 81, targetPort: 8080, nodePort }] } });
    await waitFor(async () => bodyOf(await httpFrom(ip, 81)).startsWith('served by'), { message: 'the new port' });
    expect(await ingressIP('mutable')).toBe(ip);
    await waitFor(async () => 'failed' in (await httpFrom(ip, 80)), { message: 'the old port closed' });

    await kubectlOk(pg.api, ['patch', 'service', 'mutable', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/type', value: 'ClusterIP' }, { op: 'remove', path: '/spec/ports/0/nodePort' }])]);
    await waitFor(async () => ((await service('mutable')).status?.loadBalancer?.ingress ?? []).length === 0, { message: 'status cleared' });
    await waitFor(async () => 'failed' in (await httpFrom(ip, 81)), { message: 'the address released' });
    await kubectlOk(pg.api, ['delete', 'service', 'mutable']);
  });

  it('switches a UDP Service to LoadBalancer and back, answering through the ingress IP meanwhile', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('udp-mutable', { type: 'NodePort', ports: [{ port: 53, protocol: 'UDP', targetPort: 5353 }] }));
    const nodePort = (await service('udp-mutable')).spec?.ports?.[0]?.nodePort ?? 0;
    await patch('udp-mutable', { spec: { type: 'LoadBalancer' } });
    const ip = await ingressIP('udp-mutable');
    expect((await service('udp-mutable')).spec?.ports?.[0]?.nodePort).toBe(nodePort);
    const client = new UdpClient();
    try {
      expect(await waitFor(() => client.ask(ip, 53), { message: 'a UDP answer' })).toMatch(/^served by node-\d$/);
      await kubectlOk(pg.api, ['patch', 'service', 'udp-mutable', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/type', value: 'ClusterIP' }, { op: 'remove', path: '/spec/ports/0/nodePort' }])]);
      await waitFor(async () => ((await service('udp-mutable')).status?.loadBalancer?.ingress ?? []).length === 0, { message: 'status cleared' });
      await waitFor(async () => (await client.ask(ip, 53, 'x', 200)) === undefined, { message: 'no answer once released' });
    } finally {
      client.close();
    }
    await kubectlOk(pg.api, ['delete', 'service', 'udp-mutable']);
  });

  it('enforces loadBalancerSourceRanges on the client address, as they are opened and closed', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('ranges', { type: 'LoadBalancer', ports: [{ port: 80 }], loadBalancerSourceRanges: ['127.0.0.1/32'] }));
    const ip = await ingressIP('ranges');
    await waitFor(async () => bodyOf(await httpFrom(ip, 80, { from: '127.0.0.1' })).startsWith('served by'), { message: 'the allowed client served' });
    expect(bodyOf(await httpFrom(ip, 80, { from: '127.0.0.9' }))).toMatch(/^failed: /);

    await patch('ranges', { spec: { loadBalancerSourceRanges: ['127.0.0.8/30'] } });
    await waitFor(async () => bodyOf(await httpFrom(ip, 80, { from: '127.0.0.9' })).startsWith('served by'), { message: '127.0.0.9 let in' });
    expect(bodyOf(await httpFrom(ip, 80, { from: '127.0.0.1' }))).toMatch(/^failed: /);

    await kubectlOk(pg.api, ['patch', 'service', 'ranges', '--type=json', '-p', '[{"op":"remove","path":"/spec/loadBalancerSourceRanges"}]']);
    await waitFor(async () => bodyOf(await httpFrom(ip, 80, { from: '127.0.0.1' })).startsWith('served by'), { message: 'everyone let in' });
    expect(bodyOf(await httpFrom(ip, 80, { from: '127.0.0.9' }))).toMatch(/^served by/);
    await kubectlOk(pg.api, ['delete', 'service', 'ranges']);
  });

  it('switches ClientIP session affinity on and off', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('sticky', { type: 'LoadBalancer', ports: [{ port: 80 }], sessionAffinity: 'ClientIP' }));
    const ip = await ingressIP('sticky');
    await waitFor(async () => (await bodies(ip, 80, 1))[0]?.startsWith('served by'), { message: 'served' });
    for (const from of ['127.0.0.1', '127.0.0.2']) expect(new Set(await bodies(ip, 80, 10, from)).size).toBe(1);

    await patch('sticky', { spec: { sessionAffinity: 'None', sessionAffinityConfig: null } });
    await waitFor(async () => new Set(await bodies(ip, 80, 6)).size === 3, { message: 'requests spread once affinity is off' });

    await patch('sticky', { spec: { sessionAffinity: 'ClientIP' } });
    await waitFor(async () => new Set(await bodies(ip, 80, 10)).size === 1, { message: 'one node again once affinity is on' });
    await kubectlOk(pg.api, ['delete', 'service', 'sticky']);
  });

  it('adds the cleanup finalizer with the type and removes it when the type goes', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('finalized', { type: 'LoadBalancer', ports: [{ port: 80 }] }));
    await ingressIP('finalized');
    expect((await service('finalized')).metadata?.finalizers).toContain(FINALIZER);
    await kubectlOk(pg.api, ['patch', 'service', 'finalized', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/type', value: 'ClusterIP' }, { op: 'remove', path: '/spec/ports/0/nodePort' }])]);
    await waitFor(async () => !(await service('finalized')).metadata?.finalizers?.includes(FINALIZER), { message: 'finalizer removed' });
    await patch('finalized', { spec: { type: 'LoadBalancer' } });
    await waitFor(async () => (await service('finalized')).metadata?.finalizers?.includes(FINALIZER), { message: 'finalizer back' });
    await ingressIP('finalized');
    await kubectlOk(pg.api, ['delete', 'service', 'finalized']);
    await waitFor(async () => (await readService(kc(), 'default', 'finalized')) === undefined, { message: 'the Service gone' });
    expect(pg.provider!.cloud.snapshot().filter((lb) => lb.tags['kube-lb-provisioner.io/service'] === 'default/finalized')).toEqual([]);
  });

  it('keeps UDP flowing from one client socket while the endpoint moves to another node (eTP Local)', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('udp-cycle', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 5000, protocol: 'UDP' }] }, { 'playground.kube-lb-provisioner.io/endpoints': 'node-1' }));
    const ip = await ingressIP('udp-cycle');
    const client = new UdpClient();
    try {
      await waitFor(async () => (await client.ask(ip, 5000)) === 'served by node-1', { message: 'node-1 answering' });
      await annotate('udp-cycle', 'node-2');
      await waitFor(async () => (await client.ask(ip, 5000)) === 'served by node-2', { message: 'the same socket answered by node-2' });
      // Settled: every datagram from now on is answered, by node-2.
      for (let i = 0; i < 10; i++) expect(await client.ask(ip, 5000, `n${i}`, 1_000)).toBe('served by node-2');
    } finally {
      client.close();
    }
    await kubectlOk(pg.api, ['delete', 'service', 'udp-cycle']);
  });

  it('with eTP Local only endpoint nodes pass the health check, and every endpoint node gets traffic', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('local', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }, { 'playground.kube-lb-provisioner.io/endpoints': 'node-1,node-3,node-3' }));
    const ip = await ingressIP('local');
    const hcnp = (await service('local')).spec?.healthCheckNodePort ?? 0;
    expect(hcnp).toBeGreaterThan(0);
    const health = async (node: string) => {
      const a = await httpFrom(nodeIP(node), hcnp, { path: '/healthz' });
      return 'body' in a ? { status: a.status, local: (JSON.parse(a.body) as { localEndpoints: number }).localEndpoints } : { status: undefined, local: undefined };
    };
    await waitFor(async () => (await health('node-3')).status === 200, { message: 'node-3 healthy' });
    expect(await health('node-1')).toEqual({ status: 200, local: 1 });
    expect(await health('node-2')).toEqual({ status: 503, local: 0 });
    expect(await health('node-3')).toEqual({ status: 200, local: 2 });
    const seen = await waitFor(
      async () => {
        const b = await bodies(ip, 80, 6);
        return new Set(b).size === 2 && b;
      },
      { message: 'both endpoint nodes' },
    );
    expect([...new Set(seen)].sort()).toEqual(['served by node-1', 'served by node-3']);
    expect(await bodies(ip, 80, 12)).not.toContain('served by node-2');
    await kubectlOk(pg.api, ['delete', 'service', 'local']);
  });

  it('does not leak the health-check nodePort: Local -> Cluster frees it, and the cloud checks kube-proxy instead', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('policy', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }));
    await ingressIP('policy');
    const hcnp = (await service('policy')).spec?.healthCheckNodePort ?? 0;
    const cloudCheck = () => pg.provider!.cloud.snapshot().find((lb) => lb.tags['kube-lb-provisioner.io/service'] === 'default/policy')?.healthCheck;
    await waitFor(() => cloudCheck()?.port === hcnp, { message: 'the cloud checking the healthCheckNodePort' });
    await waitFor(async () => statusOf(await httpFrom(nodeIP('node-1'), hcnp, { path: '/healthz' })) === 200, { message: 'node-1 answering on it' });

    await patch('policy', { spec: { externalTrafficPolicy: 'Cluster' } });
    await waitFor(async () => (await service('policy')).spec?.healthCheckNodePort === undefined, { message: 'healthCheckNodePort cleared' });
    await waitFor(() => cloudCheck()?.port === 10256 && cloudCheck()?.path === '/healthz', { message: 'the cloud checking :10256/healthz' });
    await waitFor(async () => 'failed' in (await httpFrom(nodeIP('node-1'), hcnp, { path: '/healthz' })), { message: 'nodes no longer listening on it' });
    // Freed: another Service can take that port.
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('taker', { type: 'NodePort', ports: [{ port: 80, nodePort: hcnp }] }));
    expect((await service('taker')).spec?.ports?.[0]?.nodePort).toBe(hcnp);
    await kubectlOk(pg.api, ['delete', 'service', 'taker', 'policy']);
  });
});

describe('the playground API is the real one', () => {
  it('serves kubectl get for the simulated EndpointSlices', async () => {
    await kubectlOk(pg.api, ['apply', '-f', '-'], manifest('listed', { type: 'ClusterIP', ports: [{ port: 80 }] }, { 'playground.kube-lb-provisioner.io/endpoints': '2' }));
    await waitFor(async () => (await kubectlOk(pg.api, ['get', 'endpointslices', '-l', 'kubernetes.io/service-name=listed'])).includes('10.244.1.1,10.244.2.1'), { message: 'two endpoints listed' });
    await kubectlOk(pg.api, ['delete', 'service', 'listed']);
    await waitFor(async () => !(await kubectlOk(pg.api, ['get', 'endpointslices'])).includes('listed-playground'), { message: 'the slice removed with its Service' });
  });
});
