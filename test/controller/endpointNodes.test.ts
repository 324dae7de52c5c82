// Watch load at scale: the controller caches EndpointSlices only when a provider follows endpoints
// (metal, for Local Services), and then publishes each Local Service's ready-endpoint nodes on the
// Service, writing only when that set changes, so that speakers never watch EndpointSlices.
import { CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { ENDPOINT_NODES_ANNOTATION } from '../../src/controller/ourAnnotations.js';
import type { RunningController } from '../../src/cli/runController.js';
import { createNodes, e2eConfig, lbService, readService, startController, waitFor, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

let api: ApiServerHandle;
let admin: KubeConfig;
let discovery: DiscoveryV1Api;
const controllers: RunningController[] = [];
const merge = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

function slice(service: string, endpoints: Array<[ip: string, node: string, ready: boolean]>, name = `${service}-abc`): V1EndpointSlice {
  return {
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: endpoints.map(([ip, nodeName, ready]) => ({ addresses: [ip], nodeName, conditions: { ready } })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

const annotationOf = async (name: string) => (await readService(admin, 'default', name))?.metadata?.annotations?.[ENDPOINT_NODES_ANNOTATION];
const patchesOf = (user: string, name: string) => api.requests.filter((r) => r.user === user && r.resource === 'services' && r.name === name && r.verb === 'patch' && !r.subresource).length;

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  admin = kubeConfigFor(api);
  discovery = admin.makeApiClient(DiscoveryV1Api);
  await createNodes(admin.makeApiClient(CoreV1Api), 3);
});

afterAll(async () => {
  for (const c of controllers) await c.stop();
  await api?.stop();
});

describe('EndpointSlices', () => {
  it('a controller whose providers do not follow endpoints never lists or watches them', async () => {
    const { controller } = await startController({ kubeConfig: kubeConfigFor(api, 'sim-controller'), config: e2eConfig([{ type: 'simulated', addressPool: '127.248.0.0/24' }]) });
    controllers.push(controller);
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('cloudy', { externalTrafficPolicy: 'Local' })) });
    await waitForIngress(admin, 'default', 'cloudy');
    expect(api.requests.filter((r) => r.user === 'sim-controller' && r.resource === 'endpointslices')).toEqual([]);
    expect(await annotationOf('cloudy')).toBeUndefined();
    await controller.stop();
    controllers.pop();
  });

  it('metal publishes the ready-endpoint nodes of a Local Service, and writes only when the set changes', async () => {
    const user = 'metal-controller';
    const { controller } = await startController({
      kubeConfig: kubeConfigFor(api, user),
      config: e2eConfig([{ type: 'metal', pools: [{ name: 'lan', addresses: ['192.0.2.0/28'] }] }]),
    });
    controllers.push(controller);
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice('local', [['10.1.0.1', 'node-1', true], ['10.1.0.2', 'node-2', false]]) });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('local', { externalTrafficPolicy: 'Local' })) });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('cluster')) });
    await waitForIngress(admin, 'default', 'local');
    await waitForIngress(admin, 'default', 'cluster');
    expect(await annotationOf('local')).toBe('node-1');
    expect(await annotationOf('cluster')).toBeUndefined();
    expect(api.requests.some((r) => r.user === user && r.resource === 'endpointslices' && r.verb === 'watch')).toBe(true);

    // A second endpoint on node-1 changes no node set: no write.
    const before = patchesOf(user, 'local');
    await discovery.replaceNamespacedEndpointSlice({
      namespace: 'default',
      name: 'local-abc',
      body: slice('local', [['10.1.0.1', 'node-1', true], ['10.1.0.3', 'node-1', true], ['10.1.0.2', 'node-2', false]]),
    });
    // node-2's endpoint becomes ready: one write.
    await discovery.replaceNamespacedEndpointSlice({
      namespace: 'default',
      name: 'local-abc',
      body: slice('local', [['10.1.0.1', 'node-1', true], ['10.1.0.3', 'node-1', true], ['10.1.0.2', 'node-2', true]]),
    });
    await waitFor(async () => (await annotationOf('local')) === 'node-1,node-2', { message: 'node-2 published' });
    await controller.resyncNow();
    await waitFor(() => controller.pendingWork() === 0, { message: 'queue drained' });
    expect(patchesOf(user, 'local') - before).toBe(1);

    // Switching to Cluster removes it; the endpoints no longer matter to anyone.
    await admin.makeApiClient(CoreV1Api).patchNamespacedService({ namespace: 'default', name: 'local', body: { spec: { externalTrafficPolicy: 'Cluster' } } }, merge());
    await waitFor(async () => (await annotationOf('local')) === undefined, { message: 'annotation removed for Cluster' });
  });
});
