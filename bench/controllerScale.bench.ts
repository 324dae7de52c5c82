// Memory and watch load at real-cluster scale, against the embedded API server: 10,000 Services,
// 10,000 EndpointSlices of 10 endpoints each (100,000 endpoints) and 5,000 Nodes, plus 1,000
// LoadBalancer Services with externalTrafficPolicy: Local. Each process measured is a child, so
// its RSS is its own: baseline after start-up, then after its caches are full (and, for metal,
// after every Local Service holds an address and its published endpoint nodes).
//
//   controller, a cloud-like provider (follows no endpoints): RSS above baseline, target 150 MB
//   controller, metal serving the 1,000 Local Services:       RSS above baseline, target 200 MB
//   speaker on one node, same cluster:                        RSS above baseline, target 60 MB
//   watch events reaching a speaker per endpoint change of a Service it does not serve: target 0
//
// The children run with the node options they ship with: the image's entrypoint options
// (charts/Dockerfile), plus the DaemonSet's NODE_OPTIONS for the speaker, read from those files.
// KLP_BENCH_NODE_FLAGS replaces them (e.g. "" for none, or "--trace-gc"); the options in use are
// printed. KLP_BENCH_ROLES=cloud,metal picks the controller roles (the speaker always runs).
// KLP_BENCH_HEAP_DETAIL=1 prints where each child's memory is (V8 spaces, resident memory by
// mapping; =snapshot also writes a heap snapshot per role in the cwd, =sizes lists anonymous
// mappings by size).
import { CoreV1Api, DiscoveryV1Api, KubeConfig, type V1EndpointSlice, type V1Node } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { startApiServer, type ApiServerHandle } from '../src/apiserver/index.js';
import { controllerConfigSchema } from '../src/config/schema.js';
import { runController } from '../src/cli/runController.js';
import { silentLogger } from '../src/observability/logger.js';
import { inParallel, kubeConfigOf } from './support/cluster.js';
import type { AnnounceReadiness } from '../src/speaker/announceInterface.js';
import type { NetEffects } from '../src/speaker/netEffects.js';
import { Speaker } from '../src/speaker/speaker.js';

const SERVICES = 10_000;
const ENDPOINTS_PER_SLICE = 10;
const NODES = 5_000;
const LOCAL_SERVICES = 1_000;
const UNRELATED_CHANGES = 200;

function node(i: number): V1Node {
  const name = `node-${i}`;
  return {
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
    spec: { providerID: `sim://${name}`, podCIDR: `10.${(i >> 8) & 255}.${i & 255}.0/24` },
    status: {
      addresses: [{ type: 'InternalIP', address: `10.200.${(i >> 8) & 255}.${i & 255}` }, { type: 'Hostname', address: name }],
      capacity: { cpu: '2', memory: '8Gi', pods: '110' },
      allocatable: { cpu: '1930m', memory: '7Gi', pods: '110' },
      conditions: ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'].map((type) => ({ type, status: type === 'Ready' ? 'True' : 'False', reason: 'Kubelet', message: `kubelet reports ${type}` })),
      images: Array.from({ length: 8 }, (_, k) => ({ names: [`registry.example/team/app-${k}@sha256:${String(k).repeat(64).slice(0, 64)}`], sizeBytes: 50_000_000 + k })),
    },
  };
}

/** A slice as the EndpointSlice controller writes it, with the fields real clusters carry. */
function slice(service: string, i: number, generation = 1): V1EndpointSlice {
  return {
    metadata: {
      name: `${service}-x${i.toString(36)}`,
      namespace: 'default',
      labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io', app: service },
      annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date().toISOString() },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: service, uid: `uid-${i}`, controller: true, blockOwnerDeletion: true }],
    },
    addressType: 'IPv4',
    endpoints: Array.from({ length: ENDPOINTS_PER_SLICE }, (_, k) => ({
      addresses: [`10.${100 + (k % 50)}.${(i >> 8) & 255}.${(i + k + generation) & 255}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${(i * ENDPOINTS_PER_SLICE + k) % NODES}`,
      zone: `zone-${k % 3}`,
      targetRef: { kind: 'Pod', namespace: 'default', name: `${service}-pod-${k}-abcde`, uid: `pod-uid-${i}-${k}` },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

async function populate(api: ApiServerHandle): Promise<void> {
  const kc = kubeConfigOf(api);
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  await inParallel(Array.from({ length: NODES }, (_, i) => i), 32, (i) => core.createNode({ body: node(i) }));
  await inParallel(Array.from({ length: SERVICES }, (_, i) => i), 32, async (i) => {
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: `svc-${i}`, labels: { app: `svc-${i}` } }, spec: { selector: { app: `svc-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } } });
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice(`svc-${i}`, i) });
  });
  await inParallel(Array.from({ length: LOCAL_SERVICES }, (_, i) => i), 32, async (i) => {
    const name = `local-${i}`;
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    });
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: slice(name, SERVICES + i) });
  });
}

interface ChildReport {
  baselineMb: number;
  cachedMb: number;
  heapMb: number;
  heapTotalMb: number;
  externalMb: number;
  seconds: number;
  watchEvents?: number;
}

const repoFile = (path: string) => readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8');

/** The node options a role ships with: the image's entrypoint, and for the speaker the DaemonSet's NODE_OPTIONS too. */
function shippedNodeFlags(role: string): string[] {
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(repoFile('charts/Dockerfile'))?.[1] ?? '[]') as string[];
  const image = entrypoint.slice(1).filter((a) => a.startsWith('--'));
  if (role !== 'speaker') return image;
  const daemonSet = /name: NODE_OPTIONS\s+value: (.+)$/m.exec(repoFile('charts/kube-lb-provisioner/templates/speaker-daemonset.yaml'))?.[1] ?? '';
  return [...image, ...daemonSet.split(' ').filter((f) => f !== '')];
}

function nodeFlags(role: string): string[] {
  const override = process.env.KLP_BENCH_NODE_FLAGS;
  return override === undefined ? shippedNodeFlags(role) : override.split(' ').filter((f) => f !== '');
}

/** Starts this file as a child in `role`; it reports JSON lines; "go" on stdin makes it report again. */
function startChild(role: string, api: ApiServerHandle): { child: ChildProcess; next: () => Promise<ChildReport> } {
  const flags = nodeFlags(role);
  const child = spawn(process.execPath, ['--expose-gc', ...flags, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, KLP_BENCH_CHILD: role, KLP_BENCH_KUBECONFIG: api.kubeconfig() },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    child,
    next: async () => {
      // Lines that are not reports (e.g. --trace-gc under KLP_BENCH_NODE_FLAGS) go to stderr.
      for (;;) {
        const line = await lines.next();
        if (line.done) throw new Error(`${role} child ended without a report`);
        if (line.value.startsWith('{')) return JSON.parse(line.value) as ChildReport;
        console.error(`[${role}] ${line.value}`);
      }
    },
  };
}

function row(what: string, report: ChildReport, targetMb: number): void {
  const delta = report.cachedMb - report.baselineMb;
  console.log(`  ${what.padEnd(44)} ${delta.toFixed(0).padStart(4)} MB above a ${report.baselineMb.toFixed(0)} MB baseline (target ${targetMb} MB) -> ${(delta / targetMb).toFixed(2)} of the target; heap ${report.heapMb.toFixed(0)} MB used of ${report.heapTotalMb.toFixed(0)}, ${report.externalMb.toFixed(0)} MB external; synced in ${report.seconds.toFixed(1)} s`);
}

export async function run(): Promise<void> {
  const t0 = performance.now();
  const api = await startApiServer({ port: 0, requestRecordLimit: 1000 });
  try {
    await populate(api);
    const shown = (role: string) => nodeFlags(role).join(' ') || '(none)';
    console.log(`node options of the children: controllers ${shown('controller')}; speaker ${shown('speaker')}${process.env.KLP_BENCH_NODE_FLAGS === undefined ? ' (as shipped: charts/Dockerfile, the speaker DaemonSet)' : ' (KLP_BENCH_NODE_FLAGS)'}`);
    console.log(`cluster: ${SERVICES} Services with ${SERVICES * ENDPOINTS_PER_SLICE} endpoints in slices, ${NODES} Nodes, ${LOCAL_SERVICES} Local LoadBalancer Services (populated in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    const roles = (process.env.KLP_BENCH_ROLES ?? 'cloud,metal').split(',');
    for (const [role, what, target] of [
      ['cloud', 'controller, cloud-like provider', 150],
      ['metal', `controller, metal serving ${LOCAL_SERVICES} Local Services`, 200],
    ] as const) {
      if (!roles.includes(role)) continue;
      const { child, next } = startChild(role, api);
      row(what, await next(), target);
      child.stdin!.end();
      await new Promise((resolve) => child.on('close', resolve));
    }
    const speaker = startChild('speaker', api);
    row('speaker on one node', await speaker.next(), 60);
    // Endpoint changes of Services no speaker serves (ClusterIP): none should reach it.
    const discovery = kubeConfigOf(api).makeApiClient(DiscoveryV1Api);
    await inParallel(Array.from({ length: UNRELATED_CHANGES }, (_, i) => i), 16, (i) =>
      discovery.replaceNamespacedEndpointSlice({ namespace: 'default', name: slice(`svc-${i}`, i).metadata!.name!, body: slice(`svc-${i}`, i, 2) }),
    );
    await new Promise((r) => setTimeout(r, 2000)); // let any watch event arrive
    speaker.child.stdin!.write('go\n');
    const after = await speaker.next();
    console.log(`  watch events reaching the speaker per endpoint change of a Service it does not serve: ${((after.watchEvents ?? 0) / UNRELATED_CHANGES).toFixed(2)} (target 0; ${after.watchEvents} over ${UNRELATED_CHANGES} changes)`);
    speaker.child.stdin!.end();
    await new Promise((resolve) => speaker.child.on('close', resolve));
  } finally {
    await api.stop();
  }
  console.log(`(scale benchmarks took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

// ---- children ------------------------------------------------------------------------------------

class IdleNetEffects implements NetEffects {
  async readiness(addresses: string[]): Promise<AnnounceReadiness> {
    return { ready: true, interfaces: new Map(addresses.map((a) => [a, 'bench0'])) };
  }
  async listVIPs(): Promise<string[]> {
    return [];
  }
  async addVIP(): Promise<void> {}
  async removeVIP(): Promise<void> {}
  async announce(): Promise<void> {}
}

/** Resident MB by kind of mapping: the brk heap, file-backed, and anonymous maps by size. */
function residentByMapping(): string {
  const sums = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const mb = (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 2 ** 20;
      const name = head[4] ?? '';
      kind = name === '' ? (process.env.KLP_BENCH_HEAP_DETAIL === 'sizes' ? `anon ${head[3]} ${(mb * 1024).toFixed(0)}kB` : mb >= 60 ? 'anon>=60MB' : mb >= 1 ? 'anon 1-60MB' : 'anon<1MB') : name.startsWith('/') ? 'file' : name;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums.set(kind, (sums.get(kind) ?? 0) + Number(rss[1]) / 1024);
  }
  return [...sums].filter(([, mb]) => mb >= 1).map(([k, mb]) => `${k} ${mb.toFixed(0)}`).join(', ');
}

async function settledRss(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  return process.memoryUsage().rss / 2 ** 20;
}

/** KLP_BENCH_HEAP_DETAIL=1: where the memory is, on stderr (=snapshot: also a heap snapshot in the cwd). */
function detail(when: string): void {
  if (!process.env.KLP_BENCH_HEAP_DETAIL) return;
  const m = process.memoryUsage();
  const spaces = getHeapSpaceStatistics().map((s) => `${s.space_name.replace('_space', '')} ${(s.space_used_size / 2 ** 20).toFixed(1)}/${(s.space_size / 2 ** 20).toFixed(1)}`);
  console.error(`[${role} ${when}] rss ${(m.rss / 2 ** 20).toFixed(0)}, heap used/total ${(m.heapUsed / 2 ** 20).toFixed(0)}/${(m.heapTotal / 2 ** 20).toFixed(0)}, external ${(m.external / 2 ** 20).toFixed(0)} (array buffers ${(m.arrayBuffers / 2 ** 20).toFixed(0)})`);
  const h = getHeapStatistics();
  console.error(`[${role} ${when}] v8: physical ${(h.total_physical_size / 2 ** 20).toFixed(0)}, malloced ${(h.malloced_memory / 2 ** 20).toFixed(0)} (peak ${(h.peak_malloced_memory / 2 ** 20).toFixed(0)}), external ${(h.external_memory / 2 ** 20).toFixed(0)}`);
  console.error(`[${role} ${when}] spaces (used/size MB): ${spaces.join(', ')}`);
  console.error(`[${role} ${when}] resident by mapping: ${residentByMapping()}`);
  if (when !== 'baseline' && process.env.KLP_BENCH_HEAP_DETAIL === 'snapshot') console.error(`[${role}] snapshot: ${writeHeapSnapshot(`bench-${role}.heapsnapshot`)}`);
}

function heap(): { heapMb: number; heapTotalMb: number; externalMb: number } {
  detail('cached');
  const m = process.memoryUsage();
  return { heapMb: m.heapUsed / 2 ** 20, heapTotalMb: m.heapTotal / 2 ** 20, externalMb: m.external / 2 ** 20 };
}

async function until(fn: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const report = (r: ChildReport) => process.stdout.write(`${JSON.stringify(r)}\n`);
const stdinLines = () => createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function controllerChild(role: 'cloud' | 'metal'): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(process.env.KLP_BENCH_KUBECONFIG ?? '');
  const provider =
    role === 'cloud'
      ? // A class nobody uses: the caches are all it costs, as for AWS or GCP instance targets.
        { type: 'simulated', loadBalancerClass: 'bench.example/none' }
      : { type: 'metal', pools: [{ name: 'bench', addresses: ['10.255.0.0/21'] }] };
  const config = controllerConfigSchema.parse({ leaderElection: { enabled: false }, workers: 16, providers: [provider] });
  const baseline = await settledRss();
  detail('baseline');
  const t0 = performance.now();
  const controller = await runController({ kubeConfig: kc, config, logger: silentLogger(), registry: new Registry(), tuning: { resyncPeriodMs: 0 } });
  await until(() => controller.ready(), 'caches synced');
  await new Promise((r) => setTimeout(r, 500));
  await until(() => controller.pendingWork() === 0, 'every Service reconciled');
  const seconds = (performance.now() - t0) / 1000;
  report({ baselineMb: baseline, cachedMb: await settledRss(), ...heap(), seconds });
  if (process.env.KLP_BENCH_HEAP_DETAIL) {
    await new Promise((r) => setTimeout(r, 15_000));
    detail('15 s later');
  }
  await stdinLines().next();
  await controller.stop();
}

async function speakerChild(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(process.env.KLP_BENCH_KUBECONFIG ?? '');
  let watchEvents = 0;
  let counting = false;
  const baseline = await settledRss();
  detail('baseline');
  const t0 = performance.now();
  const speaker = new Speaker({
    kubeConfig: kc,
    nodeName: 'node-0',
    namespace: 'kube-system',
    effects: new IdleNetEffects(),
    logger: silentLogger(),
    onWatchEvent: (informer) => {
      // Leases renew every second; only the watches that could grow with endpoints count here.
      if (counting && informer !== 'leases') watchEvents++;
    },
  });
  await speaker.start();
  const seconds = (performance.now() - t0) / 1000;
  report({ baselineMb: baseline, cachedMb: await settledRss(), ...heap(), seconds });
  counting = true;
  const input = stdinLines();
  await input.next();
  report({ baselineMb: baseline, cachedMb: await settledRss(), ...heap(), seconds, watchEvents });
  await input.next();
  await speaker.stop(false);
}

const role = process.env.KLP_BENCH_CHILD;
if (role === 'cloud' || role === 'metal') {
  await controllerChild(role);
  process.exit(0);
}
if (role === 'speaker') {
  await speakerChild();
  process.exit(0);
}
