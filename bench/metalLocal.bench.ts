// externalTrafficPolicy: Local, its only ready endpoint moving between nodes, in network namespaces
// (root): three node namespaces, a speaker per node (the real CLI), the metal controller against
// the embedded API server. Measured: EndpointSlice written -> the address held by the new node
// alone, median and worst of the trials.
//
// The speakers learn a Local Service's endpoint nodes from the controller's annotation
// (kube-lb-provisioner.io/endpoint-nodes), not from EndpointSlices, so the path is slice -> controller
// -> annotation -> speaker. The reference run, in the same process, is the path the speakers had
// when they watched EndpointSlices themselves: one watch event straight to the speakers (the
// annotation written directly, the controller stopped), then the same announcement.
import { DiscoveryV1Api, PatchStrategy, setHeaderOptions, type V1EndpointSlice } from '@kubernetes/client-node';
import { ENDPOINT_NODES_ANNOTATION } from '../src/controller/ourAnnotations.js';
import { rankNodes } from '../src/speaker/announcementOwnership.js';
import { e2eConfig, startController } from '../test/support/controller.js';
import { kubeConfigFor } from '../test/support/kube.js';
import { LAN_PREFIX, NODE_PORT, POOL_RANGE, SERVICE_PORT, pollUntil, startSpeakerLab, type SpeakerLab } from '../test/metal/l2Lab.js';

const NODES = ['node-a', 'node-b', 'node-c'];
const TRIALS = Number(process.env.METAL_LOCAL_TRIALS ?? 20);
const SERVICE = 'local-web';
const SLICE = `${SERVICE}-abcde`;
// An address node-a would win by the hash: announced from node-b or node-c only by the Local rule.
const VIP = Array.from({ length: 21 }, (_, i) => `${LAN_PREFIX}.${200 + i}`).find((ip) => rankNodes(NODES, ip)[0] === 'node-a')!;

function slice(node: string): V1EndpointSlice {
  return {
    metadata: { name: SLICE, namespace: 'default', labels: { 'kubernetes.io/service-name': SERVICE } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.244.0.10'], nodeName: node, conditions: { ready: true } }],
    ports: [{ port: 8080, protocol: 'TCP' }],
  };
}

/** Moves the endpoint back and forth between node-b and node-c; ms from the write to the new node holding the address alone. */
async function moves(env: SpeakerLab, move: (to: string) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const to = trial % 2 === 0 ? 'node-c' : 'node-b';
    const t0 = performance.now();
    await move(to);
    await pollUntil(async () => (await env.lab.holders(VIP)).join() === to, 20_000, `${VIP} held by ${to} alone`, 10);
    times.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 500));
  }
  return times.sort((a, b) => a - b);
}

const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

export async function run(): Promise<void> {
  const env = await startSpeakerLab(NODES);
  const discovery = env.kc.makeApiClient(DiscoveryV1Api);
  const { controller } = await startController({
    kubeConfig: kubeConfigFor(env.api, 'controller'),
    config: e2eConfig([{ type: 'metal', pools: [{ name: 'lab', addresses: [POOL_RANGE] }] }]),
  });
  let controllerRunning = true;
  try {
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice('node-b') });
    await env.core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: SERVICE, namespace: 'default' },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', loadBalancerIP: VIP, selector: { app: SERVICE }, ports: [{ port: SERVICE_PORT, nodePort: NODE_PORT, protocol: 'TCP' }] },
      },
    });
    await pollUntil(async () => (await env.lab.holders(VIP)).join() === 'node-b', 30_000, `${VIP} announced from node-b`);

    const annotated: number[] = [];
    const viaController = await moves(env, async (to) => {
      const t0 = performance.now();
      await discovery.replaceNamespacedEndpointSlice({ name: SLICE, namespace: 'default', body: slice(to) });
      // The controller's hop: the slice written to the annotation on the Service.
      await pollUntil(async () => (await env.core.readNamespacedService({ name: SERVICE, namespace: 'default' })).metadata?.annotations?.[ENDPOINT_NODES_ANNOTATION] === to, 20_000, 'the endpoint-nodes annotation', 5);
      annotated.push(performance.now() - t0);
    });
    annotated.sort((a, b) => a - b);
    await controller.stop();
    controllerRunning = false;
    const direct = await moves(env, async (to) => {
      await env.core.patchNamespacedService(
        { name: SERVICE, namespace: 'default', body: { metadata: { annotations: { [ENDPOINT_NODES_ANNOTATION]: to } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    });

    console.log(`externalTrafficPolicy Local, the only ready endpoint moved between nodes, ${TRIALS} trials each (speakers in node namespaces):`);
    console.log(`  reference, one watch event straight to the speakers (as when they watched EndpointSlices): median ${fmt(median(direct))}, worst ${fmt(direct.at(-1)!)}`);
    console.log(
      `  EndpointSlice -> controller -> endpoint-nodes annotation -> speakers: median ${fmt(median(viaController))} (${(median(viaController) / median(direct)).toFixed(2)}x the reference), worst ${fmt(viaController.at(-1)!)}; of which slice -> annotation (the controller's hop): median ${fmt(median(annotated))}, worst ${fmt(annotated.at(-1)!)}`,
    );
  } finally {
    if (controllerRunning) await controller.stop();
    await env.destroy();
  }
}
