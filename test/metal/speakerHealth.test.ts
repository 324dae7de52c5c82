// The speaker's /healthz, /readyz and /metrics, served as the CLI serves them (serveSpeakerHealth),
// for an in-process speaker against the embedded API server with in-memory host-network effects.
// A fault proxy in front of the API server makes the speaker's own Lease renewals fail on demand.
import { CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { HealthServer } from '../../src/observability/healthServer.js';
import { silentLogger } from '../../src/observability/logger.js';
import { createSpeakerMetrics, type SpeakerMetrics } from '../../src/observability/speakerMetrics.js';
import { Speaker, speakerLeaseName } from '../../src/speaker/speaker.js';
import { parseSpeakerMetricsAddress, serveSpeakerHealth } from '../../src/speaker/speakerHealth.js';
import { createNodes, waitFor } from '../support/controller.js';
import { kubeConfigFor } from '../support/kube.js';
import { startFaultProxy, type FaultProxy, type InjectedFault } from '../chart/faultProxy.js';
import { MemoryNetEffects } from '../chart/memoryNetEffects.js';
import type { AnnounceReadiness } from '../../src/speaker/announceInterface.js';

const NAMESPACE = 'lb-system';
const VIP = '192.0.2.41';

let api: ApiServerHandle;
let proxy: FaultProxy;
let speaker: Speaker;
let health: HealthServer;
let metrics: SpeakerMetrics;
const effects = new MemoryNetEffects();
/** Fails this speaker's Lease writes while `remaining` > 0. */
const leaseFault: InjectedFault = {
  matches: (method, path) => (method === 'PUT' || method === 'POST') && path.startsWith(`/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases`),
  code: 503,
  reason: 'ServiceUnavailable',
  remaining: 0,
};

async function get(path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${health.url}${path}`);
  return { status: res.status, body: await res.text() };
}

/** A sample's value from Prometheus text, e.g. metric('kube_lb_speaker_ownership_changes_total{change="added"}'). */
async function metric(series: string): Promise<number | undefined> {
  const { body } = await get('/metrics');
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeAll(async () => {
  api = await startApiServer({ namespaces: [NAMESPACE] });
  proxy = await startFaultProxy(api.url, [leaseFault]);
  await createNodes(kubeConfigFor(api).makeApiClient(CoreV1Api), 1);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(api.kubeconfig('speaker').replaceAll(api.url, proxy.url));
  metrics = createSpeakerMetrics();
  speaker = new Speaker({ kubeConfig, nodeName: 'node-1', namespace: NAMESPACE, effects, logger: silentLogger(), renewIntervalMs: 200, lapseMs: 800, refreshIntervalMs: 200, metrics });
  health = await serveSpeakerHealth('127.0.0.1:0', speaker, metrics.registry);
}, 60_000);

afterAll(async () => {
  await speaker?.stop(false).catch(() => undefined);
  await health?.close();
  await proxy?.stop();
  await api?.stop();
});

describe('the speaker health endpoint', () => {
  it('binds a free port when asked for port 0 and says which', () => {
    const port = Number(new URL(health.url).port);
    expect(new URL(health.url).hostname).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
  });

  it('is not ready before its caches sync and its Lease is renewed; ready after; alive throughout', async () => {
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
    await speaker.start();
    await waitFor(async () => (await get('/readyz')).status === 200, { message: '/readyz 200 after start' });
    expect((await get('/healthz')).status).toBe(200);
    expect(await metric('kube_lb_speaker_announced_addresses')).toBe(0);
    expect((await get('/nope')).status).toBe(404);
  });

  it('counts the address it announces once a Service has an ingress IP', async () => {
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP' }] } },
    });
    await core.patchNamespacedServiceStatus(
      { name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: 'VIP' }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor(async () => (await metric('kube_lb_speaker_announced_addresses')) === 1, { message: 'announced-address gauge at 1' });
    expect([...effects.vips]).toEqual([VIP]);
    expect(await metric('kube_lb_speaker_ownership_changes_total{change="added"}')).toBe(1);
    await waitFor(async () => ((await metric('kube_lb_speaker_announcements_total{outcome="ok"}')) ?? 0) >= 1, { message: 'an announcement counted' });
    expect(await metric('kube_lb_speaker_lease_renew_failures_total')).toBe(0);

    // The Service goes: the gauge follows and the removal is counted.
    await core.deleteNamespacedService({ name: 'web', namespace: 'default' });
    await waitFor(async () => (await metric('kube_lb_speaker_announced_addresses')) === 0, { message: 'announced-address gauge back at 0' });
    expect(await metric('kube_lb_speaker_ownership_changes_total{change="removed"}')).toBe(1);
  });

  it('turns unready while it cannot renew its own Lease, stays alive, and recovers', async () => {
    leaseFault.remaining = Number.MAX_SAFE_INTEGER;
    await waitFor(async () => (await get('/readyz')).status === 503, { message: '/readyz 503 while Lease renewals fail' });
    expect((await get('/healthz')).status).toBe(200);
    expect(await metric('kube_lb_speaker_lease_renew_failures_total')).toBeGreaterThan(0);
    leaseFault.remaining = 0;
    await waitFor(async () => (await get('/readyz')).status === 200, { message: '/readyz 200 once renewals succeed again' });
  });

  it('while it cannot announce: unready, holds no address and no Lease; rejoins once it can', async () => {
    const kc = kubeConfigFor(api);
    const core = kc.makeApiClient(CoreV1Api);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const leaseExists = async () =>
      coordination.readNamespacedLease({ name: speakerLeaseName('node-1'), namespace: NAMESPACE }).then(
        () => true,
        (error: unknown) => {
          if ((error as { code?: number }).code === 404) return false;
          throw error;
        },
      );
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web2' }, spec: { type: 'LoadBalancer', selector: { app: 'web2' }, ports: [{ port: 80, protocol: 'TCP' }] } },
    });
    await core.patchNamespacedServiceStatus(
      { name: 'web2', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: 'VIP' }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor(async () => effects.vips.has(VIP), { message: 'the address announced' });
    expect(await metric('kube_lb_speaker_can_announce')).toBe(1);
    expect(await leaseExists()).toBe(true);

    effects.cannotAnnounce = 'interface eth9 does not exist';
    await waitFor(async () => (await get('/readyz')).status === 503, { message: '/readyz 503 while it cannot announce' });
    await waitFor(async () => !(await leaseExists()), { message: 'its Lease deleted' });
    expect(effects.vips.size).toBe(0);
    expect(await metric('kube_lb_speaker_can_announce')).toBe(0);
    expect(await metric('kube_lb_speaker_announced_addresses')).toBe(0);
    // Alive all the same: a restart would not bring the interface back.
    expect((await get('/healthz')).status).toBe(200);
    // It stays out: no renewal brings the Lease back while the interface is missing.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await leaseExists()).toBe(false);

    effects.cannotAnnounce = undefined;
    await waitFor(async () => (await get('/readyz')).status === 200, { message: '/readyz 200 once it can announce again' });
    expect(await leaseExists()).toBe(true);
    await waitFor(async () => effects.vips.has(VIP), { message: 'the address announced again' });
    expect(await metric('kube_lb_speaker_can_announce')).toBe(1);
    await core.deleteNamespacedService({ name: 'web2', namespace: 'default' });
    await waitFor(async () => effects.vips.size === 0, { message: 'the address withdrawn with its Service' });
  });
});

/** In-memory effects whose interface listing can be made to hang, as a wedged `ip` command would. */
class HangingNetEffects extends MemoryNetEffects {
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hang(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }
  override async listVIPs(): Promise<string[]> {
    await this.gate;
    return super.listVIPs();
  }
}

describe('the speaker liveness endpoint', () => {
  it('answers 503 while the evaluation loop is stuck, and 200 again once it moves', async () => {
    const stuck = new HangingNetEffects();
    const kubeConfig = kubeConfigFor(api, 'speaker');
    const own = createSpeakerMetrics();
    const second = new Speaker({ kubeConfig, nodeName: 'node-2', namespace: NAMESPACE, effects: stuck, logger: silentLogger(), renewIntervalMs: 200, lapseMs: 800, refreshIntervalMs: 100, stallMs: 1000, metrics: own });
    const server = await serveSpeakerHealth('127.0.0.1:0', second, own.registry);
    const status = async (path: string) => (await fetch(`${server.url}${path}`)).status;
    try {
      await second.start();
      expect(await status('/healthz')).toBe(200);
      stuck.hang();
      await waitFor(async () => (await status('/healthz')) === 503, { message: '/healthz 503 with the loop stuck' });
      stuck.release();
      await waitFor(async () => (await status('/healthz')) === 200, { message: '/healthz 200 once the loop moves again' });
    } finally {
      stuck.release();
      await second.stop(false);
      await server.close();
    }
  });
});

/** In-memory effects whose readiness check waits for the test, as a slow `ip route get` would at start-up. */
class SlowReadinessEffects extends MemoryNetEffects {
  entered = false;
  private open: (() => void) | undefined;
  private readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  release(): void {
    this.open?.();
  }
  override async readiness(addresses: string[]): Promise<AnnounceReadiness> {
    this.entered = true;
    await this.gate;
    return super.readiness(addresses);
  }
}

describe('the speaker liveness endpoint while it starts', () => {
  it('answers 200 while its first announce check is slow after the caches synced: starting is not a stalled loop', async () => {
    const slow = new SlowReadinessEffects();
    const own = createSpeakerMetrics();
    const third = new Speaker({ kubeConfig: kubeConfigFor(api, 'speaker'), nodeName: 'node-3', namespace: NAMESPACE, effects: slow, logger: silentLogger(), renewIntervalMs: 200, lapseMs: 800, refreshIntervalMs: 100, stallMs: 1000, metrics: own });
    const server = await serveSpeakerHealth('127.0.0.1:0', third, own.registry);
    const status = async (path: string) => (await fetch(`${server.url}${path}`)).status;
    const started = third.start();
    try {
      await waitFor(async () => slow.entered, { message: 'the first announce check under way' });
      // Within stallMs of the sync: start-up counts against the stall clock from there, not from 0.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await status('/healthz')).toBe(200);
      expect(await status('/readyz')).toBe(503);
      slow.release();
      await started;
      await waitFor(async () => (await status('/readyz')) === 200, { message: '/readyz 200 once started' });
    } finally {
      slow.release();
      await started.catch(() => undefined);
      await third.stop(false);
      await server.close();
    }
  });
});

describe('--metrics-address', () => {
  it('takes host:port (port 0 included), and "" or off for no server; refuses the rest', () => {
    expect(parseSpeakerMetricsAddress('0.0.0.0:7473')).toBe('0.0.0.0:7473');
    expect(parseSpeakerMetricsAddress('127.0.0.1:0')).toBe('127.0.0.1:0');
    expect(parseSpeakerMetricsAddress('[::1]:0')).toBe('[::1]:0');
    expect(parseSpeakerMetricsAddress('')).toBeUndefined();
    expect(parseSpeakerMetricsAddress('off')).toBeUndefined();
    for (const bad of ['7473', 'host:', 'host:http', 'host:70000', 'host:-1']) expect(() => parseSpeakerMetricsAddress(bad), bad).toThrow(/not host:port/);
  });
});
