// externalTrafficPolicy: Local for real: three node namespaces and a client on a bridge, a speaker
// per node (the real CLI) and the metal controller against the embedded API server. The test plays
// the EndpointSlice controller's part. Only a node with a ready endpoint of the Service may announce
// its address, so traffic never crosses to another node. The speakers learn those nodes from the
// controller's annotation on the Service and never watch EndpointSlices. Needs root (CI is root).
import { DiscoveryV1Api, type V1EndpointSlice } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningController } from '../../src/cli/runController.js';
import { rankNodes } from '../../src/speaker/announcementOwnership.js';
import { e2eConfig, startController } from '../support/controller.js';
import { kubeConfigFor } from '../support/kube.js';
import { LAN_PREFIX, NODE_PORT, POOL_RANGE, SERVICE_PORT, startSpeakerLab, waitForHolders, waitForSoleAnnouncer, type LabNode, type SpeakerLab } from './l2Lab.js';

const NODES = ['node-a', 'node-b', 'node-c'];
// An address that node-a would win if the endpoints were ignored, so announcing from node-b or
// node-c is the Local rule at work, not the hash's choice.
const VIP = Array.from({ length: 21 }, (_, i) => `${LAN_PREFIX}.${200 + i}`).find((ip) => rankNodes(NODES, ip)[0] === 'node-a')!;
const NAMESPACE = 'default';
const SERVICE = 'local-web';
const SLICE = `${SERVICE}-abcde`;

function slice(endpoints: { nodeName: string; ready: boolean }[]): V1EndpointSlice {
  return {
    metadata: { name: SLICE, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': SERVICE } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e, i) => ({ addresses: [`10.244.0.${10 + i}`], nodeName: e.nodeName, conditions: { ready: e.ready } })),
    ports: [{ port: 8080, protocol: 'TCP' }],
  };
}

describe('metal L2: externalTrafficPolicy Local in network namespaces', () => {
  let env: SpeakerLab;
  let discovery: DiscoveryV1Api;
  let controller: RunningController;

  beforeAll(async () => {
    env = await startSpeakerLab(NODES);
    discovery = env.kc.makeApiClient(DiscoveryV1Api);
    ({ controller } = await startController({
      kubeConfig: kubeConfigFor(env.api, 'controller'),
      config: e2eConfig([{ type: 'metal', pools: [{ name: 'lab', addresses: [POOL_RANGE] }] }]),
    }));
  });

  afterAll(async () => {
    await controller?.stop();
    await env?.destroy();
  });

  const nodeNamed = (name: string): LabNode => env.lab.nodes.find((n) => n.name === name)!;

  async function setEndpoints(endpoints: { nodeName: string; ready: boolean }[]): Promise<void> {
    const current = await discovery.readNamespacedEndpointSlice({ name: SLICE, namespace: NAMESPACE });
    const body = slice(endpoints);
    body.metadata!.resourceVersion = current.metadata?.resourceVersion;
    await discovery.replaceNamespacedEndpointSlice({ name: SLICE, namespace: NAMESPACE, body });
  }

  async function expectAnnouncedBy(node: string): Promise<void> {
    await waitForSoleAnnouncer(env.lab, VIP, node);
    expect(await env.lab.arpResponders(VIP)).toEqual([await env.lab.macOf(nodeNamed(node))]);
    expect(await env.lab.holders(VIP)).toEqual([node]);
  }

  it('announces only from the node with a ready endpoint, follows the endpoint, and goes quiet without one', async () => {
    expect(VIP, 'some pool address ranks node-a first').toBeDefined();
    await discovery.createNamespacedEndpointSlice({ namespace: NAMESPACE, body: slice([{ nodeName: 'node-b', ready: true }]) });
    await env.core.createNamespacedService({
      namespace: NAMESPACE,
      body: {
        metadata: { name: SERVICE, namespace: NAMESPACE },
        spec: {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          loadBalancerIP: VIP,
          selector: { app: SERVICE },
          ports: [{ port: SERVICE_PORT, nodePort: NODE_PORT, protocol: 'TCP' }],
        },
      },
    });

    await expectAnnouncedBy('node-b');

    // The pod moves: its ready endpoint is now on node-c (node-b's endpoint is gone).
    await setEndpoints([{ nodeName: 'node-c', ready: true }]);
    await expectAnnouncedBy('node-c');

    // An endpoint that is not ready does not count: nobody may announce.
    await setEndpoints([{ nodeName: 'node-c', ready: false }]);
    await waitForHolders(env.lab, VIP, []);
    await env.lab.forgetNeighbour(VIP);
    expect(await env.lab.arpResponders(VIP)).toEqual([]);
    expect(await env.lab.curl(VIP)).toBeUndefined();
    expect(await env.lab.holders(VIP)).toEqual([]);

    // A ready endpoint again, on node-b and not ready on node-c: node-b takes it back.
    await setEndpoints([
      { nodeName: 'node-b', ready: true },
      { nodeName: 'node-c', ready: false },
    ]);
    await expectAnnouncedBy('node-b');
    // Only the controller watched EndpointSlices; the speakers (and this test) never did.
    const watchers = new Set(env.api.requests.filter((r) => r.resource === 'endpointslices' && r.verb === 'watch').map((r) => r.user));
    expect([...watchers]).toEqual(['controller']);
  });
});
