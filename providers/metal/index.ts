// The metal provider: addresses come from pools (allocator.ts), and the speakers (src/speaker)
// announce them from the nodes. The "load balancer" is only the assignment, kept in memory and
// rebuilt from Service status at start, so observe/apply never leave the process.
//
// Pools come from two sources built into one model (src/metallb/configuration.ts): the YAML pools, and
// MetalLB's resources read live from `namespace` (through ProviderContext.customResources). A change to those objects is
// taken at once: the allocator gets the new pools, keeping every assignment, and the Services it
// may concern are requeued. Status on the objects is written by metallbWrites.ts.
//
// IPAddressPool namespaceSelectors match the Namespace's labels: Namespaces are watched only
// while some pool has namespaceSelectors.
//
// State kept between calls: the allocator, the last configuration built, the objects read, and
// the Namespaces' labels while they are watched.
import type { Registry } from 'prom-client';
import {
  serviceKey,
  type ApplyResult,
  type Capabilities,
  type DeleteResult,
  type DesiredLoadBalancer,
  type Plan,
  type PlanAction,
  type Provider,
  type ProviderContext,
  type ServiceRef,
  type ProviderDeps,
} from '../provider.js';
import { compilePools, type AddressPool } from './addressPools.js';
import { Allocator, type Assignment } from './allocator.js';
import type { MetalConfig } from './config.js';
import { buildMetallbConfiguration, type MetallbConfiguration } from '../../src/metallb/configuration.js';
import { emptyMetallbObjects, METALLB_GROUP, METALLB_KINDS, type MetallbKindName, type MetallbObjects, type RawObject } from '../../src/metallb/objects.js';
import { ALLOCATED_FROM_POOL_ANNOTATION, MetallbWrites } from './metallbWrites.js';
import { poolMetrics, type PoolMetrics } from './poolMetrics.js';
import { ANNOTATION_SUFFIXES, serviceClaim, type ServiceClaim } from './serviceClaim.js';

export { metalConfigSchema, addressPoolSchema, type MetalConfig } from './config.js';
export { Allocator, type Assignment } from './allocator.js';

/** On a Service that keeps an address it should not (outside every pool, or a request not met). */
export const ADDRESS_KEPT_REASON = 'AddressKept';

function sameRanges(a: AddressPool | undefined, b: AddressPool | undefined): boolean {
  const text = (p: AddressPool | undefined) => (p ? JSON.stringify({ ...p, ranges: p.ranges.map((r) => `${r.first}-${r.last}`) }) : '');
  return text(a) === text(b);
}

/** The pools an assignment comes from, as the metallb.io/ip-allocated-from-pool annotation says. */
function poolAnnotation(assignment: Assignment): string | undefined {
  const names = [...new Set(assignment.pools.filter((p) => p !== ''))];
  return names.length > 0 ? names.join(',') : undefined;
}

export interface MetalObserved {
  ref: ServiceRef;
  assignment: Assignment;
}

export interface MetalPlan extends Plan {
  claim: ServiceClaim;
  assignment: Assignment;
  /** The Service's metallb.io/ip-allocated-from-pool annotation as it is now. */
  poolAnnotation: string | undefined;
}

export const metalCapabilities: Capabilities = {
  protocols: ['TCP', 'UDP', 'SCTP'],
  mixedProtocol: true,
  loadBalancerIP: true,
  // kube-proxy enforces loadBalancerSourceRanges on the nodes for VIP-mode ingress.
  sourceRanges: true,
  dualStack: true,
  // Which family a Service gets depends on the pools: the allocator answers that per Service.
  ipFamilies: ['IPv4', 'IPv6'],
  annotations: ANNOTATION_SUFFIXES.map((suffix) => `kube-lb-provisioner.io/${suffix}`),
  // Addresses are announced from the nodes; kube-proxy takes traffic to them straight to Pods.
  usesNodePorts: false,
  followsEndpoints: true,
  needsProviderID: false,
};

export class MetalProvider implements Provider<MetalObserved, MetalPlan> {
  readonly name = 'metal';
  readonly capabilities = metalCapabilities;
  readonly allocator: Allocator;
  private ctx: ProviderContext | undefined;
  private adopted = false;
  private readonly metrics: PoolMetrics;
  private readonly yamlPools: AddressPool[];
  private configuration: MetallbConfiguration;
  /** Namespace name -> labels, while some pool has namespaceSelectors (else undefined). */
  private namespaceLabels: Map<string, Record<string, string>> | undefined;
  private namespaceWatch: Promise<{ stop(): Promise<void> }> | undefined;
  private objects: MetallbObjects = emptyMetallbObjects();
  private watch: { stop(): Promise<void> } | undefined;
  private writes: MetallbWrites | undefined;
  private publishTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: MetalConfig,
    private readonly deps: ProviderDeps,
    registry?: Registry,
  ) {
    this.yamlPools = compilePools(config.pools);
    this.configuration = buildMetallbConfiguration(config.namespace, this.objects, { fixedPools: this.yamlPools });
    this.allocator = new Allocator(this.configuration.pools);
    // The controller's own registry when it hands one over (an optional `registry` in the deps),
    // else prom-client's default registry.
    this.metrics = poolMetrics(registry ?? deps.registry);
    this.metrics.update(this.allocator.usage());
  }

  /**
   * Adopts every address already in Service status before anything new is allocated. If the
   * controller's cache cannot list yet, adoption happens at the first listOwned/observe/delete
   * instead (the controller lists owned load balancers once its caches are synced).
   */
  async start(ctx: ProviderContext): Promise<void> {
    this.ctx = ctx;
    if (ctx.customResources) {
      const { namespace } = this.config;
      this.deps.logger.info(
        { namespace, yamlPools: this.yamlPools.map((p) => p.name) },
        "metal: reading MetalLB's IPAddressPools and advertisements live from this namespace, next to the configured pools; when both name or overlap the same pool, the configured pool wins",
      );
      this.writes = new MetallbWrites(ctx.customResources, namespace, this.deps.logger);
      const kinds = Object.values(METALLB_KINDS).map((k) => ({ group: METALLB_GROUP, ...k }));
      // Pools first: the addresses in Service status are judged against them.
      this.watch = await ctx.customResources.watch(namespace, kinds, (byKind) => {
        const objects = emptyMetallbObjects();
        for (const name of Object.keys(objects) as MetallbKindName[]) {
          objects[name] = ((byKind.get(name) ?? []) as RawObject[]).slice().sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
        }
        this.reconfigure(objects);
      });
      // Nothing is allocated before the Namespaces' labels are known, when a pool selects by them.
      await this.namespaceWatch?.catch(() => undefined);
    }
    this.adoptFromStatus('start');
  }

  /** The configuration built last (pools, advertisements, problems). */
  currentConfiguration(): MetallbConfiguration {
    return this.configuration;
  }

  /** Takes MetalLB's objects as they are now (the watch calls this on every change). */
  reconfigure(objects: MetallbObjects): void {
    const serving = new Set(this.configuration.pools.filter((p) => p.source !== 'config').map((p) => p.name));
    const before = new Map(this.allocator.pools.map((p) => [p.name, p]));
    this.objects = objects;
    this.configuration = buildMetallbConfiguration(this.config.namespace, objects, { fixedPools: this.yamlPools, serving });
    this.allocator.reconfigure(this.configuration.pools);
    this.followNamespaces();
    this.writes?.reportProblems(this.configuration.problems);
    const after = new Map(this.allocator.pools.map((p) => [p.name, p]));
    const changed = new Set([...before.keys(), ...after.keys()].filter((name) => !sameRanges(before.get(name), after.get(name))));
    if (changed.size > 0) {
      this.deps.logger.info({ changed: [...changed].sort(), pools: [...after.keys()], problems: this.configuration.problems.length }, 'metal: pools reconfigured');
    }
    this.requeueAfterReconfigure(changed);
    this.schedulePublish();
  }

  /**
   * Pending Services may fit now; a Service holding an address of a changed (or vanished) pool is
   * looked at again: it keeps the address while its pool admits it, else is warned or moved.
   */
  private requeueAfterReconfigure(changed: Set<string>): void {
    if (!this.ctx || changed.size === 0) return;
    for (const desired of this.ctx.listServices()) {
      const key = serviceKey(desired.ref);
      const assignment = this.allocator.assignmentOf(key);
      const affected = !assignment || assignment.pools.some((pool, i) => pool === '' || changed.has(pool) || this.allocator.poolOf(assignment.ips[i]!)?.name !== pool);
      if (affected) this.ctx.requeue(desired.ref);
    }
  }

  /** Pool status, finalizers and held deletions, written shortly after changes settle. */
  private schedulePublish(): void {
    this.metrics.update(this.allocator.usage());
    if (!this.writes || this.publishTimer) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      void this.publish();
    }, 100);
    this.publishTimer.unref();
  }

  private async publish(): Promise<void> {
    const writes = this.writes;
    if (!writes) return;
    const holders = new Map<string, string[]>();
    for (const key of this.allocator.serviceKeys()) {
      for (const pool of new Set(this.allocator.assignmentOf(key)!.pools)) {
        if (pool) holders.set(pool, [...(holders.get(pool) ?? []), key]);
      }
    }
    const usage = this.allocator.usage();
    const objects = new Map<string, RawObject>(this.objects.IPAddressPool.map((o) => [o.metadata.name, o]));
    const writesDone: Promise<void>[] = [];
    for (const pool of this.allocator.pools) {
      const object = objects.get(pool.name);
      if (pool.source === 'config' || !object) continue;
      const of = (family: 'IPv4' | 'IPv6', field: 'assigned' | 'available') => usage.find((u) => u.pool === pool.name && u.family === family)?.[field] ?? 0;
      writesDone.push(
        writes.poolStatus(pool.name, { assignedIPv4: of('IPv4', 'assigned'), assignedIPv6: of('IPv6', 'assigned'), availableIPv4: of('IPv4', 'available'), availableIPv6: of('IPv6', 'available') }),
      );
      const held = (holders.get(pool.name) ?? []).sort();
      writesDone.push(writes.poolFinalizer(object, held.length > 0));
      if (pool.draining && held.length > 0) writes.deletionHeld(object, held);
    }
    await Promise.all(writesDone);
  }

  /** What the Service asks, with its Namespace's labels when they are watched. */
  private claimOf(desired: DesiredLoadBalancer): ServiceClaim {
    const claim = serviceClaim(desired);
    const labels = this.namespaceLabels?.get(claim.namespace);
    if (labels) claim.namespaceLabels = labels;
    return claim;
  }

  /** Watches Namespaces exactly while some pool has namespaceSelectors. */
  private followNamespaces(): void {
    const access = this.ctx?.customResources;
    const wanted = this.configuration.pools.some((p) => (p.serviceAllocation?.namespaceSelectors.length ?? 0) > 0);
    if (!access || wanted === (this.namespaceWatch !== undefined)) return;
    if (!wanted) {
      const watch = this.namespaceWatch!;
      this.namespaceWatch = undefined;
      this.namespaceLabels = undefined;
      void watch.then((w) => w.stop()).catch(() => undefined);
      return;
    }
    this.deps.logger.info('metal: a pool selects namespaces by label; watching Namespaces');
    this.namespaceWatch = access.watchNamespaces((labels) => {
      const before = this.namespaceLabels;
      this.namespaceLabels = labels;
      this.requeueNamespaces(before, labels);
    });
    this.namespaceWatch.catch((error: unknown) => {
      this.deps.logger.warn({ err: String(error) }, 'metal: cannot watch Namespaces; namespaceSelectors match the namespace name only');
      this.namespaceWatch = undefined;
    });
  }

  /** Services in a Namespace whose labels changed are looked at again (a pool may admit or refuse them now). */
  private requeueNamespaces(before: Map<string, Record<string, string>> | undefined, after: Map<string, Record<string, string>>): void {
    if (!this.ctx) return;
    const text = (labels: Record<string, string> | undefined) => JSON.stringify(Object.entries(labels ?? {}).sort());
    for (const desired of this.ctx.listServices()) {
      const ns = desired.ref.namespace;
      if (text(before?.get(ns)) !== text(after.get(ns))) this.ctx.requeue(desired.ref);
    }
  }

  /** Runs once with a listing that worked; later calls are no-ops. */
  private adoptFromStatus(when: string): void {
    if (this.adopted || !this.ctx) return;
    let services: DesiredLoadBalancer[];
    try {
      services = [...this.ctx.listServices()];
    } catch (error) {
      this.deps.logger.debug({ err: String(error) }, 'metal: Services not listable yet; adopting addresses later');
      return;
    }
    // An empty listing at start may only mean the cache is not synced yet: look again at first use.
    if (services.length === 0 && when === 'start') return;
    this.adopted = true;
    services.sort((a, b) => serviceKey(a.ref).localeCompare(serviceKey(b.ref)));
    let kept = 0;
    for (const desired of services) {
      let claim: ServiceClaim;
      try {
        claim = this.claimOf(desired);
      } catch {
        continue; // its reconcile reports the bad annotation
      }
      if (claim.current.length === 0 || this.allocator.assignmentOf(claim.key)) continue;
      const refusal = this.allocator.restore(claim, claim.current);
      if (refusal) this.deps.logger.warn({ service: claim.key, reason: refusal }, 'metal: not keeping the address in status; the Service gets a new one');
      else kept++;
    }
    this.metrics.update(this.allocator.usage());
    this.deps.logger.info({ kept, services: services.length, when }, 'metal: rebuilt address assignments from Service status');
  }

  async stop(): Promise<void> {
    this.ctx = undefined;
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    await this.watch?.stop();
    const namespaces = this.namespaceWatch;
    this.namespaceWatch = undefined;
    await namespaces?.then((w) => w.stop()).catch(() => undefined);
    await this.writes?.flush();
  }

  /** What the Service holds. Adopts the addresses in Service status first, if start() could not. */
  async observe(ref: ServiceRef): Promise<MetalObserved | undefined> {
    this.adoptFromStatus('observe');
    const key = serviceKey(ref);
    const assignment = this.allocator.assignmentOf(key);
    const claim = this.allocator.claimOf(key);
    if (!assignment || !claim || claim.ref.uid !== ref.uid) return undefined;
    return { ref, assignment };
  }

  /**
   * Pure: reads its arguments and the allocator (metal's "cloud", kept in memory), changes nothing.
   * Two Services planned one after the other, with no apply between, may be planned the same
   * free address: apply reserves it for the first, and the second is planned again.
   */
  diff(observed: MetalObserved | undefined, desired: DesiredLoadBalancer): MetalPlan {
    const claim = this.claimOf(desired);
    const assignment = this.allocator.plan(claim);
    const actions: PlanAction[] = [];
    const where = assignment.ips.map((ip, i) => `${ip} (pool "${assignment.pools[i]}")`).join(', ');
    const same = observed !== undefined && observed.assignment.ips.join(',') === assignment.ips.join(',');
    if (same) {
      actions.push({ kind: 'keepAddress', description: `keep ${where}`, mutating: false });
    } else {
      const stale = observed?.assignment.ips.filter((ip) => !assignment.ips.includes(ip)) ?? [];
      if (stale.length > 0) actions.push({ kind: 'releaseAddress', description: `release ${stale.join(', ')}`, mutating: true });
      actions.push({ kind: 'assignAddress', description: `assign ${where}`, mutating: true });
    }
    return { ref: desired.ref, actions, claim, assignment, poolAnnotation: desired.annotations[ALLOCATED_FROM_POOL_ANNOTATION] };
  }

  /**
   * Reserves the planned assignment (releasing what the Service gave up), then writes the pool
   * annotation. A plan the pools or another Service overtook since diff is not applied: the
   * Service is planned again at once. Nothing after the reservation can fail (the annotation is
   * best effort), so there is never a reservation to give back.
   */
  async apply(plan: MetalPlan): Promise<ApplyResult> {
    const reserved = this.allocator.reserve(plan.claim, plan.assignment);
    if (!reserved) return { state: 'inProgress', retryAfterMs: 0, reason: 'the address pools or another Service changed since this plan; planning again' };
    this.schedulePublish();
    this.requeuePending(reserved.freed);
    for (const message of plan.assignment.warnings ?? []) this.ctx?.emit({ ref: plan.ref, type: 'Warning', reason: ADDRESS_KEPT_REASON, message });
    const annotation = poolAnnotation(plan.assignment);
    if (this.writes && annotation !== plan.poolAnnotation) await this.writes.serviceAnnotation(plan.ref, annotation);
    return { state: 'ready', ingress: plan.assignment.ips.map((ip) => ({ ip, ipMode: 'VIP' as const })) };
  }

  async delete(ref: ServiceRef): Promise<DeleteResult> {
    this.adoptFromStatus('delete');
    const key = serviceKey(ref);
    const claim = this.allocator.claimOf(key);
    if (claim && claim.ref.uid === ref.uid) {
      const freed = this.allocator.release(key);
      this.schedulePublish();
      this.requeuePending(freed, key);
    }
    return { state: 'deleted' };
  }

  async listOwned(): Promise<ServiceRef[]> {
    this.adoptFromStatus('listOwned');
    return this.allocator.serviceKeys().map((key) => this.allocator.claimOf(key)!.ref);
  }

  /**
   * Freed addresses go to Services still waiting for one (exhausted pool, or asking for it), and to
   * dual-stack Services still waiting for their second family.
   */
  private requeuePending(freed: string[], deleting?: string): void {
    if (freed.length === 0 || !this.ctx) return;
    for (const desired of this.ctx.listServices()) {
      const key = serviceKey(desired.ref);
      // The Service being deleted is still listed until its finalizer goes.
      if (key === deleting) continue;
      if (this.allocator.assignmentOf(key)) {
        if (freed.some((ip) => this.allocator.couldWiden(key, ip))) {
          this.deps.logger.debug({ service: key, freed }, 'metal: address of its missing family freed, requeueing a dual-stack Service');
          this.ctx.requeue(desired.ref);
        }
        continue;
      }
      let claim: ServiceClaim;
      try {
        claim = this.claimOf(desired);
      } catch {
        continue;
      }
      if (freed.some((ip) => this.allocator.couldUse(claim, ip))) {
        this.deps.logger.debug({ service: claim.key, freed }, 'metal: address freed, requeueing a pending Service');
        this.ctx.requeue(desired.ref);
      }
    }
  }
}

export function createMetalProvider(config: MetalConfig, deps: ProviderDeps, registry?: Registry): MetalProvider {
  return new MetalProvider(config, deps, registry);
}
