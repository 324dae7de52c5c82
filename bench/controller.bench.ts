// Controller benchmarks against the embedded API server and the simulated cloud. Figures are
// printed as ratios against a bound (the cloud's rate limit, the minimum number of calls) or
// against a reference run made in this process (upstream-like settings); never asserted.
//
//   create storm     1,000 Services at once; cloud: 100 ms per call, 20 mutating calls/s, 1 s provisioning
//   node churn       10 nodes added and 10 removed out of 500, 100 Services
//   steady resync    mutating calls made by a resync when nothing changed (target 0)
//   memory           RSS of a controller process caching 10,000 Services and 5,000 Nodes
import { CoreV1Api, KubeConfig, type V1Node, type V1Service } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { SimulatedCloud } from '../providers/simulated/cloud.js';
import { createSimulatedProvider } from '../providers/simulated/index.js';
import { startApiServer, type ApiServerHandle } from '../src/apiserver/index.js';
import { controllerConfigSchema, type ControllerConfig } from '../src/config/schema.js';
import { runController, type RunningController } from '../src/cli/runController.js';
import { silentLogger } from '../src/observability/logger.js';
import { inParallel, kubeConfigOf } from './support/cluster.js';

const LATENCY_MS = 100;
const MUTATING_PER_S = 20;
const PROVISIONING_MS = 1_000;

function nodeBody(name: string, i: number): V1Node {
  return {
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'm6i.large',
        'topology.kubernetes.io/zone': `zone-${i % 3}`,
      },
    },
    spec: { providerID: `sim://${name}`, podCIDR: `10.${(i >> 8) & 255}.${i & 255}.0/24` },
    status: {
      addresses: [
        { type: 'InternalIP', address: `10.200.${(i >> 8) & 255}.${i & 255}` },
        { type: 'Hostname', address: name },
      ],
      capacity: { cpu: '2', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '1930m', memory: '7Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: 'containerd://1.7.0',
        kernelVersion: '6.1.0',
        kubeProxyVersion: 'v1.32.0',
        kubeletVersion: 'v1.32.0',
        machineID: '',
        operatingSystem: 'linux',
        osImage: 'Debian GNU/Linux 12',
        systemUUID: '',
      },
    },
  };
}

function lbService(name: string): V1Service {
  return {
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  } as V1Service;
}

interface Setup {
  api: ApiServerHandle;
  kc: KubeConfig;
  core: CoreV1Api;
  cloud: SimulatedCloud;
  controller: RunningController;
}

async function setup(options: { nodes: number; workers: number; upstreamLike: boolean; provisioningMs: number }): Promise<Setup> {
  const api = await startApiServer({ port: 0 });
  const kc = kubeConfigOf(api);
  const core = kc.makeApiClient(CoreV1Api);
  await inParallel(
    Array.from({ length: options.nodes }, (_, i) => i),
    32,
    (i) => core.createNode({ body: nodeBody(`node-${i}`, i) }),
  );
  const cloud = new SimulatedCloud({ addressPool: '100.64.0.0/10', latencyMs: LATENCY_MS, mutatingCallsPerSecond: MUTATING_PER_S, provisioningMs: options.provisioningMs });
  const config: ControllerConfig = controllerConfigSchema.parse({
    clusterName: 'bench',
    workers: options.workers,
    backoff: { initialSeconds: 1, maxSeconds: 30 },
    leaderElection: { enabled: false },
    providers: [{ type: 'simulated', latencyMs: LATENCY_MS, mutatingCallsPerSecond: MUTATING_PER_S, provisioningMs: options.provisioningMs, retries: 8 }],
  });
  const controller = await runController({
    kubeConfig: kc,
    config,
    logger: silentLogger(),
    registry: new Registry(),
    tuning: { blockOnInProgress: options.upstreamLike, resyncPeriodMs: 0 },
    createProvider: (entry, deps) => createSimulatedProvider(entry as never, deps, cloud),
  });
  await until(() => controller.ready(), 60_000, 'controller ready');
  return { api, kc, core, cloud, controller };
}

async function teardown(s: Setup): Promise<void> {
  await s.controller.stop();
  await s.api.stop();
}

async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function countWithIngress(core: CoreV1Api): Promise<number> {
  const list = await core.listNamespacedService({ namespace: 'default' });
  return list.items.filter((s) => (s.status?.loadBalancer?.ingress?.length ?? 0) > 0).length;
}

/** Creates `count` Services at once and times until every one has an ingress. */
async function storm(s: Setup, count: number): Promise<{ seconds: number; mutatingOk: number; throttled: number; firstCreate: number; lastCreate: number }> {
  const before = s.cloud.stats();
  const t0 = performance.now();
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    50,
    (i) => s.core.createNamespacedService({ namespace: 'default', body: lbService(`svc-${i}`) }),
  );
  await until(async () => (await countWithIngress(s.core)) === count, 1_500_000, `${count} ingresses`, 500);
  const seconds = (performance.now() - t0) / 1000;
  const after = s.cloud.stats();
  const ok = s.cloud.calls.filter((c) => c.mutating && c.outcome === 'ok').length;
  const creates = s.cloud.calls.filter((c) => c.operation === 'CreateLoadBalancer' && c.outcome === 'ok').map((c) => c.at);
  const start = Date.now() - seconds * 1000;
  return {
    seconds,
    mutatingOk: Math.min(ok, after.mutating - before.mutating),
    throttled: after.throttled - before.throttled,
    firstCreate: ((creates[0] ?? start) - start) / 1000,
    lastCreate: ((creates[creates.length - 1] ?? start) - start) / 1000,
  };
}

async function createStorm(): Promise<void> {
  const N = 1_000;
  const ours = await setup({ nodes: 3, workers: 8, upstreamLike: false, provisioningMs: PROVISIONING_MS });
  const r = await storm(ours, N);
  await teardown(ours);
  const bound = r.mutatingOk / MUTATING_PER_S;
  console.log(`create storm: ${N} Services, cloud ${LATENCY_MS} ms/call, ${MUTATING_PER_S} mutating calls/s, ${PROVISIONING_MS} ms provisioning, 8 workers`);
  console.log(`  time to all-ingress        ${r.seconds.toFixed(1)} s`);
  console.log(`  mutating calls             ${r.mutatingOk} ok, ${r.throttled} throttled answers`);
  console.log(`  rate-limit bound           ${bound.toFixed(1)} s (mutating calls / ${MUTATING_PER_S} per s)`);
  console.log(`  ratio to bound             ${(r.seconds / bound).toFixed(2)}x`);
  console.log(`  creates ran from           ${r.firstCreate.toFixed(1)} s to ${r.lastCreate.toFixed(1)} s (${(r.mutatingOk / Math.max(0.001, r.lastCreate - r.firstCreate)).toFixed(1)} creates/s)`);

  // Upstream-like: 1 worker that blocks on every cloud call and waits out provisioning inline.
  // At ~1.3 s per Service it would take ~20 min for 1,000, so run a sample and extrapolate linearly
  // (one worker is strictly sequential, so time scales with the count).
  const sample = Number(process.env.KLP_BENCH_UPSTREAM_SAMPLE ?? 40);
  const upstream = await setup({ nodes: 3, workers: 1, upstreamLike: true, provisioningMs: PROVISIONING_MS });
  const u = await storm(upstream, sample);
  await teardown(upstream);
  const extrapolated = (u.seconds / sample) * N;
  console.log(`  upstream-like (1 worker, blocking): ${sample} Services in ${u.seconds.toFixed(1)} s -> extrapolated ${extrapolated.toFixed(0)} s for ${N} (sampled, not run in full)`);
  console.log(`  speed-up vs upstream-like  ${(extrapolated / r.seconds).toFixed(1)}x`);
}

async function nodeChurn(): Promise<void> {
  const NODES = 500;
  const SERVICES = 100;
  const s = await setup({ nodes: NODES, workers: 8, upstreamLike: false, provisioningMs: 0 });
  await inParallel(
    Array.from({ length: SERVICES }, (_, i) => i),
    50,
    (i) => s.core.createNamespacedService({ namespace: 'default', body: lbService(`svc-${i}`) }),
  );
  await until(async () => (await countWithIngress(s.core)) === SERVICES, 300_000, 'churn setup', 250);
  await until(() => s.controller.pendingWork() === 0, 60_000, 'queue idle');

  const before = s.cloud.stats();
  const t0 = performance.now();
  const added = Array.from({ length: 10 }, (_, i) => NODES + i);
  const removed = Array.from({ length: 10 }, (_, i) => i);
  await Promise.all([
    inParallel(added, 10, (i) => s.core.createNode({ body: nodeBody(`node-${i}`, i) })),
    inParallel(removed, 10, (i) => s.core.deleteNode({ name: `node-${i}` })),
  ]);
  const want = new Set([...Array.from({ length: NODES }, (_, i) => `node-${i}`).slice(10), ...added.map((i) => `node-${i}`)]);
  await until(
    () => s.cloud.snapshot().every((lb) => lb.targets.length === want.size && lb.targets.every((t) => want.has(t.name))),
    300_000,
    'churn converged',
    50,
  );
  const seconds = (performance.now() - t0) / 1000;
  const after = s.cloud.stats();
  const mutating = after.mutating - before.mutating - (after.throttled - before.throttled);
  const minimum = 2 * SERVICES; // one register and one deregister call per load balancer
  console.log(`node churn: +10 / -10 nodes of ${NODES}, ${SERVICES} Services`);
  console.log(`  mutating calls             ${mutating} (minimum ${minimum}: one register + one deregister per load balancer) -> ${(mutating / minimum).toFixed(2)}x minimum`);
  console.log(`  full re-ensures            ${(after.byOperation.ModifyListeners ?? 0) - (before.byOperation.ModifyListeners ?? 0)} listener and ${(after.byOperation.ModifyLoadBalancerAttributes ?? 0) - (before.byOperation.ModifyLoadBalancerAttributes ?? 0)} attribute updates (target 0)`);
  console.log(`  time to converge           ${seconds.toFixed(1)} s (rate-limit bound ${(minimum / MUTATING_PER_S).toFixed(1)} s)`);

  await until(() => s.controller.pendingWork() === 0, 60_000, 'queue idle');
  const beforeResync = s.cloud.stats();
  const r0 = performance.now();
  await s.controller.resyncNow();
  await until(() => s.controller.pendingWork() === 0, 120_000, 'resync drained', 20);
  const afterResync = s.cloud.stats();
  console.log(`steady-state resync: ${SERVICES} Services in sync`);
  console.log(
    `  mutating calls per resync  ${afterResync.mutating - beforeResync.mutating} (target 0); read calls ${afterResync.total - afterResync.mutating - (beforeResync.total - beforeResync.mutating)}; took ${((performance.now() - r0) / 1000).toFixed(1)} s`,
  );
  await teardown(s);
}

async function memory(): Promise<void> {
  const SERVICES = 10_000;
  const NODES = 5_000;
  const api = await startApiServer({ port: 0 });
  const core = kubeConfigOf(api).makeApiClient(CoreV1Api);
  await inParallel(
    Array.from({ length: NODES }, (_, i) => i),
    32,
    (i) => core.createNode({ body: nodeBody(`node-${i}`, i) }),
  );
  // ClusterIP Services: the API server has 2,768 NodePorts, fewer than 10,000 LoadBalancer Services
  // would need. The controller caches every Service whatever its type, so the footprint is the same.
  await inParallel(
    Array.from({ length: SERVICES }, (_, i) => i),
    32,
    (i) =>
      core.createNamespacedService({
        namespace: 'default',
        body: {
          metadata: { name: `svc-${i}`, labels: { app: `app-${i}`, tier: 'web' }, annotations: { 'example.com/owner': `team-${i % 50}` } },
          spec: { selector: { app: `app-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }, { name: 'https', port: 443, targetPort: 8443, protocol: 'TCP' }] },
        },
      }),
  );
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, KLP_BENCH_CHILD: 'memory', KLP_BENCH_KUBECONFIG: api.kubeconfig(), KLP_BENCH_SERVICES: String(SERVICES), KLP_BENCH_NODES: String(NODES) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await api.stop();
  if (code !== 0) throw new Error(`memory child exited ${code}: ${out}`);
  const m = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { baselineMb: number; cachedMb: number; heapMb: number; seconds: number };
  const delta = m.cachedMb - m.baselineMb;
  console.log(`memory: controller process caching ${SERVICES} Services + ${NODES} Nodes`);
  console.log(`  RSS baseline ${m.baselineMb.toFixed(0)} MB, with caches ${m.cachedMb.toFixed(0)} MB (heap ${m.heapMb.toFixed(0)} MB); initial sync ${m.seconds.toFixed(1)} s`);
  console.log(`  above baseline             ${delta.toFixed(0)} MB (target < 150 MB) -> ${(delta / 150).toFixed(2)} of the target`);
}

/** Runs in a child process: a controller with nothing else, measured before and after its caches fill. */
async function memoryChild(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const kc = new KubeConfig();
  kc.loadFromString(process.env.KLP_BENCH_KUBECONFIG ?? '');
  const services = Number(process.env.KLP_BENCH_SERVICES);
  const nodes = Number(process.env.KLP_BENCH_NODES);
  const config = controllerConfigSchema.parse({ clusterName: 'bench', leaderElection: { enabled: false }, providers: [{ type: 'simulated' }] });
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await settle();
  const baseline = process.memoryUsage().rss;
  const t0 = performance.now();
  const controller = await runController({ kubeConfig: kc, config, logger: silentLogger(), registry: new Registry(), tuning: { resyncPeriodMs: 0 } });
  await until(() => controller.ready(), 300_000, 'caches synced');
  const seconds = (performance.now() - t0) / 1000;
  await settle();
  const usage = process.memoryUsage();
  void services;
  void nodes;
  process.stdout.write(`${JSON.stringify({ baselineMb: baseline / 2 ** 20, cachedMb: usage.rss / 2 ** 20, heapMb: usage.heapUsed / 2 ** 20, seconds })}\n`);
  await controller.stop();
}

export async function run(): Promise<void> {
  const t0 = performance.now();
  // KLP_BENCH_PARTS=storm,churn,memory picks parts (all by default).
  const parts = (process.env.KLP_BENCH_PARTS ?? 'storm,churn,memory').split(',');
  if (parts.includes('storm')) await createStorm();
  if (parts.includes('churn')) await nodeChurn();
  if (parts.includes('memory')) await memory();
  console.log(`(controller benchmarks took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

if (process.env.KLP_BENCH_CHILD === 'memory') {
  await memoryChild();
  process.exit(0);
}
