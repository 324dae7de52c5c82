// AWS provider benchmark against moto_server behind the fault proxy (which enforces a server-side
// rate limit like AWS's). Counts API calls (read and mutating) per create, per port change, per node
// added/removed across 200 Services and per steady-state resync, each against the minimum a
// provider needs; reports convergence time of 200 Services against the rate-limit bound.
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { elbRateFamily, type RateFamily } from '../providers/aws/awsApi.js';
import { isNoop, type DesiredLoadBalancer } from '../providers/provider.js';
import type { AwsProvider } from '../providers/aws/index.js';
import { awsConfigSchema } from '../providers/aws/config.js';
import { converge, makeService, startAwsHarness, type AwsHarness } from '../test/aws/support/awsHarness.js';

const SERVICES = 200;
const WORKERS = 8;
// Production buckets are per action family (ELB Describe* 50/s burst 200, Modify* 3/s burst 20,
// Register/Deregister 4/s burst 20, other ELB 10/s burst 40; EC2 20/s burst 100), and so are the
// server's: the fault proxy throttles each family at 0.9 of the client's rate, as AWS would an
// account whose limits sit a little under the client's. Rates are scaled by SCALE (below 1: the
// limits together allow more calls per second than moto, single-threaded Python on a shared
// machine, answers, and the run would measure moto). The figures are ratios, which the scale does not change.
const SCALE = 0.4;
const SERVER_SHARE = 0.9;
// moto is single-threaded Python and slows down as it holds more resources, so the per-Service
// figures after the convergence run are measured on a sample of the 200 Services (the per-Service
// cost does not depend on how many Services exist: every call is scoped to one Service).
const SAMPLE = 25;

/** ELB actions the provider calls (the rest are EC2's). */
const ELB_OPERATIONS = new Set([
  'AddTags', 'CreateListener', 'CreateLoadBalancer', 'CreateTargetGroup', 'DeleteListener', 'DeleteLoadBalancer', 'DeleteTargetGroup',
  'DeregisterTargets', 'DescribeListenerAttributes', 'DescribeListeners', 'DescribeLoadBalancerAttributes', 'DescribeLoadBalancers', 'DescribeTags', 'DescribeTargetGroupAttributes', 'DescribeTargetGroups',
  'DescribeTargetHealth', 'ModifyListener', 'ModifyTargetGroup', 'ModifyTargetGroupAttributes', 'RegisterTargets', 'SetSubnets',
]);

function fmt(n: number): string {
  return n.toFixed(2);
}

async function pool<T>(items: T[], workers: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function reconcileAll(h: AwsHarness, services: DesiredLoadBalancer[], provider: AwsProvider = h.provider): Promise<void> {
  await pool(services, WORKERS, async (svc) => {
    const plan = provider.diff(await provider.observe(svc.ref, svc), svc);
    if (!isNoop(plan)) await provider.apply(plan);
  });
}

function report(h: AwsHarness, label: string, per: number, minRead: number, minMutating: number): void {
  // Calls AWS answered (a not-found answer to a find-before-create counts); throttled attempts are
  // reported with the convergence figure.
  const answered = h.calls.calls.filter((c) => c.outcome !== 'throttled');
  const reads = answered.filter((c) => !c.mutating).length / per;
  const writes = answered.filter((c) => c.mutating).length / per;
  console.log(
    `${label.padEnd(40)} reads ${fmt(reads).padStart(6)} (min ${minRead}, x${fmt(reads / minRead)})   mutating ${fmt(writes).padStart(6)} (min ${minMutating}, x${minMutating ? fmt(writes / minMutating) : '-'})`,
  );
}

export async function run(): Promise<void> {
  const limits: Record<RateFamily, { ratePerSecond: number; burst: number }> = {
    registration: { ratePerSecond: 4 * SCALE, burst: 20 },
    describe: { ratePerSecond: 50 * SCALE, burst: 200 },
    modify: { ratePerSecond: 3 * SCALE, burst: 20 },
    other: { ratePerSecond: 10 * SCALE, burst: 40 },
    ec2: { ratePerSecond: 20 * SCALE, burst: 100 },
  };
  const server = Object.fromEntries(Object.entries(limits).map(([f, l]) => [f, { perSecond: l.ratePerSecond * SERVER_SHARE, burst: l.burst }])) as Record<RateFamily, { perSecond: number; burst: number }>;
  const familyOf = (operation: string): RateFamily => (ELB_OPERATIONS.has(operation) ? elbRateFamily(operation) : 'ec2');
  // Production retry timing (jittered backoff from 200 ms), and an account whose NLB quota was
  // raised for 200 Services (AWS's default is 50 per Region).
  const h = await startAwsHarness({ clusterName: 'bench', nodes: 5, config: { rateLimits: limits, quotas: { loadBalancersPerRegion: 1000 } }, retryTiming: { minTimeoutMs: 200, maxTimeoutMs: 10_000 } });
  h.proxy.rules.state.quotas.loadBalancersPerRegion = 1000;
  try {
    h.proxy.setRateLimits(server, (r) => familyOf(r.action));
    const services = Array.from({ length: SERVICES }, (_, i) => makeService(h, { name: `bench-${i}` }));

    // Create: minimum reads = one existence check + one look at the provisioning NLB; minimum
    // mutating = NLB + target group + listener + RegisterTargets for one port.
    h.calls.reset();
    const started = performance.now();
    let failedReconciles = 0;
    await pool(services, WORKERS, async (svc) => {
      // As the controller does: a reconcile that fails (retries exhausted) is requeued.
      for (;;) {
        try {
          await converge(h.provider, svc, 20);
          return;
        } catch {
          failedReconciles++;
        }
      }
    });
    const seconds = (performance.now() - started) / 1000;
    const ok = h.calls.calls.length - h.calls.count({ outcome: 'throttled' });
    const throttled = h.calls.count({ outcome: 'throttled' });
    console.log(`calls per Service (1 port, ${h.world.nodes.length} nodes, ${SERVICES} Services, ${WORKERS} workers; rates x${SCALE})`);
    report(h, 'create', SERVICES, 2, 4);
    // The families' buckets refill in parallel, so the run takes at least as long as the busiest
    // family needs (after its burst) at the lower of the client's and the server's rate.
    const answered = h.calls.calls.filter((c) => c.outcome !== 'throttled');
    const perFamily = new Map<RateFamily, number>();
    for (const c of answered) perFamily.set(familyOf(c.operation), (perFamily.get(familyOf(c.operation)) ?? 0) + 1);
    const familyBounds = [...perFamily].map(([family, n]) => ({ family, seconds: Math.max(0, n - limits[family].burst) / Math.min(limits[family].ratePerSecond, server[family].perSecond) }));
    const bound = Math.max(...familyBounds.map((b) => b.seconds));
    console.log(`answered calls by family: ${[...perFamily].map(([f, n]) => `${f} ${n}`).join(', ')}; bound per family: ${familyBounds.map((b) => `${b.family} ${fmt(b.seconds)} s`).join(', ')}`);
    console.log(
      `convergence of ${SERVICES} Services: ${fmt(seconds)} s for ${ok} answered calls (${throttled} throttled, ${fmt(throttled / ok)} per useful call); ` +
        `rate-limit bound (busiest family) ${fmt(bound)} s -> x${fmt(seconds / bound)} of the bound; reconciles that gave up and were requeued: ${failedReconciles}`,
    );
    // When the achieved rate is well under the allowed one, moto (single-threaded Python on a
    // shared machine) is what limits the run, not the rate limiter.
    console.log(`achieved ${fmt(ok / seconds)} useful calls/s of the ${fmt(ok / bound)}/s the limits allow`);
    h.proxy.setRateLimits(undefined);

    // Resyncs of all 200, on a provider whose read cache runs on the bench's clock (as after a
    // restart: its first resync reads every Service fully, which is also what a deep cycle costs).
    const defaults = awsConfigSchema.parse({ type: 'aws' });
    const clock = { now: 1_000_000 };
    const resyncing = await h.newProvider({ now: () => clock.now });
    const OBSERVE_READS = 5;
    h.calls.reset();
    await reconcileAll(h, services, resyncing);
    report(h, 'deep-cycle resync (every Service fully)', SERVICES, OBSERVE_READS, 0);
    const elbDescribes = () => h.calls.calls.filter((c) => c.outcome !== 'throttled' && c.operation.startsWith('Describe') && familyOf(c.operation) === 'describe').length;
    const deepReads = elbDescribes();
    // Steady state: past the list snapshot's life, before the deep cycle. Minimum: the snapshot's
    // list pages (anchors, NLBs, target groups: one each per 400) and DescribeTags for 400 ARNs in 20s.
    clock.now += (defaults.listSnapshotSeconds + 1) * 1000;
    h.calls.reset();
    await reconcileAll(h, services, resyncing);
    report(h, 'steady-state resync', SERVICES, (3 + (2 * SERVICES) / 20) / SERVICES, 0);
    await resyncing.stop?.();
    // ELB Describe* calls per second in steady state: a list-level resync every resyncPeriodSeconds (300
    // by default), and each Service's deep read every 3/4 of the deep cycle on average (spread over
    // half to all of it).
    const steadyReads = elbDescribes();
    const perSecond = steadyReads / 300 + deepReads / (0.75 * defaults.deepReadIntervalSeconds);
    console.log(
      `describe calls per second in steady state (resync 300 s, deep cycle ${defaults.deepReadIntervalSeconds} s): ${fmt(perSecond)} for ${SERVICES} Services, ` +
        `${fmt((100 * perSecond) / 50)}% of ELBv2's 50/s Describe* rate; at 2,000 Services ${fmt((10 * perSecond * 100) / 50)}%`,
    );

    const sample = services.filter((_, i) => i % (SERVICES / SAMPLE) === 0);
    console.log(`per Service, measured on ${sample.length} of the ${SERVICES} Services:`);

    // A node joins: every Service registers it (membership only).
    const run = await h.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, SubnetId: Object.values(h.world.privateSubnets)[0] }));
    const instanceId = run.Instances![0]!.InstanceId!;
    for (const svc of sample) svc.nodes = [...svc.nodes, { name: 'new-node', providerID: `aws:///us-east-1a/${instanceId}`, internalIPs: [], externalIPs: [], labels: {} }];
    h.calls.reset();
    await reconcileAll(h, sample);
    report(h, 'node added', sample.length, OBSERVE_READS, 1);

    for (const svc of sample) svc.nodes = svc.nodes.filter((n) => n.name !== 'new-node');
    h.calls.reset();
    await reconcileAll(h, sample);
    report(h, 'node removed', sample.length, OBSERVE_READS, 1);
    await h.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));

    // Port change on one Service: a new port (target group, listener, registration) and a moved NodePort.
    const svc = services[0]!;
    svc.ports = [
      { name: 'http', protocol: 'TCP', port: 80, nodePort: 31080 },
      { name: 'https', protocol: 'TCP', port: 443, nodePort: 31443 },
    ];
    h.calls.reset();
    await converge(h.provider, svc);
    // Minimum: add 443 (target group, listener, register) + move 80 (deregister, register).
    report(h, 'port change (add 443, move 80 NodePort)', 1, OBSERVE_READS, 5);

    h.calls.reset();
    await pool(sample, WORKERS, async (s) => {
      await h.provider.delete(s.ref);
    });
    // Minimum: find the NLB, delete it and its target group.
    report(h, 'delete', sample.length, 1, 2);
  } finally {
    await h.stop();
  }
}
