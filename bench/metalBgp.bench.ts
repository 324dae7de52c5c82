// Metal BGP benchmarks, in network namespaces (root): three FRR speakers peering with a bird2
// router (the lab of test/metal/bgpLab.ts). `npm run bench -- metal` runs it after metal.bench.ts.
// 1. IP assigned (status written) to the route in the router's kernel with all three next-hops,
//    p50/p99 over BGP_BENCH_SERVICES Services (default 100), one after another.
// 2. Node cut off (nftables drop) to its next-hop gone from the router's kernel: with BFD at
//    100 ms x 3, and with the hold timer only (3 s), median and worst of BGP_BENCH_TRIALS (5).
// 3. A change of one advertisement (its communities): BGP sessions reset, counted by FRR (0).
// BGP_BENCH_ASSIGN_ONLY=1 runs only the first measure.
import { setIngress, pollUntil } from '../test/metal/l2Lab.js';
import { BGP_POOL, MD5_PASSWORD, NODE_ASN, ROUTER_ASN, ROUTER_IP, startBgpSpeakerLab, type BgpSpeakerLab } from '../test/metal/bgpLab.js';

const SERVICES = Number(process.env.BGP_BENCH_SERVICES ?? 100);
const TRIALS = Number(process.env.BGP_BENCH_TRIALS ?? 5);
const NODES = ['node-a', 'node-b', 'node-c'];

function objects(bfd: boolean, communities: string[]): string {
  return `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { namespace: metallb-system, name: bench }
spec: { addresses: ["${BGP_POOL}"] }
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: { namespace: metallb-system, name: fast }
spec: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { namespace: metallb-system, name: tor }
spec: { myASN: ${NODE_ASN}, peerASN: ${ROUTER_ASN}, peerAddress: ${ROUTER_IP}, password: ${MD5_PASSWORD}, holdTime: 3s${bfd ? ', bfdProfile: fast' : ''} }
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: { namespace: metallb-system, name: bench }
spec: { communities: [${communities.map((c) => `"${c}"`).join(', ')}] }
`;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

async function withLab<T>(bfd: boolean, body: (env: BgpSpeakerLab) => Promise<T>): Promise<T> {
  const passwords = Object.fromEntries(NODES.map((n) => [n, MD5_PASSWORD]));
  const env = await startBgpSpeakerLab(NODES, { passwords, bfd, bfdTiming: { intervalMs: 100, multiplier: 3 }, holdSeconds: 3 }, objects(bfd, ['64500:1']));
  try {
    return await body(env);
  } finally {
    await env.destroy();
  }
}

async function assignToRoute(env: BgpSpeakerLab): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`;
    const ip = `203.0.113.${10 + (i % 240)}`;
    await env.core.createNamespacedService({ namespace: 'default', body: { metadata: { name, namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } } });
    const start = performance.now();
    await setIngress(env.core, 'default', name, [ip]);
    await pollUntil(async () => (await env.lab.nextHops(`${ip}/32`)).length === NODES.length, 30_000, `${ip} via every node`, 5);
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

async function cutOffToWithdrawn(env: BgpSpeakerLab, prefix: string): Promise<number[]> {
  const times: number[] = [];
  const node = env.lab.nodes[0]!;
  for (let t = 0; t < TRIALS; t++) {
    await env.lab.waitForAdvertisers(prefix, NODES, 60_000);
    const start = performance.now();
    await env.lab.cutOff(node);
    await pollUntil(async () => !(await env.lab.nextHops(prefix)).includes(node.ip), 60_000, `${node.name} withdrawn`, 5);
    times.push(performance.now() - start);
    await env.lab.reconnect(node);
  }
  return times.sort((a, b) => a - b);
}

export async function run(): Promise<void> {
  if (process.env.BGP_BENCH_HOLD_ONLY) return holdOnly();
  await withLab(true, async (env) => {
    const assign = await assignToRoute(env);
    console.log(`BGP: IP assigned -> route with ${NODES.length} next-hops at the router, ${SERVICES} Services: p50 ${fmt(percentile(assign, 50))}, p99 ${fmt(percentile(assign, 99))} (target p99 < 1000 ms)`);
    if (process.env.BGP_BENCH_ASSIGN_ONLY) return;
    const bfd = await cutOffToWithdrawn(env, '203.0.113.10/32');
    console.log(`BGP: node cut off -> next-hop withdrawn, BFD 100 ms x 3, ${TRIALS} trials: median ${fmt(percentile(bfd, 50))}, worst ${fmt(bfd.at(-1)!)} (target median < 500 ms)`);
    await env.lab.waitForAdvertisers('203.0.113.10/32', NODES, 60_000);
    const before = await Promise.all(env.lab.nodes.map((n) => env.lab.frrConnections(n)));
    await env.apply(objects(true, ['64500:1', '64500:2']));
    await pollUntil(async () => (await env.lab.birdc('show route 203.0.113.10/32 all')).split('(64500,2)').length === NODES.length + 1, 60_000, 'new community from every node');
    const after = await Promise.all(env.lab.nodes.map((n) => env.lab.frrConnections(n)));
    const resets = after.reduce((sum, a, i) => sum + a.dropped - before[i]!.dropped, 0);
    console.log(`BGP: config change of one advertisement -> sessions reset: ${resets} (target 0)`);
  });
  if (!process.env.BGP_BENCH_ASSIGN_ONLY) await holdOnly();
}

async function holdOnly(): Promise<void> {
  await withLab(false, async (env) => {
    await env.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }] } } });
    await setIngress(env.core, 'default', 'web', ['203.0.113.10']);
    const hold = await cutOffToWithdrawn(env, '203.0.113.10/32');
    console.log(`BGP: node cut off -> next-hop withdrawn, hold timer only (3 s), ${TRIALS} trials: median ${fmt(percentile(hold, 50))}, worst ${fmt(hold.at(-1)!)} (target <= 3500 ms)`);
  });
}
