// AWS provider benchmark against moto_server behind the fault proxy (which enforces a server-side
// rate limit like AWS's). Counts API calls (read and mutating) per create, per port change, per node
// added/removed across 200 Services and per steady-state resync, each against the minimum a
// provider needs; reports convergence time of 200 Services against the rate-limit bound.
import { RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { elbRateFamily, type RateFamily } from '../providers/aws/awsApi.js';
import { isNoop, type DesiredLoadBalancer } from '../providers/provider.js';
import { converge, makeService, startAwsHarness, type AwsHarness } from '../test/aws/support/awsHarness.js';

const SERVICES = 200;
const WORKERS = 8;
// Production buckets are per action family (ELB Describe* 50/s burst 200, Modify* 3/s burst 20,
// Register/Deregister 4/s burst 20, other ELB 10/s burst 40; EC2 20/s burst 100). Rates are scaled
// by SCALE so the run fits in a few minutes; the figures are ratios, which the scale does not change.
const SCALE = 3;
// moto is single-threaded Python and slows down as it holds more resources, so the per-Service
// figures after the convergence run are measured on a sample of the 200 Services (the per-Service
// cost does not depend on how many Services exist: every call is scoped to one Service).
const SAMPLE = 25;

/** ELB actions the provider calls (the rest are EC2's). */
const ELB_OPERATIONS = new Set([
  'AddTags', 'CreateListener', 'CreateLoadBalancer', 'CreateTargetGroup', 'DeleteListener', 'DeleteLoadBalancer', 'DeleteTargetGroup',
  'DeregisterTargets', 'DescribeListeners', 'DescribeLoadBalancers', 'DescribeTags', 'DescribeTargetGroupAttributes', 'DescribeTargetGroups',
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

async function reconcileAll(h: AwsHarness, services: DesiredLoadBalancer[]): Promise<void> {
  await pool(services, WORKERS, async (svc) => {
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    if (!isNoop(plan)) await h.provider.apply(plan);
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
  const limits = {
    registration: { ratePerSecond: 4 * SCALE, burst: 20 },
    describe: { ratePerSecond: 50 * SCALE, burst: 200 },
    modify: { ratePerSecond: 3 * SCALE, burst: 20 },
    other: { ratePerSecond: 10 * SCALE, burst: 40 },
    ec2: { ratePerSecond: 20 * SCALE, burst: 100 },
  };
  // Production retry timing: jittered backoff from 200 ms.
  // An account whose NLB quota was raised for 200 Services (AWS's default is 50 per Region).
  const h = await startAwsHarness({ clusterName: 'bench', nodes: 5, config: { rateLimits: limits, quotas: { loadBalancersPerRegion: 1000 } }, retryTiming: { minTimeoutMs: 200, maxTimeoutMs: 10_000 } });
  h.proxy.rules.state.quotas.loadBalancersPerRegion = 1000;
  try {
    // The account's server-side limit, a little below the client's, so the client gets throttled too.
    const serverRate = 9 * SCALE;
    h.proxy.setRateLimit({ perSecond: serverRate, burst: 40 });
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
    // The buckets refill in parallel, so the run takes at least as long as the busiest one (after its
    // burst) needs, and as long as the server's limit needs for all calls together.
    const answered = h.calls.calls.filter((c) => c.outcome !== 'throttled');
    const perFamily = new Map<RateFamily, number>();
    for (const c of answered) {
      const family: RateFamily = ELB_OPERATIONS.has(c.operation) ? elbRateFamily(c.operation) : 'ec2';
      perFamily.set(family, (perFamily.get(family) ?? 0) + 1);
    }
    const familyBounds = [...perFamily].map(([family, n]) => ({ family, seconds: Math.max(0, n - limits[family].burst) / limits[family].ratePerSecond }));
    const bound = Math.max(ok / serverRate, ...familyBounds.map((b) => b.seconds));
    console.log(`answered calls by bucket: ${[...perFamily].map(([f, n]) => `${f} ${n}`).join(', ')}; bound per bucket: ${familyBounds.map((b) => `${b.family} ${fmt(b.seconds)} s`).join(', ')}; server ${fmt(ok / serverRate)} s`);
    console.log(
      `convergence of ${SERVICES} Services: ${fmt(seconds)} s for ${ok} answered calls (${throttled} throttled, ${fmt(throttled / ok)} per useful call); ` +
        `rate-limit bound (slowest of the server and each client bucket) ${fmt(bound)} s -> x${fmt(seconds / bound)} of the bound; reconciles that gave up and were requeued: ${failedReconciles}`,
    );
    // When the achieved rate is well under the allowed one, moto (single-threaded Python on a
    // shared machine) is what limits the run, not the rate limiter.
    console.log(`achieved ${fmt(ok / seconds)} useful calls/s of the ${fmt(ok / bound)}/s the limits allow`);
    h.proxy.setRateLimit(undefined);

    const sample = services.filter((_, i) => i % (SERVICES / SAMPLE) === 0);
    console.log(`per Service, measured on ${sample.length} of the ${SERVICES} Services:`);
    // Steady-state resync: nothing changes. Minimum reads: NLB, listeners, target groups, their
    // attributes (stickiness drift), targets. Every observe below needs the same five.
    const OBSERVE_READS = 5;
    h.calls.reset();
    await reconcileAll(h, sample);
    report(h, 'steady-state resync', sample.length, OBSERVE_READS, 0);

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
