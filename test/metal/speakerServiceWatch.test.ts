// The speaker watches only LoadBalancer Services where the API server can select them by type
// (Kubernetes 1.31+, as the embedded server does), and falls back to watching every Service on an
// older server, which answers the field selector with 400 (played by a proxy). Both ways, a Service
// whose type changes away from LoadBalancer loses its address, and, on a new server, no change to a
// ClusterIP Service ever reaches the speaker.
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { createNodes, waitFor } from '../support/controller.js';
import { kubeConfigFor } from '../support/kube.js';
import { startFaultProxy, type FaultProxy } from '../chart/faultProxy.js';
import { MemoryNetEffects } from '../chart/memoryNetEffects.js';

const NAMESPACE = 'lb-system';

let api: ApiServerHandle;
let core: CoreV1Api;

beforeAll(async () => {
  api = await startApiServer({ namespaces: [NAMESPACE] });
  core = kubeConfigFor(api).makeApiClient(CoreV1Api);
  await createNodes(core, 1);
}, 60_000);

afterAll(async () => {
  await api?.stop();
});

/** Runs a speaker (through `proxyUrl` when given) and counts the Service watch events it receives. */
async function withSpeaker(proxyUrl: string | undefined, body: (s: { effects: MemoryNetEffects; serviceEvents: () => number }) => Promise<void>): Promise<void> {
  const kubeConfig = new KubeConfig();
  const text = api.kubeconfig('speaker');
  kubeConfig.loadFromString(proxyUrl ? text.replaceAll(api.url, proxyUrl) : text);
  const effects = new MemoryNetEffects();
  let events = 0;
  const speaker = new Speaker({
    kubeConfig,
    nodeName: 'node-1',
    namespace: NAMESPACE,
    effects,
    logger: silentLogger(),
    renewIntervalMs: 200,
    lapseMs: 800,
    refreshIntervalMs: 200,
    onWatchEvent: (informer) => {
      if (informer === 'services') events++;
    },
  });
  await speaker.start();
  try {
    await body({ effects, serviceEvents: () => events });
  } finally {
    await speaker.stop(false);
  }
}

async function loadBalancer(name: string, vip: string): Promise<void> {
  await core.createNamespacedService({ namespace: 'default', body: { metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] } } });
  await core.patchNamespacedServiceStatus({ name, namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: vip, ipMode: 'VIP' }] } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

async function toClusterIP(name: string): Promise<void> {
  // As `kubectl patch` does it: the nodePorts go with the type.
  const svc = await core.readNamespacedService({ name, namespace: 'default' });
  svc.spec!.type = 'ClusterIP';
  for (const p of svc.spec!.ports ?? []) delete p.nodePort;
  delete svc.spec!.externalTrafficPolicy;
  await core.replaceNamespacedService({ name, namespace: 'default', body: svc });
}

async function churnClusterIP(name: string, times: number): Promise<void> {
  await core.createNamespacedService({ namespace: 'default', body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }] } } });
  for (let i = 0; i < times; i++) {
    await core.patchNamespacedService({ name, namespace: 'default', body: { metadata: { labels: { round: String(i) } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
}

describe('the speaker\'s Service watch', () => {
  it('on a server that selects by type: no ClusterIP change reaches it; a type change away withdraws the address', async () => {
    await withSpeaker(undefined, async ({ effects, serviceEvents }) => {
      await loadBalancer('lb-new', '192.0.2.51');
      await waitFor(async () => effects.vips.has('192.0.2.51'), { message: 'the address announced' });
      const before = serviceEvents();
      await churnClusterIP('plain-new', 5);
      await core.deleteNamespacedService({ name: 'plain-new', namespace: 'default' });
      await toClusterIP('lb-new');
      await waitFor(async () => !effects.vips.has('192.0.2.51'), { message: 'the address withdrawn after the type change' });
      // Exactly one event since: the LoadBalancer Service leaving the selection (a deletion).
      expect(serviceEvents() - before).toBe(1);
      await core.deleteNamespacedService({ name: 'lb-new', namespace: 'default' });
    });
  });

  it('on an older server (400 for spec.type): watches every Service, and still withdraws on a type change', async () => {
    let refused = 0;
    const proxy: FaultProxy = await startFaultProxy(api.url, [
      {
        matches: (method, path, _user, query) => {
          const hit = method === 'GET' && path === '/api/v1/services' && (query.get('fieldSelector') ?? '').includes('spec.type');
          if (hit) refused++;
          return hit;
        },
        code: 400,
        reason: 'BadRequest',
        remaining: Number.MAX_SAFE_INTEGER,
      },
    ]);
    try {
      await withSpeaker(proxy.url, async ({ effects, serviceEvents }) => {
        expect(refused).toBe(1); // asked once, then never again with the selector
        await loadBalancer('lb-old', '192.0.2.52');
        await waitFor(async () => effects.vips.has('192.0.2.52'), { message: 'the address announced' });
        const before = serviceEvents();
        await churnClusterIP('plain-old', 5);
        await waitFor(async () => serviceEvents() - before >= 6, { message: 'the ClusterIP Service\'s events received (no server-side selection)' });
        await toClusterIP('lb-old');
        await waitFor(async () => !effects.vips.has('192.0.2.52'), { message: 'the address withdrawn after the type change' });
        expect(refused).toBe(1);
        await core.deleteNamespacedService({ name: 'lb-old', namespace: 'default' });
        await core.deleteNamespacedService({ name: 'plain-old', namespace: 'default' });
      });
    } finally {
      await proxy.stop();
    }
  });

  it('refused the Service list (RBAC): start fails naming what to grant, instead of retrying forever', async () => {
    const proxy: FaultProxy = await startFaultProxy(api.url, [
      { matches: (method, path) => method === 'GET' && path === '/api/v1/services', code: 403, reason: 'Forbidden', remaining: Number.MAX_SAFE_INTEGER },
    ]);
    try {
      await expect(withSpeaker(proxy.url, async () => {})).rejects.toThrow(/cannot list Services cluster-wide: forbidden \(403\)\. Grant list and watch on services/);
    } finally {
      await proxy.stop();
    }
  });
});
