// Embedded API server at scale: 10,000 Services and 5,000 Nodes in memory, then
//  - a full LIST of Services over HTTP (bound: 250 ms),
//  - delivery of one change to 20 concurrent watchers, p99 (bound: 10 ms),
//  - the resident memory of the process (bound: 500 MB).
// Figures are printed as ratios against those bounds.
import { request, type IncomingMessage } from 'node:http';
import { Agent } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startApiServer } from '../src/apiserver/index.js';

const services = 10_000;
const nodes = 5_000;
const watchers = 20;
const changes = 200;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function send(base: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(`${base}${path}`, { method, agent, headers: { 'content-type': contentType, authorization: 'Bearer bench', ...(data ? { 'content-length': Buffer.byteLength(data) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function inParallel(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

/** A full garbage collection, so one phase's garbage is not collected during the next one's timing. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const customCount = 10_000;

/** 10,000 custom resources of a CRD with a schema (validated, defaulted, pruned on every create), then LISTed. */
async function customResources(base: string): Promise<void> {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'ipaddresspools.bench.example.com' },
    spec: {
      group: 'bench.example.com',
      scope: 'Namespaced',
      names: { plural: 'ipaddresspools', kind: 'IPAddressPool' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [{ name: 'Auto Assign', type: 'boolean', jsonPath: '.spec.autoAssign' }],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['addresses'],
                  properties: { addresses: { type: 'array', items: { type: 'string' } }, autoAssign: { type: 'boolean', default: true }, priority: { type: 'integer', minimum: 0 } },
                },
                status: { type: 'object', properties: { assignedIPv4: { type: 'integer' } } },
              },
            },
          },
        },
      ],
    },
  };
  const made = await send(base, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  if (made.status !== 201) throw new Error(`create CRD: ${made.status} ${made.text}`);
  const t0 = performance.now();
  await inParallel(customCount, 32, async (i) => {
    const r = await send(base, 'POST', '/apis/bench.example.com/v1/namespaces/default/ipaddresspools', {
      apiVersion: 'bench.example.com/v1',
      kind: 'IPAddressPool',
      metadata: { name: `pool-${i}`, labels: { team: `team-${i % 10}` } },
      spec: { addresses: [`10.${(i >> 8) & 255}.${i & 255}.0/24`], priority: i % 5 },
    });
    if (r.status !== 201) throw new Error(`create pool-${i}: ${r.status} ${r.text}`);
  });
  const seeded = performance.now() - t0;
  console.log(`seeded ${customCount} custom resources (schema-validated) over HTTP in ${(seeded / 1000).toFixed(1)} s (${(customCount / (seeded / 1000)).toFixed(0)} creates/s)`);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 7; i++) {
    const start = performance.now();
    const r = await send(base, 'GET', '/apis/bench.example.com/v1/ipaddresspools');
    times.push(performance.now() - start);
    bytes = r.text.length;
    const count = (JSON.parse(r.text) as { items: unknown[] }).items.length;
    if (count !== customCount) throw new Error(`LIST returned ${count} custom resources`);
  }
  times.sort((a, b) => a - b);
  console.log(`LIST ${customCount} custom resources (${(bytes / 1024 / 1024).toFixed(1)} MiB): median ${fmt(percentile(times, 50))}, worst ${fmt(times[times.length - 1]!)}`);
}

export async function run(): Promise<void> {
  const api = await startApiServer({ historyLimit: 1000 });
  try {
    const t0 = performance.now();
    await inParallel(services, 32, async (i) => {
      const r = await send(api.url, 'POST', `/api/v1/namespaces/default/services`, {
        metadata: { name: `svc-${i}`, labels: { app: `app-${i % 100}` }, annotations: { 'kube-lb-provisioner.io/bench': 'yes' } },
        // The NodePort range holds 2,768 ports: one Service in ten allocates two of them.
        spec: { type: i % 2 || i % 10 === 0 ? 'LoadBalancer' : 'ClusterIP', ...(i % 2 ? { allocateLoadBalancerNodePorts: false } : {}), selector: { app: `app-${i % 100}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443, targetPort: 8443 }] },
      });
      if (r.status !== 201) throw new Error(`create svc-${i}: ${r.status} ${r.text}`);
    });
    await inParallel(nodes, 32, async (i) => {
      const r = await send(api.url, 'POST', '/api/v1/nodes', {
        metadata: { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}`, 'topology.kubernetes.io/zone': `zone-${i % 3}` } },
        spec: { providerID: `sim://node-${i}` },
        status: { addresses: [{ type: 'InternalIP', address: `10.${(i >> 8) & 255}.${i & 255}.1` }], conditions: [{ type: 'Ready', status: 'True' }] },
      });
      if (r.status !== 201) throw new Error(`create node-${i}: ${r.status} ${r.text}`);
    });
    const seeded = performance.now() - t0;
    console.log(`seeded ${services} Services + ${nodes} Nodes over HTTP in ${(seeded / 1000).toFixed(1)} s (${((services + nodes) / (seeded / 1000)).toFixed(0)} creates/s)`);

    // Full LIST of Services, JSON, as an informer's initial list does it.
    const listTimes: number[] = [];
    let listBytes = 0;
    for (let i = 0; i < 7; i++) {
      const start = performance.now();
      const r = await send(api.url, 'GET', '/api/v1/services');
      listTimes.push(performance.now() - start);
      listBytes = r.text.length;
      const count = (JSON.parse(r.text) as { items: unknown[] }).items.length;
      if (count !== services) throw new Error(`LIST returned ${count} items`);
    }
    listTimes.sort((a, b) => a - b);
    const listMedian = percentile(listTimes, 50);
    console.log(`LIST ${services} Services (${(listBytes / 1024 / 1024).toFixed(1)} MiB): median ${fmt(listMedian)}, worst ${fmt(listTimes[listTimes.length - 1]!)} = ${(listMedian / 250).toFixed(2)} x the 250 ms bound`);

    // 20 watchers on Services; each change is a status patch. Two clocks per delivery: from just
    // before the PATCH is sent (end to end) and from the moment the store commits it (fan-out).
    const sentAt = new Map<string, number>();
    const committedAt = new Map<string, number>();
    const endToEnd: number[] = [];
    const fanOut: number[] = [];
    let measuring = false;
    const streams: IncomingMessage[] = [];
    const rv = api.store.resourceVersion;
    let received = 0;
    const unsubscribe = api.store.subscribe((e) => {
      const tag = /"hostname":"(change-\d+\.example\.com)"/.exec(e.entry.json)?.[1];
      if (tag) committedAt.set(tag, performance.now());
    });
    await Promise.all(
      Array.from(
        { length: watchers },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = request(`${api.url}/api/v1/services?watch=true&resourceVersion=${rv}`, { agent: false, headers: { authorization: 'Bearer bench' } }, (res) => {
              streams.push(res);
              let buffer = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                const now = performance.now();
                buffer += chunk;
                let nl: number;
                while ((nl = buffer.indexOf('\n')) >= 0) {
                  const line = buffer.slice(0, nl);
                  buffer = buffer.slice(nl + 1);
                  // The client shares the thread with the server: find the tag without parsing the event.
                  const tag = /"hostname":"(change-\d+\.example\.com)"/.exec(line)?.[1];
                  if (!tag) continue;
                  received++;
                  if (!measuring) continue;
                  endToEnd.push(now - sentAt.get(tag)!);
                  fanOut.push(now - committedAt.get(tag)!);
                }
              });
              resolve();
            });
            req.on('error', reject);
            req.end();
          }),
      ),
    );
    const change = async (i: number): Promise<void> => {
      const tag = `change-${i}.example.com`;
      const target = `svc-${(i * 2 + 1) % services}`;
      const expected = received + watchers;
      sentAt.set(tag, performance.now());
      const r = await send(api.url, 'PATCH', `/api/v1/namespaces/default/services/${target}/status`, { status: { loadBalancer: { ingress: [{ hostname: tag }] } } }, 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`patch ${target}: ${r.status} ${r.text}`);
      const deadline = performance.now() + 5000;
      while (received < expected && performance.now() < deadline) await new Promise((res) => setImmediate(res));
    };
    // Warm up (connections, JIT), and collect the garbage of the LISTs above, before measuring.
    for (let i = 0; i < 50; i++) await change(changes + i);
    collectGarbage();
    measuring = true;
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    for (let i = 0; i < changes; i++) await change(i);
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    unsubscribe();
    for (const s of streams) s.destroy();
    for (const [name, figures] of [
      ['fan-out (commit -> watcher)', fanOut],
      ['end to end (PATCH sent -> watcher)', endToEnd],
    ] as const) {
      figures.sort((a, b) => a - b);
      const p99 = percentile(figures, 99);
      console.log(`watch delivery to ${watchers} watchers, ${name}, ${figures.length} deliveries: p50 ${fmt(percentile(figures, 50))}, p99 ${fmt(p99)} = ${(p99 / 10).toFixed(2)} x the 10 ms bound`);
    }
    // Tails are sensitive to a busy machine: say how busy it was.
    console.log(
      `  (during the ${changes} changes this process used ${(((cpu.user + cpu.system) / 1000 / wall) * 100).toFixed(0)}% of one core; load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)`,
    );
    if (endToEnd.length !== watchers * changes) console.log(`  WARNING: ${watchers * changes - endToEnd.length} deliveries missing`);

    collectGarbage();
    const mem = process.memoryUsage();
    const rssMb = mem.rss / 1024 / 1024;
    console.log(`memory with ${services} Services + ${nodes} Nodes: rss ${rssMb.toFixed(0)} MB (heap ${(mem.heapUsed / 1024 / 1024).toFixed(0)} MB) = ${(rssMb / 500).toFixed(2)} x the 500 MB bound`);

    await customResources(api.url);
    collectGarbage();
    const withCrs = process.memoryUsage().rss / 1024 / 1024;
    console.log(`memory with the ${customCount} custom resources added: rss ${withCrs.toFixed(0)} MB = ${(withCrs / 500).toFixed(2)} x the 500 MB bound`);
  } finally {
    agent.destroy();
    await api.stop();
  }
}
