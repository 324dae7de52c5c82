// The metal provider: addresses come from configured pools (allocator.ts), and the speakers
// (src/speaker) announce them from the nodes. The "load balancer" is only the assignment, kept in
// memory and rebuilt from Service status at start, so observe/apply never leave the process.
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
} from '../provider.js';
import type { ProviderDeps } from '../registry.js';
import { compilePools } from './addressPools.js';
import { Allocator, type Assignment } from './allocator.js';
import type { MetalConfig } from './config.js';
import { poolMetrics, type PoolMetrics } from './poolMetrics.js';
import { ANNOTATION_SUFFIXES, serviceClaim, type ServiceClaim } from './serviceClaim.js';

export { metalConfigSchema, addressPoolSchema, type MetalConfig } from './config.js';
export { Allocator, type Assignment } from './allocator.js';

export interface MetalObserved {
  ref: ServiceRef;
  assignment: Assignment;
}

export interface MetalPlan extends Plan {
  claim: ServiceClaim;
  assignment: Assignment;
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

  constructor(
    config: MetalConfig,
    private readonly deps: ProviderDeps,
    registry?: Registry,
  ) {
    this.allocator = new Allocator(compilePools(config.pools));
    // The controller's own registry when it hands one over (an optional `registry` in the deps),
    // else prom-client's default registry.
    this.metrics = poolMetrics(registry ?? deps.registry);
    this.metrics.update(this.allocator.usage());
  }

  /**
   * Adopts every address already in Service status before anything new is allocated. If the
   * controller's cache cannot list yet, adoption happens at the first listOwned/observe/diff
   * instead (the controller lists owned load balancers once its caches are synced).
   */
  async start(ctx: ProviderContext): Promise<void> {
    this.ctx = ctx;
    this.adoptFromStatus('start');
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
        claim = serviceClaim(desired);
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
  }

  async observe(ref: ServiceRef): Promise<MetalObserved | undefined> {
    this.adoptFromStatus('observe');
    const key = serviceKey(ref);
    const assignment = this.allocator.assignmentOf(key);
    const claim = this.allocator.claimOf(key);
    if (!assignment || !claim || claim.ref.uid !== ref.uid) return undefined;
    return { ref, assignment };
  }

  diff(observed: MetalObserved | undefined, desired: DesiredLoadBalancer): MetalPlan {
    this.adoptFromStatus('diff');
    const claim = serviceClaim(desired);
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
    return { ref: desired.ref, actions, claim, assignment };
  }

  async apply(plan: MetalPlan): Promise<ApplyResult> {
    // Planned again inside assign: another Service may have taken the address since diff.
    const { assignment, freed } = this.allocator.assign(plan.claim);
    this.metrics.update(this.allocator.usage());
    this.requeuePending(freed);
    return { state: 'ready', ingress: assignment.ips.map((ip) => ({ ip, ipMode: 'VIP' as const })) };
  }

  async delete(ref: ServiceRef): Promise<DeleteResult> {
    this.adoptFromStatus('delete');
    const key = serviceKey(ref);
    const claim = this.allocator.claimOf(key);
    if (claim && claim.ref.uid === ref.uid) {
      const freed = this.allocator.release(key);
      this.metrics.update(this.allocator.usage());
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
        claim = serviceClaim(desired);
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
