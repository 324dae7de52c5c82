// The AWS provider: one Network Load Balancer per Service, instance target groups on every eligible
// node's NodePort. observe -> diff (pure) -> apply, plus delete and listOwned for garbage collection,
// and sweep for leftovers no Service owns (unattached target groups, the shared backend group).
// State kept between calls: the subnet and Elastic IP cache (NetworkCache), each Service's last
// read or what it wrote (ReadCache: a steady-state resync reads list-level state only), what the sweepers
// saw on their last run (a leftover is removed only when seen twice).
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  isNoop,
  ServiceConfigError,
  type ProviderDeps,
  type ApplyResult,
  type DeleteResult,
  type DesiredLoadBalancer,
  type Provider,
  type ProviderContext,
  type ProviderEvent,
  type ServiceRef,
} from '../provider.js';
import { AwsApi, type AwsClients } from './awsApi.js';
import type { AwsObserved, AwsPlan } from './awsTypes.js';
import { applyPlan } from './applyPlan.js';
import type { AwsConfig } from './config.js';
import { deleteStack, StillReleasingError } from './deleteStack.js';
import { NetworkCache } from './networkCache.js';
import { ReadCache } from './readCache.js';
import { describeAnchors, observeService } from './observe.js';
import { wantedTargetGroupNames } from './desiredStack.js';
import { targetTypeOf } from './annotations.js';
import { AwsOwnershipConflictError, planActions } from './planActions.js';
import { TargetGroupSweeper, type WantedTargetGroups } from './targetGroupSweep.js';
import { BackendSweeper } from './backendSweep.js';
import { SERVICE_NAME_TAG, SERVICE_UID_TAG, tagMap } from './tags.js';
import { resolveRegion } from './region.js';

export { awsConfigSchema, type AwsConfig } from './config.js';
export type { AwsObserved, AwsPlan } from './awsTypes.js';
export { AwsOwnershipConflictError } from './planActions.js';

export interface AwsProviderOptions {
  /** Ready-made SDK clients (tests inject clients pointed at moto or a fault proxy). */
  clients?: AwsClients;
  /** Static credentials for the endpoint override (moto accepts anything). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Retry backoff bounds (tests shorten them). */
  retryTiming?: { minTimeoutMs?: number; maxTimeoutMs?: number };
  /** The clock of the read cache (tests move it past the deep cycle). */
  now?: () => number;
  /** Test hook: called before each apply step; throwing simulates a crash there. */
  beforeStep?(index: number, kind: string): void;
}

export type AwsProvider = Provider<AwsObserved, AwsPlan> & { invalidateNetwork(): void; sweep(): Promise<void> };

export async function createAwsProvider(config: AwsConfig, deps: ProviderDeps, options: AwsProviderOptions = {}): Promise<AwsProvider> {
  const clientConfig = {
    // Injected clients carry their own region; otherwise find it as the AWS tools do.
    region: options.clients ? (config.region ?? 'unused') : await resolveRegion(config.region, { env: process.env }),
    // Our own retries (p-retry, rate limited) replace the SDK's, so they do not multiply.
    maxAttempts: 1,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  const clients: AwsClients = options.clients ?? { elbv2: new ElasticLoadBalancingV2Client(clientConfig), ec2: new EC2Client(clientConfig) };
  const api = new AwsApi(clients, config, deps.record, options.retryTiming);
  const [rangeFrom, rangeTo] = config.nodePortRange.split('-').map(Number) as [number, number];
  const networkCache = new NetworkCache(api, {
    clusterName: deps.clusterName,
    nodePortRange: { from: rangeFrom, to: rangeTo },
    ttlMs: config.environmentCacheSeconds * 1000,
    ...(config.vpcId ? { vpcId: config.vpcId } : {}),
    ...(config.nodeSecurityGroupIds ? { nodeSecurityGroupIds: config.nodeSecurityGroupIds } : {}),
  });
  const reads = new ReadCache(api, deps.clusterName, {
    deepReadMs: config.deepReadIntervalSeconds * 1000,
    listSnapshotMs: config.listSnapshotSeconds * 1000,
    now: options.now ?? Date.now,
  });
  let ctx: ProviderContext | undefined;
  const emit = (event: ProviderEvent) => {
    if (ctx) ctx.emit(event);
    else deps.logger.info({ event }, 'aws provider event');
  };
  const retryMs = config.provisioningRetrySeconds * 1000;
  const sweeper = new TargetGroupSweeper(api, deps.clusterName, config.targetGroupSweepAgeSeconds * 1000);
  const backendSweeper = new BackendSweeper(api, deps.clusterName, config.vpcId, () => networkCache.invalidate());

  // Names only (no cloud reads): what every current Service's target groups are called.
  const wantedTargetGroups = (): WantedTargetGroups | undefined => {
    if (!ctx) return undefined;
    const wanted: WantedTargetGroups = { names: new Set(), protectedUids: new Set() };
    for (const desired of ctx.listServices()) {
      try {
        for (const name of wantedTargetGroupNames({ ...desired, clusterName: deps.clusterName })) wanted.names.add(name);
      } catch {
        wanted.protectedUids.add(desired.ref.uid);
      }
    }
    return wanted;
  };

  return {
    name: 'aws',
    capabilities: { protocols: ['TCP', 'UDP'], mixedProtocol: true, loadBalancerIP: true, sourceRanges: true, dualStack: true, ipFamilies: ['IPv4', 'IPv6'], annotations: [], usesNodePorts: false, followsEndpoints: false, needsProviderID: true },
    // NodePorts are needed by instance targets only: buildDesiredStack refuses a Service without them there.
    // IPv6 and dual-stack Services need aws-load-balancer-ip-address-type: dualstack: buildDesiredStack says so.
    wantsPodEndpoints: (desired) => {
      try {
        return targetTypeOf(desired.annotations) === 'ip';
      } catch {
        return false;
      }
    },
    async start(context: ProviderContext) {
      ctx = context;
    },
    async stop() {
      clients.elbv2.destroy();
      clients.ec2.destroy();
    },
    invalidateNetwork() {
      networkCache.invalidate();
    },
    async observe(ref: ServiceRef, desired?: DesiredLoadBalancer): Promise<AwsObserved> {
      return reads.observe(ref, desired, await networkCache.get());
    },
    diff(observed: AwsObserved | undefined, desired: DesiredLoadBalancer): AwsPlan {
      if (!observed) throw new Error('the aws provider needs observe() before diff(): the plan depends on the subnets and addresses it reads');
      try {
        return planActions(observed, desired, config.targetChunkSize, config.quotas);
      } catch (error) {
        // The cached view of subnets and Elastic IPs may be older than the user's change: read it afresh next time.
        if (error instanceof ServiceConfigError && !(error instanceof AwsOwnershipConflictError)) networkCache.invalidate();
        throw error;
      }
    },
    async apply(plan: AwsPlan): Promise<ApplyResult> {
      // What a write changes (or a failed one may have changed) is read afresh next time.
      if (!isNoop(plan)) reads.forget(plan.ref.uid);
      return applyPlan(plan, {
        api,
        clusterName: deps.clusterName,
        provisioningRetryMs: retryMs,
        emit,
        networkChanged: () => networkCache.invalidate(),
        quotas: config.quotas,
        written: (stack, what) => reads.record(plan.ref.uid, stack, what === 'membership'),
        ...(options.beforeStep ? { beforeStep: options.beforeStep } : {}),
      });
    },
    async delete(ref: ServiceRef): Promise<DeleteResult> {
      // What this controller read or wrote last (checked against the list-level reads of every
      // resync) names everything to delete: no read. Otherwise read what the anchors lead to.
      const stacks =
        reads.keptStacks(ref.uid) ??
        (await observeService(api, deps.clusterName, ref, { subnets: [], addresses: [], nodeSecurityGroupIds: [], nodePortRange: { from: rangeFrom, to: rangeTo } }, true)).stacks;
      try {
        for (const stack of stacks) await deleteStack(api, deps.clusterName, ref.uid, stack);
      } catch (error) {
        // Each step of a delete is safe to repeat: the same stacks serve the next try.
        if (error instanceof StillReleasingError) return { state: 'inProgress', retryAfterMs: retryMs, reason: error.message };
        reads.forget(ref.uid);
        throw error;
      }
      reads.deleted(ref.uid);
      return { state: 'deleted' };
    },
    async sweep(): Promise<void> {
      const swept = await sweeper.sweep(wantedTargetGroups());
      if (swept > 0) deps.logger.info({ swept }, 'deleted unattached target groups no Service wants');
      // The backend group goes with the last load balancer, once nothing wants one (two sweeps in a
      // row). While Services want one, the anchors need not even be read.
      const services = ctx?.listServices().length;
      const anchors = services === 0 ? (await describeAnchors(api, deps.clusterName)).length : 0;
      const backend = await backendSweeper.sweep({ services, anchors });
      if (backend.outcome === 'deleted') deps.logger.info({ groups: backend.groupIds }, 'deleted the backend security group and its node rules: no load balancer is left');
      if (backend.outcome === 'dependencyViolation') deps.logger.info({ groups: backend.groupIds }, 'backend security group still has dependencies (an NLB being released?); trying again next resync');
    },
    async listOwned(): Promise<ServiceRef[]> {
      const anchors = await describeAnchors(api, deps.clusterName);
      const refs = new Map<string, ServiceRef>();
      for (const group of anchors) {
        const tags = tagMap(group.Tags);
        const uid = tags[SERVICE_UID_TAG];
        const [namespace, name] = (tags[SERVICE_NAME_TAG] ?? '').split('/');
        if (uid && namespace && name) refs.set(uid, { namespace, name, uid });
      }
      return [...refs.values()];
    },
  };
}
