// Which Services this deployment handles, and by which provider: upstream semantics for classes.
// A Service with a class goes to the provider serving that class (or to nobody: it belongs to
// someone else). A class-less Service goes to the provider marked default, if any.
import type { V1Service } from '@kubernetes/client-node';
import type { ProviderSlot } from './ports.js';

export const LOAD_BALANCER_CLEANUP_FINALIZER = 'service.kubernetes.io/load-balancer-cleanup';

/** What selection reads of a slot (the speaker selects with these alone). */
export type SlotSelector = Pick<ProviderSlot, 'id' | 'loadBalancerClass' | 'default'>;

export function isLoadBalancerService(service: V1Service): boolean {
  return service.spec?.type === 'LoadBalancer';
}

export function isBeingDeleted(service: V1Service): boolean {
  return Boolean(service.metadata?.deletionTimestamp);
}

export function hasCleanupFinalizer(service: V1Service): boolean {
  return (service.metadata?.finalizers ?? []).includes(LOAD_BALANCER_CLEANUP_FINALIZER);
}

/** The slot whose provider should serve this Service's class, ignoring type and deletion. */
export function slotForClass<T extends SlotSelector>(service: V1Service, slots: readonly T[]): T | undefined {
  const cls = service.spec?.loadBalancerClass;
  if (cls === undefined || cls === '') return slots.find((s) => s.default);
  return slots.find((s) => s.loadBalancerClass === cls);
}

/**
 * The slot that should have a load balancer for this Service right now: a LoadBalancer Service,
 * not being deleted, whose class we serve. Undefined means "nothing should exist".
 */
export function wantedSlot<T extends SlotSelector>(service: V1Service, slots: readonly T[]): T | undefined {
  if (!isLoadBalancerService(service) || isBeingDeleted(service)) return undefined;
  return slotForClass(service, slots);
}

/**
 * Is this Service any of our business (to provision, or to clean up after)? Upstream's rule: one we
 * would serve (its class is ours, or it has none and one of ours is the default), or one our own
 * cloud records hold a load balancer for (`ownedByUs`). The cleanup finalizer alone proves nothing:
 * EKS's and GKE's controllers, and our own deployments of other classes, set the same one.
 */
export function concernsUs(service: V1Service, slots: readonly SlotSelector[], ownedByUs = false): boolean {
  return ownedByUs || wantedSlot(service, slots) !== undefined || (hasCleanupFinalizer(service) && slotForClass(service, slots) !== undefined);
}

export function serviceRefOf(service: V1Service): { namespace: string; name: string; uid: string } {
  return {
    namespace: service.metadata?.namespace ?? 'default',
    name: service.metadata?.name ?? '',
    uid: service.metadata?.uid ?? '',
  };
}
