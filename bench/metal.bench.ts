// Metal benchmarks.
// 1. Allocation latency, Service created to ingress written, p50/p99 over 1,000 Services, through
//    the embedded API server and the real controller (runController + metal provider), against a
//    reference run in the same process: the allocator alone on the same 1,000 Services.
// 2. L2 failover in network namespaces (root), speakers inside the node namespaces probing each
//    other over UDP: owner speaker killed (SIGKILL) to the first successful request answered by the
//    new owner, median and worst of 20 trials; SIGTERM handover and restart under a 20 ms curl
//    loop (requests unanswered, connections cut in flight); Lease writes per node per second.
import { CoreV1Api, KubeConfig, makeInformer, type V1Service } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { compilePools } from '../providers/metal/addressPools.js';
import { Allocator } from '../providers/metal/allocator.js';
import { metalConfigSchema } from '../providers/metal/config.js';
import { serviceClaim } from '../providers/metal/serviceClaim.js';
import { startApiServer } from '../src/apiserver/index.js';
import { controllerConfigSchema } from '../src/config/schema.js';
import { runController } from '../src/cli/runController.js';
import { silentLogger } from '../src/observability/logger.js';
import { desiredService } from '../test/metal/desiredService.js';
import { L2Lab, NODE_PORT, SERVICE_PORT, ensureNetworkTools, pollUntil, waitForLiveSpeakers } from '../test/metal/l2Lab.js';

const SERVICES = 1000;
const FAILOVER_TRIALS = Number(process.env.METAL_BENCH_TRIALS ?? 20);
const LINK_TRIALS = Number(process.env.METAL_BENCH_LINK_TRIALS ?? 10);
const MEDIAN_TARGET_MS = 500;
const WORST_TARGET_MS = 1000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function allocatorAlone(): Promise<number[]> {
  const config = metalConfigSchema.parse({ type: 'metal', pools: [{ name: 'bench', addresses: ['10.200.0.0/22'] }] });
  const allocator = new Allocator(compilePools(config.pools));
  const times: number[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const claim = serviceClaim(desiredService({ name: `svc-${i}` }));
    const t0 = performance.now();
    allocator.assign(claim);
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

async function createdToIngress(): Promise<number[]> {
  const api = await startApiServer({ host: '127.0.0.1' });
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  const core = kc.makeApiClient(CoreV1Api);
  for (let i = 1; i <= 3; i++) await core.createNode({ body: { metadata: { name: `node-${i}` }, status: { addresses: [{ type: 'InternalIP', address: `10.0.0.${i}` }] } } });
  const config = controllerConfigSchema.parse({
    clusterName: 'bench',
    workers: 8,
    leaderElection: { enabled: false },
    providers: [{ type: 'metal', pools: [{ name: 'bench', addresses: ['10.200.0.0/22'] }] }],
  });
  const controller = await runController({ kubeConfig: kc, config, logger: silentLogger(), registry: new Registry(), tuning: { resyncPeriodMs: 0 } });
  const created = new Map<string, number>();
  const latencies: number[] = [];
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((r) => (resolveAll = r));
  const seen = new Set<string>();
  const informer = makeInformer(kc, '/api/v1/namespaces/default/services', () => core.listNamespacedService({ namespace: 'default' }));
  const onChange = (svc: V1Service) => {
    const name = svc.metadata?.name ?? '';
    if (seen.has(name) || !svc.status?.loadBalancer?.ingress?.[0]?.ip) return;
    const t0 = created.get(name);
    if (t0 === undefined) return;
    seen.add(name);
    latencies.push(performance.now() - t0);
    if (seen.size === SERVICES) resolveAll();
  };
  informer.on('add', onChange);
  informer.on('update', onChange);
  await informer.start();
  const started = performance.now();
  // 16 clients creating concurrently: the controller sees a burst, as after a big kubectl apply.
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < SERVICES) {
        const i = next++;
        const name = `svc-${i}`;
        created.set(name, performance.now());
        await core.createNamespacedService({
          namespace: 'default',
          body: { metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] } },
        });
      }
    }),
  );
  const timeout = setTimeout(() => resolveAll(), 120_000);
  await all;
  clearTimeout(timeout);
  const wall = performance.now() - started;
  await informer.stop();
  await controller.stop();
  await api.stop();
  if (latencies.length < SERVICES) throw new Error(`only ${latencies.length} of ${SERVICES} Services got an address within 120 s`);
  console.log(`  ${SERVICES} Services created by 16 clients and all given an address in ${fmt(wall)}`);
  return latencies.sort((a, b) => a - b);
}

interface FailoverFigures {
  killed: number[];
  /** Owner node cut off (link down) to the first answer from another node, sorted. */
  linkDown: number[];
  /** Requests that found no one (curl could not connect, or timed out). */
  handoverUnanswered: number;
  /** Connections in flight when the address moved, reset (the new holder has no state for them). */
  handoverCut: number;
  handoverRequests: number;
  leaseWritesPerNodePerSecond: number;
}

async function failover(): Promise<FailoverFigures> {
  await ensureNetworkTools();
  const lab = new L2Lab(['node-a', 'node-b', 'node-c']);
  const dir = await mkdtemp(join(tmpdir(), 'klb-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  const api = await startApiServer({ host: '127.0.0.1' });
  const vip = '198.51.100.201';
  const times: number[] = [];
  const linkDown: number[] = [];
  let handoverUnanswered = 0;
  let handoverCut = 0;
  let handoverRequests = 0;
  let leaseWritesPerNodePerSecond: number;
  try {
    await api.writeKubeconfig(kubeconfig);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    await lab.create();
    await lab.relayApiServer(api.port, dir);
    for (const node of lab.nodes) await core.createNode({ body: { metadata: { name: node.name }, status: { addresses: [{ type: 'InternalIP', address: node.ip }] } } });
    // The speakers' defaults: probes every 100 ms, ack timeout 70 ms, Lease every 10 s.
    for (const node of lab.nodes) lab.startSpeakerInNetns(node, kubeconfig);
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: SERVICE_PORT, nodePort: NODE_PORT, protocol: 'TCP' }] } },
    });
    await core.replaceNamespacedServiceStatus({
      name: 'web',
      namespace: 'default',
      body: { ...(await core.readNamespacedService({ name: 'web', namespace: 'default' })), status: { loadBalancer: { ingress: [{ ip: vip, ipMode: 'VIP' }] } } },
    });
    const meshed = async () => {
      for (const node of lab.nodes) {
        await pollUntil(async () => /^kube_lb_speaker_liveness_peers_alive 2$/m.test(await lab.speakerMetrics(node).catch(() => '')), 60_000, `${node.name} meshed`, 100);
      }
    };
    const singleOwner = async () => {
      let owner = '';
      await pollUntil(
        async () => {
          const holders = await lab.holders(vip);
          owner = holders[0] ?? '';
          // A fresh client: an entry left from the last move may still name the previous holder,
          // whose DNAT answers too.
          await lab.forgetNeighbour(vip);
          return holders.length === 1 && (await lab.curl(vip)) === owner;
        },
        30_000,
        'a single owner answering',
      );
      return lab.nodes.find((n) => n.name === owner)!;
    };
    await waitForLiveSpeakers(kc, lab.nodes.map((n) => n.name), 60_000, 40_000);
    await meshed();
    // API writes for liveness: Lease updates over a quiet 30 s window.
    const leaseWrites = () => api.requests.filter((r) => r.resource === 'leases' && (r.verb === 'update' || r.verb === 'create')).length;
    const w0 = leaseWrites();
    const windowMs = 30_000;
    await new Promise((r) => setTimeout(r, windowMs));
    leaseWritesPerNodePerSecond = (leaseWrites() - w0) / lab.nodes.length / (windowMs / 1000);
    console.log(`  Lease writes for liveness: ${leaseWritesPerNodePerSecond.toFixed(3)} per node per second over ${windowMs / 1000} s`);
    for (let trial = 0; trial < FAILOVER_TRIALS; trial++) {
      await meshed();
      const victim = await singleOwner();
      const t0 = performance.now();
      await lab.stopSpeaker(victim, 'SIGKILL');
      await pollUntil(async () => {
        await lab.forgetNeighbour(vip);
        const answer = await lab.curl(vip, SERVICE_PORT, 0.2);
        return answer !== undefined && answer !== victim.name;
      }, 30_000, 'an answer from the new owner', 0);
      times.push(performance.now() - t0);
      console.log(`  trial ${trial + 1}: ${victim.name} killed, new owner answered after ${fmt(times.at(-1)!)}`);
      // The DaemonSet would restart it: so do we, and it takes its address back.
      lab.startSpeakerInNetns(victim, kubeconfig);
      await pollUntil(async () => (await lab.holders(vip)).join() === victim.name, 60_000, `${victim.name} back`);
    }
    // The owner node cut off (its link down): the node is gone for clients, as when it crashes. A
    // SIGKILLed speaker, above, leaves a live node whose kernel answers for the address until its
    // lifetime (--address-lifetime-seconds, 2 s) runs out, and serves the traffic meanwhile.
    for (let trial = 0; trial < LINK_TRIALS; trial++) {
      await meshed();
      const victim = await singleOwner();
      const t0 = performance.now();
      await lab.setLink(victim, 'down');
      await pollUntil(async () => {
        await lab.forgetNeighbour(vip);
        const answer = await lab.curl(vip, SERVICE_PORT, 0.2);
        return answer !== undefined && answer !== victim.name;
      }, 30_000, 'an answer from the new owner', 0);
      linkDown.push(performance.now() - t0);
      console.log(`  link down ${trial + 1}: ${victim.name} cut off, new owner answered after ${fmt(linkDown.at(-1)!)}`);
      await lab.setLink(victim, 'up');
      await pollUntil(async () => (await lab.holders(vip)).join() === victim.name, 60_000, `${victim.name} back`);
    }
    // SIGTERM, then the speaker started again: a fresh client every 20 ms (neighbour entry
    // flushed, so every request resolves anew) through both moves of the address.
    for (let trial = 0; trial < 5; trial++) {
      await meshed();
      const victim = await singleOwner();
      const loop = lab.curlLoop(vip);
      await new Promise((r) => setTimeout(r, 300));
      await lab.stopSpeaker(victim, 'SIGTERM');
      await new Promise((r) => setTimeout(r, 1500));
      lab.startSpeakerInNetns(victim, kubeconfig);
      await pollUntil(async () => (await lab.holders(vip)).join() === victim.name, 60_000, `${victim.name} back`);
      await new Promise((r) => setTimeout(r, 500));
      const result = await loop.stop();
      handoverRequests += result.ok + result.unanswered + result.cut;
      handoverUnanswered += result.unanswered;
      handoverCut += result.cut;
    }
    console.log(`  SIGTERM handover and restart, 5 trials, 20 ms curl loop with fresh ARP: ${handoverUnanswered} unanswered and ${handoverCut} cut in flight of ${handoverRequests} requests`);
  } finally {
    await lab.destroy();
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return { killed: times.sort((a, b) => a - b), linkDown: linkDown.sort((a, b) => a - b), handoverUnanswered, handoverCut, handoverRequests, leaseWritesPerNodePerSecond };
}

/** METAL_BENCH_PARTS=allocation,failover (default both) runs a part alone. */
export async function run(): Promise<void> {
  const parts = (process.env.METAL_BENCH_PARTS ?? 'allocation,failover').split(',');
  if (parts.includes('allocation')) {
    console.log('allocator alone (reference, same process):');
    const alone = await allocatorAlone();
    console.log(`  p50 ${fmt(percentile(alone, 50))}, p99 ${fmt(percentile(alone, 99))} per allocation`);

    console.log(`controller + API server, Service created -> ingress written, ${SERVICES} Services:`);
    const e2e = await createdToIngress();
    const p50 = percentile(e2e, 50);
    const p99 = percentile(e2e, 99);
    console.log(`  p50 ${fmt(p50)} (${(p50 / Math.max(percentile(alone, 50), 0.001)).toFixed(0)}x the allocator alone), p99 ${fmt(p99)} (${(p99 / Math.max(percentile(alone, 99), 0.001)).toFixed(0)}x)`);
  }
  if (parts.includes('failover')) {
    console.log(`L2 failover (speakers in node namespaces, UDP liveness probes), owner speaker SIGKILLed -> first request through the new owner, ${FAILOVER_TRIALS} trials:`);
    const fo = await failover();
    const median = percentile(fo.killed, 50);
    const worst = fo.killed.at(-1)!;
    console.log('  | measure | target | measured |');
    console.log('  | --- | --- | --- |');
    console.log(`  | SIGKILL -> first answer from the new owner, median of ${FAILOVER_TRIALS} | < 500 ms | ${fmt(median)} (${(median / MEDIAN_TARGET_MS).toFixed(2)} of the target) |`);
    console.log(`  | same, worst of ${FAILOVER_TRIALS} | < 1 s | ${fmt(worst)} (${(worst / WORST_TARGET_MS).toFixed(2)} of the target) |`);
    const linkMedian = percentile(fo.linkDown, 50);
    console.log(`  | owner's link down -> first answer from the new owner, median of ${LINK_TRIALS} | < 500 ms | ${fmt(linkMedian)} (${(linkMedian / MEDIAN_TARGET_MS).toFixed(2)} of the target) |`);
    console.log(`  | same, worst of ${LINK_TRIALS} | < 1 s | ${fmt(fo.linkDown.at(-1)!)} (${(fo.linkDown.at(-1)! / WORST_TARGET_MS).toFixed(2)} of the target) |`);
    console.log(`  | SIGTERM handover, then restart (10 moves), 20 ms curl loop | 0 unanswered | ${fo.handoverUnanswered} unanswered (and ${fo.handoverCut} cut in flight) of ${fo.handoverRequests} |`);
    console.log(`  | API server writes per second per node for liveness | <= 0.1 | ${fo.leaseWritesPerNodePerSecond.toFixed(3)} |`);
  }
}
