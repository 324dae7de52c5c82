// AWS provider benchmark against moto_server behind the fault proxy (which enforces a server-side
// rate limit like AWS's). Counts API calls (read and mutating) per create, per port change, per node
// added/removed and per resync, each against the minimum a provider needs, and the convergence
// time of every Service against the rate-limit bound; then prints issue 16's table, each figure
// against its target. AWS_BENCH_SERVICES sets how many Services (2,000 by default).
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { elbRateFamily, type RateFamily } from '../providers/aws/awsApi.js';
import { isNoop, type DesiredLoadBalancer } from '../providers/provider.js';
import type { AwsProvider } from '../providers/aws/index.js';
import { awsConfigSchema } from '../providers/aws/config.js';
import { converge, makeService, startAwsHarness, type AwsHarness } from '../test/aws/support/awsHarness.js';

const SERVICES = Number(process.env.AWS_BENCH_SERVICES ?? 2000);
const WORKERS = 8;
// Production buckets are per action family (ELB Describe* 50/s burst 200, Modify* 3/s burst 20,
// Register/Deregister 4/s burst 20, other ELB 10/s burst 40; EC2 20/s burst 100), and so are the
// server's: the fault proxy throttles each family at 0.9 of the client's rate, as AWS would an
// account whose limits sit a little under the client's. Rates are scaled by SCALE (below 1: the
// limits together allow more calls per second than moto, single-threaded Python on a shared
// machine, answers, and the run would measure moto; AWS_BENCH_SCALE sets it). The figures are ratios,
// which the scale does not change.
const SCALE = Number(process.env.AWS_BENCH_SCALE ?? 1);
const SERVER_SHARE = 0.9;
// moto is single-threaded Python and slows down as it holds more resources, so the per-Service
// figures of single Services' changes after the convergence run are measured on a sample of them
// (their cost does not depend on how many Services exist: every call is scoped to one Service).
const SAMPLE = 25;

/** ELB actions the provider calls (the rest are EC2's). */
const ELB_OPERATIONS = new Set([
  'AddTags', 'CreateListener', 'CreateLoadBalancer', 'CreateTargetGroup', 'DeleteListener', 'DeleteLoadBalancer', 'DeleteTargetGroup',
  'DeregisterTargets', 'DescribeListenerAttributes', 'DescribeListeners', 'DescribeLoadBalancerAttributes', 'DescribeLoadBalancers', 'DescribeTags', 'DescribeTargetGroupAttributes', 'DescribeTargetGroups',
  'DescribeTargetHealth', 'ModifyListener', 'ModifyTargetGroup', 'ModifyTargetGroupAttributes', 'RegisterTargets', 'SetSubnets',
]);

/** The reads only a deep read makes (observe.ts readDeep): drift that list-level reads cannot show. */
const DEEP_OPERATIONS = new Set(['DescribeListeners', 'DescribeTargetHealth', 'DescribeTargetGroupAttributes', 'DescribeLoadBalancerAttributes', 'DescribeListenerAttributes', 'DescribeListenerCertificates']);

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

/** Prints reads and mutating calls per Service against the minimum; answers the reads per Service. */
function report(h: AwsHarness, label: string, per: number, minRead: number, minMutating: number): number {
  // Calls AWS answered (a not-found answer to a find-before-create counts); throttled attempts are
  // reported with the convergence figure.
  const answered = h.calls.calls.filter((c) => c.outcome !== 'throttled');
  const reads = answered.filter((c) => !c.mutating).length / per;
  const writes = answered.filter((c) => c.mutating).length / per;
  // Calls AWS answered with an error count too: the not-found answers of a find-before-create, and
  // any failure the retry layer made again. Shown, so that the second kind is not taken for design.
  const errors = answered.filter((c) => c.outcome === 'error').length;
  console.log(
    `${label.padEnd(44)} reads ${fmt(reads).padStart(6)} (min ${fmt(minRead)}, x${fmt(reads / minRead)})   mutating ${fmt(writes).padStart(6)} (min ${minMutating}, x${minMutating ? fmt(writes / minMutating) : '-'})` +
      (errors > 0 ? `   ${errors} answered with an error` : ''),
  );
  return reads;
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
  const benchStarted = performance.now();
  const h = await startAwsHarness({ clusterName: 'bench', nodes: 5, config: { rateLimits: limits, quotas: { loadBalancersPerRegion: 2 * SERVICES } }, retryTiming: { minTimeoutMs: 200, maxTimeoutMs: 10_000 } });
  h.proxy.rules.state.quotas.loadBalancersPerRegion = 2 * SERVICES;
  try {
    h.proxy.setRateLimits(server, (r) => familyOf(r.action));
    const services = Array.from({ length: SERVICES }, (_, i) => makeService(h, { name: `bench-${i}` }));

    // Create: minimum reads = one existence check + one look at the provisioning NLB; minimum
    // mutating = NLB + target group + listener + RegisterTargets for one port. Beyond that a create
    // reads the backend group (a sweep may have deleted it) and the target group's name (AWS would
    // answer another's with the same settings as if made); the existence check is one page of
    // anchors shared by every first look while the snapshot is current.
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
    const createReads = report(h, 'create', SERVICES, 2, 4);
    // The families' buckets refill in parallel, so the run takes at least as long as the busiest
    // family needs (after its burst) at the lower of the client's and the server's rate.
    const answered = h.calls.calls.filter((c) => c.outcome !== 'throttled');
    const perFamily = new Map<RateFamily, number>();
    for (const c of answered) perFamily.set(familyOf(c.operation), (perFamily.get(familyOf(c.operation)) ?? 0) + 1);
    const familyBounds = [...perFamily].map(([family, n]) => ({ family, seconds: Math.max(0, n - limits[family].burst) / Math.min(limits[family].ratePerSecond, server[family].perSecond) }));
    const bound = Math.max(...familyBounds.map((b) => b.seconds));
    console.log(`answered calls by family: ${[...perFamily].map(([f, n]) => `${f} ${n}`).join(', ')}; bound per family: ${familyBounds.map((b) => `${b.family} ${fmt(b.seconds)} s`).join(', ')}`);
    const convergence = seconds / bound;
    console.log(
      `convergence of ${SERVICES} Services: ${fmt(seconds)} s for ${ok} answered calls (${throttled} throttled, ${fmt(throttled / ok)} per useful call); ` +
        `rate-limit bound (busiest family) ${fmt(bound)} s -> x${fmt(seconds / bound)} of the bound; reconciles that gave up and were requeued: ${failedReconciles}`,
    );
    // When the achieved rate is well under the allowed one, moto (single-threaded Python on a
    // shared machine) is what limits the run, not the rate limiter.
    console.log(`achieved ${fmt(ok / seconds)} useful calls/s of the ${fmt(ok / bound)}/s the limits allow`);
    h.proxy.setRateLimits(undefined);

    // Resyncs of every Service, on a provider whose read cache runs on the bench's clock. Its first
    // resync is a restart: nothing kept, so every Service's deep read falls due at once, which is
    // what a deep cycle costs (spread over it). Minimum: the list-level snapshot (below) and per
    // Service its listeners, targets and target group attributes, the three reads only deep reads show.
    const defaults = awsConfigSchema.parse({ type: 'aws' });
    const clock = { now: 1_000_000 };
    const resyncing = await h.newProvider({ now: () => clock.now });
    // The list-level snapshot: a page each of anchors (1000 a page), NLBs and target groups (400 a
    // page), and DescribeTags for 2 ARNs per Service, 20 a call.
    const listLevel = (Math.ceil(SERVICES / 1000) + 2 * Math.ceil(SERVICES / 400) + Math.ceil((2 * SERVICES) / 20)) / SERVICES;
    h.calls.reset();
    await reconcileAll(h, services, resyncing);
    const restartReads = report(h, 'restart (every Service due at once)', SERVICES, 3 + listLevel, 0);
    const elbDescribes = () => h.calls.calls.filter((c) => c.outcome !== 'throttled' && c.operation.startsWith('Describe') && familyOf(c.operation) === 'describe').length;
    const deepReads = elbDescribes();
    // Steady state: past the list snapshot's life, before the deep cycle.
    clock.now += (defaults.listSnapshotSeconds + 1) * 1000;
    h.calls.reset();
    await reconcileAll(h, services, resyncing);
    const steadyReadsPer = report(h, 'steady-state resync', SERVICES, listLevel, 0);
    const steadyReads = elbDescribes();
    // Past the deep cycle without a restart: the same deep reads, on the same list-level reads.
    clock.now += defaults.deepReadIntervalSeconds * 1000;
    h.calls.reset();
    await reconcileAll(h, services, resyncing);
    const deepPassReads = report(h, 'resync past deepReadIntervalSeconds', SERVICES, 3 + listLevel, 0);
    const byOperation = new Map<string, number>();
    for (const c of h.calls.calls.filter((x) => !x.mutating && x.outcome !== 'throttled')) byOperation.set(c.operation, (byOperation.get(c.operation) ?? 0) + 1);
    console.log(`  its reads by operation: ${[...byOperation].sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op} ${n}`).join(', ')}`);
    // The deep cycle's own reads: the calls only deep reads make. The rest of that resync is the
    // list-level snapshot every resync reads (the steady-state row), and, when its 300 s ran out
    // meanwhile (on the wall clock: a long pass at 2,000 Services), the environment cache's refresh
    // (subnets, addresses, prefix lists, node rules, the NLB count): neither is due to the deep cycle.
    const deepCycleReads = [...byOperation].filter(([op]) => DEEP_OPERATIONS.has(op)).reduce((sum, [, n]) => sum + n, 0) / SERVICES;
    await resyncing.stop?.();
    // ELB Describe* calls per second in steady state: a list-level resync every resyncPeriodSeconds (300
    // by default), and each Service's deep reads every 3/4 of the deep cycle on average (spread over
    // half to all of it).
    const perSecond = steadyReads / 300 + (deepReads - steadyReads) / (0.75 * defaults.deepReadIntervalSeconds);
    const describeShare = perSecond / 50;
    console.log(
      `describe calls per second in steady state (resync 300 s, deep cycle ${defaults.deepReadIntervalSeconds} s): ${fmt(perSecond)} for ${SERVICES} Services, ` +
        `${fmt(100 * describeShare)}% of ELBv2's 50/s Describe* rate`,
    );

    const sample = services.filter((_, i) => i % Math.max(1, Math.floor(SERVICES / SAMPLE)) === 0).slice(0, SAMPLE);
    const OBSERVE_READS = 5;
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

    // Delete, as the controller does it: the provider that made and reconciled the Services.
    // Minimum: find the NLB (what was kept names it), delete it and its target group.
    const deleting = sample.slice(0, Math.ceil(sample.length / 2));
    h.calls.reset();
    await pool(deleting, WORKERS, async (s) => {
      await h.provider.delete(s.ref);
    });
    const deleteReads = report(h, 'delete', deleting.length, 1, 2);
    // After a restart nothing is kept: the anchor, the NLB, its listeners and groups, their tags.
    const restarted = await h.newProvider();
    const rest = sample.slice(deleting.length);
    h.calls.reset();
    await pool(rest, WORKERS, async (s) => {
      await restarted.delete(s.ref);
    });
    report(h, 'delete after a restart (nothing kept)', rest.length, 1, 2);
    await restarted.stop?.();

    const rows: [string, number, number, string][] = [
      ['steady-state resync, reads per Service', steadyReadsPer, 0.2, ''],
      ['deep-cycle reads per Service (the reads only deep reads make)', deepCycleReads, 3, `(listeners, target health, target group attributes; that resync read ${fmt(deepPassReads)} in all, a restart ${fmt(restartReads)})`],
      ['create, reads per Service', createReads, 4, ''],
      ['delete, reads per Service', deleteReads, 2, ''],
      ['describe calls/s in steady state, share of ELBv2 50/s', describeShare, 1, `(${fmt(perSecond)} calls/s)`],
      [`${SERVICES} Services converging under the API rate limits, x the bound`, convergence, 1.1, ''],
    ];
    console.log(`\nissue 16, ${SERVICES} Services (figure / target, ratio; met when the ratio is at most 1):`);
    for (const [label, figure, target, note] of rows) {
      console.log(`  ${label.padEnd(70)} ${fmt(figure).padStart(7)} / ${fmt(target).padEnd(5)} x${fmt(figure / target)} ${figure <= target ? 'met' : 'NOT met'} ${note}`);
    }
    console.log(`bench ran ${fmt((performance.now() - benchStarted) / 1000)} s`);
  } finally {
    await h.stop();
  }
}
