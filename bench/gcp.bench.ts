// GCP provider against the fake Compute server, through the real @google-cloud/compute clients.
//  1. API calls per create, per update (ports) and per node change, against the minimum: every
//     mutation the change needs, each operation polled exactly the polls it takes to finish.
//  2. Convergence of 200 Services when every operation takes several polls, driven like the
//     controller does (8 workers, "in progress" requeues the key and frees the worker), against a
//     reference run in the same process where each worker waits on its Service's operations.
import { performance } from 'node:perf_hooks';
import type { GcpProvider } from '../providers/gcp/index.js';
import type { DesiredLoadBalancer } from '../providers/provider.js';
import { converge, desired, newRef, node, startHarness, tcp, type Harness } from '../test/gcp/gcpHarness.js';

const POLLS = 3;
const SERVICES = Number(process.env.GCP_BENCH_SERVICES ?? 200);
const WORKERS = 8;
// Real operations take seconds and the provider polls every 2 s by default; 200 ms keeps this short
// while the wait still dominates a Service's time, as it does on GCP.
const POLL_INTERVAL_MS = 200;

interface Tally {
  total: number;
  mutating: number;
  polls: number;
  reads: number;
}

function tally(h: Harness, from: number): Tally {
  const calls = h.fake.calls.slice(from);
  const mutating = calls.filter((c) => /\.(insert|patch|update|delete|addInstances|removeInstances)$/.test(c.operation)).length;
  const polls = calls.filter((c) => c.operation.startsWith('operations.')).length;
  return { total: calls.length, mutating, polls, reads: calls.length - mutating - polls };
}

function line(what: string, t: Tally, minMutating: number): string {
  const minimum = minMutating * (1 + POLLS);
  return `${what.padEnd(34)} calls ${String(t.total).padStart(5)} (mutating ${t.mutating}/${minMutating}, polls ${t.polls}/${minMutating * POLLS}, reads ${t.reads})  = ${(t.total / minimum).toFixed(2)}x the minimum ${minimum}`;
}

async function measure(h: Harness, fn: () => Promise<unknown>): Promise<Tally> {
  const from = h.fake.calls.length;
  await fn();
  return tally(h, from);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A controller-like driver: WORKERS workers over a queue of Services. */
async function drive(provider: GcpProvider, wants: DesiredLoadBalancer[], blocking: boolean): Promise<{ ms: number; reconciles: number }> {
  const queue = [...wants];
  const delayed = new Set<Promise<void>>();
  let reconciles = 0;
  let done = 0;
  const start = performance.now();
  const worker = async () => {
    while (done < wants.length) {
      const want = queue.shift();
      if (!want) {
        await sleep(2);
        continue;
      }
      for (;;) {
        reconciles += 1;
        const result = await provider.apply(provider.diff(await provider.observe(want.ref), want));
        if (result.state === 'ready') {
          done += 1;
          break;
        }
        if (blocking) {
          await sleep(result.retryAfterMs); // the worker is held while the cloud works
          continue;
        }
        const later: Promise<void> = sleep(result.retryAfterMs).then(() => {
          queue.push(want);
          delayed.delete(later);
        });
        delayed.add(later);
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { ms: performance.now() - start, reconciles };
}

export async function run(): Promise<void> {
  const h = await startHarness({ pollsToComplete: POLLS });
  try {
    const zones = ['us-central1-a', 'us-central1-b'];
    for (let i = 1; i <= 6; i++) h.fake.addInstance(zones[i % 2]!, `n${i}`);
    const nodes = [1, 2, 3, 4].map((i) => node(`n${i}`, zones[i % 2]!));
    const config = { pollIntervalMs: POLL_INTERVAL_MS, instanceGroupCacheMs: 10_000, observeCacheMs: 60_000, addressListCacheMs: 10_000 };

    console.log(`every operation needs ${POLLS} polls; minimum = mutations x (1 + ${POLLS})`);
    const p = h.newProvider(config);
    const first = newRef('first');
    console.log(line('first create (2 new zone groups)', await measure(h, () => converge(p, desired(first, nodes), 200)), 10));
    const second = newRef('second');
    console.log(line('create (groups exist)', await measure(h, () => converge(p, desired(second, nodes), 200)), 6));
    console.log(line('update: ports 80 -> 80,443', await measure(h, () => converge(p, desired(second, nodes, { ports: [tcp(80), tcp(443)] }), 200)), 3));
    console.log(line('update: source ranges', await measure(h, () => converge(p, desired(second, nodes, { ports: [tcp(80), tcp(443)], sourceRanges: ['10.0.0.0/8'] }), 200)), 1));
    const grown = [...nodes, node('n5', 'us-central1-b')];
    const settle = async (list: typeof nodes) => {
      await converge(p, desired(first, list), 200);
      await converge(p, desired(second, list, { ports: [tcp(80), tcp(443)], sourceRanges: ['10.0.0.0/8'] }), 200);
    };
    console.log(line('node joins (2 Services)', await measure(h, () => settle(grown)), 1));

    // Node change across many Services reconciling at once: still one membership operation.
    const many = Array.from({ length: 50 }, (_, i) => newRef(`m${i}`));
    await Promise.all(many.map((ref) => converge(p, desired(ref, grown), 400, 1)));
    const grown2 = [...grown, node('n6', 'us-central1-a')];
    const fleet = await measure(h, () => Promise.all(many.map((ref) => converge(p, desired(ref, grown2), 400, 1))));
    console.log(line('node joins (50 Services at once)', fleet, 1));
    console.log(`  per Service: ${(fleet.reads / many.length).toFixed(2)} reads (converged Services plan membership from their cached view), mutating calls in total: ${fleet.mutating}`);

    // Convergence of 200 Services.
    const wantsA = Array.from({ length: SERVICES }, (_, i) => desired(newRef(`c${i}`), grown2, { ports: [tcp(80 + (i % 5))] }));
    const wantsB = Array.from({ length: SERVICES }, (_, i) => desired(newRef(`b${i}`), grown2, { ports: [tcp(80 + (i % 5))] }));
    const fromA = h.fake.calls.length;
    const nonBlocking = await drive(h.newProvider(config), wantsA, false);
    const callsA = tally(h, fromA);
    const fromB = h.fake.calls.length;
    const blocking = await drive(h.newProvider(config), wantsB, true);
    const callsB = tally(h, fromB);
    console.log(`${SERVICES} Services, ${WORKERS} workers, ${POLLS} polls per operation, poll interval ${POLL_INTERVAL_MS} ms:`);
    console.log(`  requeue on "in progress" (this provider): ${(nonBlocking.ms / 1000).toFixed(2)} s, ${nonBlocking.reconciles} reconciles, ${callsA.total} calls (${(callsA.total / SERVICES).toFixed(1)}/Service, minimum ${6 * (1 + POLLS)})`);
    console.log(`  reference, workers wait on operations: ${(blocking.ms / 1000).toFixed(2)} s, ${blocking.reconciles} reconciles, ${callsB.total} calls (${(callsB.total / SERVICES).toFixed(1)}/Service)`);
    console.log(`  convergence time ratio (requeue / wait): ${(nonBlocking.ms / blocking.ms).toFixed(2)}`);
    const single = await drive(h.newProvider(config), [desired(newRef('alone'), grown2)], false);
    console.log(`  one Service alone takes ${(single.ms / 1000).toFixed(2)} s: 200 Services take ${(nonBlocking.ms / single.ms).toFixed(1)}x that (waiting workers: ${(blocking.ms / single.ms).toFixed(1)}x)`);
    if (h.fake.pendingOperations() > 0) console.log(`  note: ${h.fake.pendingOperations()} operations never polled to completion`);
  } finally {
    await h.close();
  }
}
