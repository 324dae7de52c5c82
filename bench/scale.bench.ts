// npm run bench -- scale: how cost grows with the number of LoadBalancer Services (1k, 2k, 5k, 10k;
// KLP_SCALE_SIZES overrides). For each size, a fresh API server and a fresh controller (simulated
// cloud, no latency), each its own process so its RSS is its own:
//   - time from the first create to every Service having status.loadBalancer.ingress;
//   - controller RSS and API server RSS once all are served.
// The API server runs with --service-node-port-range 30000-45000: 10k Services need more NodePorts
// than the default range has. Each figure is fitted to a + b·N (least squares): cost must grow
// linearly, so the fit's R² and the largest size's ratio to the line are printed, and the curves
// and fits are drawn to bench/scale.svg with Vega-Lite.
import { CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { withSharedConnections } from '../src/kube/sharedConnections.js';
import { inParallel } from './support/cluster.js';

const SIZES = (process.env.KLP_SCALE_SIZES ?? '1000,2000,5000,10000').split(',').map(Number);
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const SVG = fileURLToPath(new URL('./scale.svg', import.meta.url));

interface Point {
  services: number;
  seconds: number;
  controllerMb: number;
  apiServerMb: number;
}

/** Starts a CLI subcommand as its own node process; resolves once it printed a line matching `ready`. */
async function startCli(args: string[], ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_FORMAT: 'json' } });
  const lines = createInterface({ input: child.stdout! });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const line = await new Promise<string>((resolve, reject) => {
    lines.on('line', (l) => ready.test(l) && resolve(l));
    child.on('exit', (code) => reject(new Error(`${args[0]} exited ${code}: ${stderr}`)));
  });
  return { child, line };
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

const stop = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGTERM'))));

async function measure(n: number, dir: string): Promise<Point> {
  const kubeconfigPath = join(dir, `kubeconfig-${n}`);
  const api = await startCli(['apiserver', '--port', '0', '--service-node-port-range', '30000-45000', '--write-kubeconfig', kubeconfigPath, '--log-level', 'warn'], /^API server listening/);
  const configPath = join(dir, `controller-${n}.yaml`);
  const metricsPort = await freePort();
  await writeFile(
    configPath,
    stringify({ clusterName: 'bench', logLevel: 'warn', metricsAddress: `127.0.0.1:${metricsPort}`, leaderElection: { enabled: false }, providers: [{ type: 'simulated', default: true, addressPool: '10.240.0.0/16' }] }),
  );
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const core = withSharedConnections(kc).makeApiClient(CoreV1Api);
  await inParallel([1, 2, 3], 3, (i) => core.createNode({ body: { metadata: { name: `node-${i}` }, status: { addresses: [{ type: 'InternalIP', address: `10.0.0.${i}` }] } } }));
  const controller = spawn(process.execPath, ['--import', 'tsx', CLI, 'controller', '--config', configPath, '--kubeconfig', kubeconfigPath], { stdio: 'ignore', env: { ...process.env, LOG_FORMAT: 'json' } });
  try {
    // The clock starts once the controller is ready (caches synced), not while it starts up.
    while ((await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.status).catch(() => 0)) !== 200) await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await inParallel(
      Array.from({ length: n }, (_, i) => i),
      32,
      (i) => core.createNamespacedService({ namespace: 'default', body: { metadata: { name: `svc-${i}` }, spec: { type: 'LoadBalancer', selector: { app: `a${i}` }, ports: [{ port: 80 }] } } }),
    );
    for (;;) {
      const served = (await core.listNamespacedService({ namespace: 'default' })).items.filter((s: V1Service) => (s.status?.loadBalancer?.ingress ?? []).length > 0).length;
      if (served === n) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 2_000)); // let both settle before reading RSS
    return { services: n, seconds, controllerMb: await rssMb(controller.pid!), apiServerMb: await rssMb(api.child.pid!) };
  } finally {
    await stop(controller);
    await stop(api.child);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Least squares y = a + b·x, with R². */
export function linearFit(xs: readonly number[], ys: readonly number[]): { a: number; b: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  const sxy = xs.reduce((s, x, i) => s + (x - mx) * ((ys[i] ?? 0) - my), 0);
  const sxx = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  const b = sxx === 0 ? 0 : sxy / sxx;
  const a = my - b * mx;
  const ssTot = ys.reduce((s, y) => s + (y - my) ** 2, 0);
  const ssRes = ys.reduce((s, y, i) => s + (y - (a + b * (xs[i] ?? 0))) ** 2, 0);
  return { a, b, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

const FIGURES = [
  { key: 'seconds', title: 'time to all ingress (s)' },
  { key: 'controllerMb', title: 'controller RSS (MB)' },
  { key: 'apiServerMb', title: 'API server RSS (MB)' },
] as const;

async function plot(points: readonly Point[]): Promise<void> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'kube-lb-provisioner: cost against LoadBalancer Services (points measured, line fitted)',
    data: { values: points.map((p) => ({ ...p })) },
    hconcat: FIGURES.map((f) => ({
      title: f.title,
      width: 220,
      height: 180,
      layer: [
        { mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'services', type: 'quantitative', title: 'Services' }, y: { field: f.key, type: 'quantitative', title: f.title } } },
        { mark: { type: 'line', strokeDash: [4, 3] }, transform: [{ regression: f.key, on: 'services', method: 'linear' }], encoding: { x: { field: 'services', type: 'quantitative' }, y: { field: f.key, type: 'quantitative' } } },
      ],
    })),
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  await writeFile(SVG, await view.toSVG());
  view.finalize();
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'klp-scale-'));
  const points: Point[] = [];
  for (const n of SIZES) {
    const p = await measure(n, dir);
    points.push(p);
    console.log(`  ${String(n).padStart(6)} Services: all ingress in ${p.seconds.toFixed(1)} s; controller ${p.controllerMb.toFixed(0)} MB, API server ${p.apiServerMb.toFixed(0)} MB RSS`);
  }
  const xs = points.map((p) => p.services);
  for (const f of FIGURES) {
    const ys = points.map((p) => p[f.key]);
    const fit = linearFit(xs, ys);
    const last = points[points.length - 1]!;
    const ratio = last[f.key] / (fit.a + fit.b * last.services);
    console.log(`  ${f.title.padEnd(26)} fit ${fit.a.toFixed(1)} + ${(fit.b * 1000).toFixed(2)} per 1k Services, R² ${fit.r2.toFixed(3)}; at ${last.services} measured/fitted ${ratio.toFixed(2)} (linear: R² near 1, ratio near 1)`);
  }
  await plot(points);
  console.log(`  plot: ${SVG}`);
}
