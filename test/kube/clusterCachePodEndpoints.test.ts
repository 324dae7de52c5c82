// ClusterCache and Pod endpoints (AWS ip targets), against the embedded API server: EndpointSlices
// are not watched until the first Service needs its Pod endpoints, then they are, with addresses,
// and a change to one reaches the handler.
import { DiscoveryV1Api, type V1EndpointSlice } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { ClusterCache } from '../../src/kube/clusterCache.js';
import { silentLogger } from '../../src/observability/logger.js';
import { kubeConfigFor } from '../support/kube.js';
import { waitFor } from '../support/controller.js';

let api: ApiServerHandle;
beforeAll(async () => {
  api = await startApiServer({ port: 0 });
});
afterAll(async () => {
  await api?.stop();
});

const slice = (ready: boolean): V1EndpointSlice => ({
  metadata: { name: 'web-x1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: [{ addresses: ['10.0.1.5'], nodeName: 'n1', conditions: { ready, terminating: !ready } }],
});

describe('ClusterCache Pod endpoints', () => {
  it('watches no EndpointSlice until followPodEndpoints, then serves their Pod endpoints and follows changes', async () => {
    const kc = kubeConfigFor(api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice(true) });
    const changed: string[] = [];
    const cache = new ClusterCache(kc, { serviceChanged: () => undefined, nodesChanged: () => undefined, endpointsChanged: (ns, name) => changed.push(`${ns}/${name}`) }, { logger: silentLogger() });
    cache.start();
    await cache.waitForSync();
    try {
      expect(cache.podEndpoints('default', 'web')).toBeUndefined();
      expect(changed).toEqual([]);

      cache.followPodEndpoints();
      await waitFor(async () => cache.podEndpoints('default', 'web') !== undefined, { timeoutMs: 10_000, message: 'slices synced' });
      expect(cache.podEndpoints('default', 'web')).toEqual([{ address: '10.0.1.5', ready: true, terminating: false, nodeName: 'n1', ports: { http: 8080 } }]);
      expect(changed).toContain('default/web');

      await discovery.replaceNamespacedEndpointSlice({ name: 'web-x1', namespace: 'default', body: slice(false) });
      await waitFor(async () => cache.podEndpoints('default', 'web')?.[0]?.terminating === true, { timeoutMs: 10_000, message: 'the terminating endpoint seen' });
    } finally {
      await cache.stop();
    }
  });
});
