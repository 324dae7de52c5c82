// Shared by the AWS tests and the benchmark: moto (optionally behind the fault proxy), a seeded
// world, a provider wired to it with call accounting, Service builders and an inventory of what
// moto holds.
import { randomUUID } from 'node:crypto';
import { DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  DescribeListenersCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { createAwsProvider, type AwsProvider, type AwsProviderOptions } from '../../../providers/aws/index.js';
import { awsConfigSchema } from '../../../providers/aws/config.js';
import { isNoop, type ApplyResult, type CallOutcome, type DesiredLoadBalancer, type ProviderEvent } from '../../../providers/provider.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { MOTO_REGION, motoClients, seedWorld, startMoto, type Moto, type SeededWorld } from '../../support/moto.js';
import { startFaultProxy, type FaultProxy } from './faultProxy.js';
import { desiredFixture } from '../../support/desiredFixture.js';

/** Tests that are not about rate limits should not wait on the production token buckets. */
const FAST = { ratePerSecond: 1000, burst: 1000 };
const FAST_LIMITS = { registration: FAST, describe: FAST, modify: FAST, other: FAST, ec2: FAST };

export interface CallLog {
  calls: { operation: string; mutating: boolean; outcome: CallOutcome }[];
  reset(): void;
  count(filter?: { mutating?: boolean; operation?: string; outcome?: CallOutcome }): number;
}

export function callLog(): CallLog {
  const log: CallLog = {
    calls: [],
    reset() {
      log.calls.length = 0;
    },
    count(filter = {}) {
      return log.calls.filter(
        (c) =>
          (filter.mutating === undefined || c.mutating === filter.mutating) &&
          (filter.operation === undefined || c.operation === filter.operation) &&
          (filter.outcome === undefined || c.outcome === filter.outcome),
      ).length;
    },
  };
  return log;
}

export interface AwsHarness {
  moto: Moto;
  proxy: FaultProxy;
  world: SeededWorld;
  clusterName: string;
  ec2: EC2Client;
  elbv2: ElasticLoadBalancingV2Client;
  calls: CallLog;
  events: ProviderEvent[];
  provider: AwsProvider;
  /** A second provider instance on the same cloud, as after a controller restart. */
  newProvider(options?: AwsProviderOptions, configOverrides?: Record<string, unknown>, services?: () => DesiredLoadBalancer[]): Promise<AwsProvider>;
  stop(): Promise<void>;
}

export async function startAwsHarness(
  opts: { clusterName?: string; nodes?: number; config?: Record<string, unknown>; retryTiming?: AwsProviderOptions['retryTiming'] } = {},
): Promise<AwsHarness> {
  const clusterName = opts.clusterName ?? 'test-cluster';
  const moto = await startMoto();
  const proxy = await startFaultProxy({ target: moto.endpoint });
  const { ec2, elbv2 } = motoClients(moto.endpoint);
  const world = await seedWorld(ec2, { clusterName, nodes: opts.nodes ?? 3 });
  const calls = callLog();
  const events: ProviderEvent[] = [];
  const newProvider = async (options: AwsProviderOptions = {}, configOverrides: Record<string, unknown> = {}, services: () => DesiredLoadBalancer[] = () => []) => {
    const config = awsConfigSchema.parse({ type: 'aws', region: MOTO_REGION, endpoint: proxy.endpoint, environmentCacheSeconds: 60, rateLimits: FAST_LIMITS, ...opts.config, ...configOverrides });
    const provider = await createAwsProvider(
      config,
      { clusterName, logger: silentLogger(), record: (c) => calls.calls.push({ operation: c.operation, mutating: c.mutating, outcome: c.outcome }) },
      { credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, retryTiming: opts.retryTiming ?? { minTimeoutMs: 20, maxTimeoutMs: 500 }, ...options },
    );
    await provider.start?.({ listServices: services, requeue: () => undefined, emit: (e) => events.push(e) });
    return provider;
  };
  const provider = await newProvider();
  return {
    moto,
    proxy,
    world,
    clusterName,
    ec2,
    elbv2,
    calls,
    events,
    provider,
    newProvider,
    async stop() {
      await provider.stop?.();
      ec2.destroy();
      elbv2.destroy();
      await proxy.close();
      await moto.stop();
    },
  };
}

/** Selects the resources tagged for one Service uid (our own ownership tag). */
export const ownedBy = (uid: string) => (r: { tags: Record<string, string> }) => r.tags['kube-lb-provisioner.io/service-uid'] === uid;

export function makeService(h: Pick<AwsHarness, 'world' | 'clusterName'>, overrides: Partial<DesiredLoadBalancer> & { name?: string } = {}): DesiredLoadBalancer {
  const { name = `svc-${randomUUID().slice(0, 8)}`, ...rest } = overrides;
  return desiredFixture({
    ref: { namespace: 'default', name, uid: randomUUID() },
    clusterName: h.clusterName,
    nodes: h.world.nodes.map((n) => ({ name: n.name, providerID: n.providerID, internalIPs: [n.privateIp], externalIPs: [], zone: n.zone, labels: {} })),
    selector: { app: name },
    ...rest,
  });
}

/** Runs observe -> diff -> apply until the provider says ready, as the controller's requeues would. */
export async function converge(provider: AwsProvider, desired: DesiredLoadBalancer, maxRounds = 8): Promise<{ result: Extract<ApplyResult, { state: 'ready' }>; rounds: number; results: ApplyResult[] }> {
  const results: ApplyResult[] = [];
  for (let round = 1; round <= maxRounds; round++) {
    const observed = await provider.observe(desired.ref, desired);
    const plan = provider.diff(observed, desired);
    const result = await provider.apply(plan);
    results.push(result);
    if (result.state === 'ready') return { result, rounds: round, results };
  }
  throw new Error(`did not converge in ${maxRounds} rounds: ${JSON.stringify(results.at(-1))}`);
}

/** True when a fresh observe+diff finds nothing to change. */
export async function isSteady(provider: AwsProvider, desired: DesiredLoadBalancer): Promise<boolean> {
  return isNoop(provider.diff(await provider.observe(desired.ref, desired), desired));
}

export interface Inventory {
  loadBalancers: { name: string; arn: string; dnsName: string; tags: Record<string, string>; securityGroups: string[] }[];
  listeners: { lbName: string; port: number; protocol: string; targetGroupArn: string }[];
  targetGroups: { name: string; arn: string; protocol: string; healthCheck: { protocol: string; port: string; path?: string }; tags: Record<string, string>; targets: string[] }[];
  /** Security groups that carry a service uid tag (ours, one per NLB). */
  securityGroups: { id: string; name: string; tags: Record<string, string>; ingress: string[] }[];
  /** The cluster's shared backend groups (there must be one). */
  backendGroups: string[];
  /** Ingress rules in the node security group that reference another group, as "proto/from-to". */
  nodeRules: { source: string; rule: string; tags: Record<string, string> }[];
}

function tags(list: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
  return Object.fromEntries((list ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

export async function inventory(h: Pick<AwsHarness, 'ec2' | 'elbv2' | 'world'>): Promise<Inventory> {
  const lbs = (await h.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
  const tgs = (await h.elbv2.send(new DescribeTargetGroupsCommand({}))).TargetGroups ?? [];
  const arns = [...lbs.map((l) => l.LoadBalancerArn!), ...tgs.map((t) => t.TargetGroupArn!)];
  const tagsByArn = new Map<string, Record<string, string>>();
  for (let i = 0; i < arns.length; i += 20) {
    const res = await h.elbv2.send(new DescribeTagsCommand({ ResourceArns: arns.slice(i, i + 20) }));
    for (const d of res.TagDescriptions ?? []) tagsByArn.set(d.ResourceArn!, tags(d.Tags));
  }
  const listeners: Inventory['listeners'] = [];
  for (const lb of lbs) {
    const res = await h.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }));
    for (const l of res.Listeners ?? []) listeners.push({ lbName: lb.LoadBalancerName!, port: l.Port!, protocol: l.Protocol!, targetGroupArn: l.DefaultActions?.[0]?.TargetGroupArn ?? '' });
  }
  const targetGroups: Inventory['targetGroups'] = [];
  for (const tg of tgs) {
    const health = await h.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg.TargetGroupArn }));
    targetGroups.push({
      name: tg.TargetGroupName!,
      arn: tg.TargetGroupArn!,
      protocol: tg.Protocol!,
      healthCheck: { protocol: tg.HealthCheckProtocol!, port: tg.HealthCheckPort!, ...(tg.HealthCheckProtocol !== 'TCP' ? { path: tg.HealthCheckPath! } : {}) },
      tags: tagsByArn.get(tg.TargetGroupArn!) ?? {},
      targets: (health.TargetHealthDescriptions ?? []).filter((d) => d.TargetHealth?.State !== 'draining').map((d) => `${d.Target!.Id}:${d.Target!.Port}`).sort(),
    });
  }
  const groups = (await h.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  const backendGroups = groups.filter((g) => tags(g.Tags)['kube-lb-provisioner.io/role'] === 'backend').map((g) => g.GroupId!);
  const securityGroups = groups
    .filter((g) => tags(g.Tags)['kube-lb-provisioner.io/service-uid'] !== undefined)
    .map((g) => ({
      id: g.GroupId!,
      name: g.GroupName!,
      tags: tags(g.Tags),
      ingress: (g.IpPermissions ?? []).flatMap((p) => (p.IpRanges ?? []).map((r) => `${p.IpProtocol}/${p.FromPort}/${r.CidrIp}`)).sort(),
    }));
  const rules = (await h.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [h.world.nodeSecurityGroupId] }] }))).SecurityGroupRules ?? [];
  const nodeRules = rules
    .filter((r) => !r.IsEgress && r.ReferencedGroupInfo?.GroupId)
    .map((r) => ({ source: r.ReferencedGroupInfo!.GroupId!, rule: `${r.IpProtocol}/${r.FromPort}-${r.ToPort}`, tags: tags(r.Tags) }));
  return {
    loadBalancers: lbs.map((l) => ({ name: l.LoadBalancerName!, arn: l.LoadBalancerArn!, dnsName: l.DNSName!, tags: tagsByArn.get(l.LoadBalancerArn!) ?? {}, securityGroups: l.SecurityGroups ?? [] })),
    listeners,
    targetGroups,
    securityGroups,
    backendGroups,
    nodeRules,
  };
}

/** The error a promise rejects with, or undefined when it resolves. */
export async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Deletes until the provider says deleted (a few rounds while AWS lets go). */
export async function deleteFully(provider: AwsProvider, svc: DesiredLoadBalancer): Promise<void> {
  for (let i = 0; i < 10; i++) if ((await provider.delete(svc.ref)).state === 'deleted') return;
  throw new Error(`delete of ${svc.ref.name} did not finish`);
}
