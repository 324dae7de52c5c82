// reconcile(key): level-triggered and idempotent. Reads the Service from the informer cache, works
// out which provider (if any) should have a load balancer for it, and converges: finalizer first,
// then observe -> pure diff -> apply, status patched only when it changed; or delete, then the
// finalizer removed once the provider confirms. Never waits on the cloud: "in progress" is handed
// back to the queue as a delay.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import {
  isNoop,
  ServiceConfigError,
  serviceKey,
  type NodeTarget,
  type Plan,
  type ServiceRef,
} from '../../providers/provider.js';
import { desiredLoadBalancer } from './desiredLoadBalancer.js';
import { ENDPOINT_NODES_ANNOTATION } from './ourAnnotations.js';
import { eligibleTargets, ineligibility } from './eligibleNodes.js';
import { Reasons } from './events.js';
import { sameIngress } from './ingressStatus.js';
import { conditionsToDrop, nextConditions } from './serviceConditions.js';
import type { ClusterView, KubeWriter, ProviderSlot } from './ports.js';
import { concernsUs, hasCleanupFinalizer, isBeingDeleted, serviceRefOf, slotForClass, wantedSlot } from './serviceSelection.js';
import { validateAgainstCapabilities } from './validateService.js';

export type Outcome =
  /** recheckAfterMs: the load balancer serves, but the provider is still settling a change (look again then). */
  | { kind: 'done'; action: 'none' | 'ensured' | 'updated' | 'deleted' | 'unchanged'; recheckAfterMs?: number }
  | { kind: 'retryAfter'; ms: number; reason: string }
  /** reported: a Warning Event (which the recorder logs) already told of it. */
  | { kind: 'failed'; error: unknown; configError: boolean; reported: boolean };

export interface ReconcilerDeps {
  view: ClusterView;
  kube: KubeWriter;
  slots: readonly ProviderSlot[];
  clusterName: string;
  /** Upstream-like behaviour for benchmarks: wait inline while the cloud is in progress. */
  blockOnInProgress?: boolean;
  sleep?: (ms: number) => Promise<void>;
  /** Told once per node that is skipped for want of a providerID. */
  onNodeSkipped?: (node: V1Node, message: string) => void;
}

interface Ownership {
  uid: string;
  slotId: string;
}

export class Reconciler {
  /** Which provider holds a load balancer for which Service (seeded from listOwned()). */
  private readonly owned = new Map<string, Ownership>();
  /** Services for which EnsuringLoadBalancer was said and EnsuredLoadBalancer is still owed. */
  private readonly ensuring = new Set<string>();
  private readonly deleting = new Set<string>();
  private readonly unavailable = new Set<string>();
  private readonly warnedNoProviderID = new Set<string>();
  private readonly targetCache = new Map<string, { version: number; targets: NodeTarget[] }>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Learns what already exists in every provider (after a restart, the cloud is the truth). */
  async seedOwnership(): Promise<void> {
    for (const slot of this.deps.slots) {
      for (const ref of await slot.provider.listOwned()) this.owned.set(serviceKey(ref), { uid: ref.uid, slotId: slot.id });
    }
  }

  ownershipOf(key: string): Ownership | undefined {
    return this.owned.get(key);
  }

  /** Keys of every Service our records hold a load balancer for. */
  ownedKeys(): string[] {
    return [...this.owned.keys()];
  }

  /** Records a load balancer a provider listed (a resync found it under a Service that kept it). */
  recordOwnership(ref: ServiceRef, slotId: string): void {
    if (!this.owned.has(serviceKey(ref))) this.owned.set(serviceKey(ref), { uid: ref.uid, slotId });
  }

  forgetOwnership(key: string, uid: string): void {
    if (this.owned.get(key)?.uid === uid) this.owned.delete(key);
  }

  targetsFor(slot: ProviderSlot): NodeTarget[] {
    const version = this.deps.view.nodesVersion();
    const cached = this.targetCache.get(slot.id);
    if (cached && cached.version === version) return cached.targets;
    const needsProviderID = slot.provider.capabilities.needsProviderID;
    if (needsProviderID) {
      for (const node of this.deps.view.nodes()) {
        const name = node.metadata?.name ?? '';
        if (ineligibility(node, { needsProviderID }) === 'noProviderID' && !this.warnedNoProviderID.has(name)) {
          this.warnedNoProviderID.add(name);
          this.deps.onNodeSkipped?.(node, `node ${name} has no spec.providerID, so the ${slot.provider.name} provider cannot target it; it is left out of every load balancer until the node's cloud controller sets one`);
        }
      }
    }
    const targets = eligibleTargets(this.deps.view.nodes(), { needsProviderID });
    this.targetCache.set(slot.id, { version, targets });
    return targets;
  }

  /** The plan for a Service under a provider, changing nothing (also what `plan` prints). */
  async planFor(service: V1Service, slot: ProviderSlot): Promise<Plan> {
    const ref = serviceRefOf(service);
    const desired = desiredLoadBalancer(service, this.deps.view.endpointNodes(ref.namespace, ref.name), {
      clusterName: this.deps.clusterName,
      targets: this.targetsFor(slot),
    });
    if (slot.provider.wantsPodEndpoints?.(desired)) {
      this.deps.view.followPodEndpoints?.();
      const endpoints = this.deps.view.podEndpoints?.(ref.namespace, ref.name);
      if (endpoints) desired.podEndpoints = endpoints;
    }
    validateAgainstCapabilities(desired, slot.provider.capabilities, slot.provider.name);
    const observed = await slot.provider.observe(ref, desired);
    return slot.provider.diff(observed, desired);
  }

  async reconcile(key: string): Promise<Outcome> {
    const [namespace = '', name = ''] = key.split('/');
    const service = this.deps.view.service(namespace, name);
    try {
      if (!service) return await this.cleanupGone(key);
      const slot = wantedSlot(service, this.deps.slots);
      if (!slot) return await this.cleanup(service);
      return await this.ensure(service, slot);
    } catch (error) {
      const configError = error instanceof ServiceConfigError;
      const reported = !!service && concernsUs(service, this.deps.slots, this.owned.get(key)?.uid === service.metadata?.uid);
      if (service && reported) {
        const deleting = !wantedSlot(service, this.deps.slots);
        const message = error instanceof Error ? error.message : String(error);
        this.deps.kube.event(
          service,
          'Warning',
          deleting ? Reasons.DeleteFailed : Reasons.SyncFailed,
          deleting ? `Error deleting load balancer: ${message}` : `Error syncing load balancer: ${message}`,
        );
      }
      return { kind: 'failed', error, configError, reported };
    }
  }

  private async ensure(service: V1Service, slot: ProviderSlot): Promise<Outcome> {
    const ref = serviceRefOf(service);
    const key = serviceKey(ref);
    // Another provider (class changed) or an older Service of the same name holds one: clean it first.
    const prior = this.owned.get(key);
    if (prior && (prior.slotId !== slot.id || prior.uid !== ref.uid)) {
      const waiting = await this.deleteFrom(prior.slotId, { ...ref, uid: prior.uid });
      if (waiting) return waiting;
    }
    if (!hasCleanupFinalizer(service)) await this.deps.kube.addFinalizer(service);

    for (;;) {
      const plan = await this.planFor(service, slot);
      const mutating = !isNoop(plan);
      const membershipOnly = mutating && plan.actions.every((a) => !a.mutating || a.membershipOnly === true);
      if (mutating && !membershipOnly && !this.ensuring.has(key)) {
        this.ensuring.add(key);
        this.deps.kube.event(service, 'Normal', Reasons.Ensuring, 'Ensuring load balancer');
      }
      if (mutating) this.owned.set(key, { uid: ref.uid, slotId: slot.id });
      const result = await slot.provider.apply(plan);
      if (result.state === 'inProgress') {
        if (this.deps.blockOnInProgress) {
          await (this.deps.sleep ?? defaultSleep)(result.retryAfterMs);
          continue;
        }
        return { kind: 'retryAfter', ms: result.retryAfterMs, reason: result.reason };
      }
      this.owned.set(key, { uid: ref.uid, slotId: slot.id });
      // Before the address appears in status, so a speaker never sees it without its endpoints.
      await this.publishEndpointNodes(service, slot);
      const current = service.status?.loadBalancer?.ingress ?? [];
      const conditions = result.conditions ? nextConditions(service, result.conditions, new Date()) : undefined;
      if (!sameIngress(current, result.ingress) || conditions) await this.deps.kube.patchIngress(service, result.ingress, conditions);
      // Said once when a Service's load balancer is left without nodes, not on every resync.
      if (this.targetsFor(slot).length === 0) {
        if (!this.unavailable.has(key)) this.deps.kube.event(service, 'Warning', Reasons.Unavailable, 'There are no available nodes for LoadBalancer');
        this.unavailable.add(key);
      } else {
        this.unavailable.delete(key);
      }
      const recheck = result.settling ? { recheckAfterMs: result.settling.retryAfterMs } : {};
      if (this.ensuring.delete(key)) {
        this.deps.kube.event(service, 'Normal', Reasons.Ensured, 'Ensured load balancer');
        return { kind: 'done', action: 'ensured', ...recheck };
      }
      if (membershipOnly) {
        this.deps.kube.event(service, 'Normal', Reasons.Updated, `Updated load balancer with new hosts (${this.targetsFor(slot).length} nodes)`);
        return { kind: 'done', action: 'updated', ...recheck };
      }
      return { kind: 'done', action: 'unchanged', ...recheck };
    }
  }

  /**
   * For a provider that follows endpoints (metal), the nodes with a ready endpoint of a Local Service,
   * on the Service, written only when the set changes: the speakers read this instead of watching
   * every EndpointSlice. A Cluster Service carries none.
   */
  private async publishEndpointNodes(service: V1Service, slot: ProviderSlot): Promise<void> {
    if (!slot.provider.capabilities.followsEndpoints) return;
    const ref = serviceRefOf(service);
    const want = service.spec?.externalTrafficPolicy === 'Local' ? this.deps.view.endpointNodes(ref.namespace, ref.name).join(',') : null;
    const have = service.metadata?.annotations?.[ENDPOINT_NODES_ANNOTATION] ?? null;
    if (want !== have) await this.deps.kube.annotate(service, ENDPOINT_NODES_ANNOTATION, want);
  }

  /**
   * Type changed away, or the Service is being deleted, or its class is not one we serve. We write
   * to it only when it is ours: our records hold a load balancer for it, or its class is ours (none,
   * when we are the default). Anything else, even with the shared finalizer, is left untouched.
   */
  private async cleanup(service: V1Service): Promise<Outcome> {
    const ref = serviceRefOf(service);
    const key = serviceKey(ref);
    const owner = this.owned.get(key);
    const classSlot = slotForClass(service, this.deps.slots);
    // An owner record under another uid is an older Service of this name: its load balancer is
    // ours to delete, but the Service now standing here is ours only by its class.
    const serviceIsOurs = classSlot !== undefined || owner?.uid === ref.uid;
    const slotId = owner?.slotId ?? classSlot?.id;
    if (slotId === undefined || (!owner && !hasCleanupFinalizer(service))) return { kind: 'done', action: 'none' };
    if (serviceIsOurs && !this.deleting.has(key)) {
      this.deleting.add(key);
      this.deps.kube.event(service, 'Normal', Reasons.Deleting, 'Deleting load balancer');
    }
    const waiting = await this.deleteFrom(slotId, { ...ref, uid: owner?.uid ?? ref.uid });
    if (waiting) return waiting;
    this.deleting.delete(key);
    this.ensuring.delete(key);
    if (!serviceIsOurs) return { kind: 'done', action: 'deleted' };
    // Upstream clears the status of a Service that stays but is no longer ours to serve: the
    // ingress, and the conditions the provider wrote (GKE's controllers drop theirs too).
    if (!isBeingDeleted(service)) {
      const conditions = conditionsToDrop(service, this.deps.slots.find((s) => s.id === slotId)?.provider.conditionTypes);
      if ((service.status?.loadBalancer?.ingress ?? []).length > 0 || conditions) await this.deps.kube.patchIngress(service, [], conditions);
    }
    if (hasCleanupFinalizer(service)) await this.deps.kube.removeFinalizer(service);
    this.deps.kube.event(service, 'Normal', Reasons.Deleted, 'Deleted load balancer');
    return { kind: 'done', action: 'deleted' };
  }

  /** The Service is gone from the API (it never had our finalizer): release what we know of. */
  private async cleanupGone(key: string): Promise<Outcome> {
    const owner = this.owned.get(key);
    this.ensuring.delete(key);
    this.deleting.delete(key);
    this.unavailable.delete(key);
    if (!owner) return { kind: 'done', action: 'none' };
    const [namespace = '', name = ''] = key.split('/');
    const waiting = await this.deleteFrom(owner.slotId, { namespace, name, uid: owner.uid });
    return waiting ?? { kind: 'done', action: 'deleted' };
  }

  /** Deletes from one provider; answers a retry outcome while the cloud is still deleting. */
  private async deleteFrom(slotId: string, ref: ServiceRef): Promise<Outcome | undefined> {
    const slot = this.deps.slots.find((s) => s.id === slotId);
    if (!slot) return undefined;
    for (;;) {
      const result = await slot.provider.delete(ref);
      if (result.state === 'deleted') {
        this.forgetOwnership(serviceKey(ref), ref.uid);
        return undefined;
      }
      if (!this.deps.blockOnInProgress) return { kind: 'retryAfter', ms: result.retryAfterMs, reason: result.reason };
      await (this.deps.sleep ?? defaultSleep)(result.retryAfterMs);
    }
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
