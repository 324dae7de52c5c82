// Garbage collection of leaked load balancers: whatever a provider says this cluster owns, for a
// Service that no longer exists (or exists under a new uid), is deleted. Anything a Service still
// claims (even one we are cleaning up through its finalizer) is left to reconcile. Then each
// provider's sweep() removes leftovers no single Service owns.
import type { ServiceRef } from '../../providers/provider.js';
import type { ClusterView, ProviderSlot } from './ports.js';
import { hasCleanupFinalizer, wantedSlot } from './serviceSelection.js';

export interface Orphan {
  slotId: string;
  ref: ServiceRef;
}

type OwnedState = 'served' | 'orphan' | 'awaitingCleanup';

/** Pure: what answers for one owned load balancer. */
function ownedState({ slotId, ref }: Orphan, view: Pick<ClusterView, 'service'>, slots: readonly ProviderSlot[]): OwnedState {
  const service = view.service(ref.namespace, ref.name);
  if (!service || service.metadata?.uid !== ref.uid) return 'orphan';
  if (wantedSlot(service, slots)?.id === slotId) return 'served';
  // Still holding a cleanup finalizer: reconcile deletes the load balancer, then removes it.
  return hasCleanupFinalizer(service) ? 'awaitingCleanup' : 'orphan';
}

/** Pure: which owned refs have no Service to answer for them. */
export function findOrphans(owned: readonly Orphan[], view: Pick<ClusterView, 'service'>, slots: readonly ProviderSlot[]): Orphan[] {
  return owned.filter((o) => ownedState(o, view, slots) === 'orphan');
}

/** Pure: owned refs whose Service still holds a finalizer and wants no load balancer from that slot. */
export function awaitingCleanup(owned: readonly Orphan[], view: Pick<ClusterView, 'service'>, slots: readonly ProviderSlot[]): Orphan[] {
  return owned.filter((o) => ownedState(o, view, slots) === 'awaitingCleanup');
}

export interface GarbageHandlers {
  onDeleted: (orphan: Orphan) => void;
  onError: (orphan: Orphan | undefined, error: unknown) => void;
  /** A load balancer whose Service still holds the finalizer: reconcile must know it is ours. */
  onAwaitingCleanup: (owned: Orphan) => void;
}

export async function collectGarbage(view: Pick<ClusterView, 'service'>, slots: readonly ProviderSlot[], handlers: GarbageHandlers): Promise<number> {
  const { onDeleted, onError } = handlers;
  let deleted = 0;
  for (const slot of slots) {
    let refs: ServiceRef[];
    try {
      refs = await slot.provider.listOwned();
    } catch (error) {
      onError(undefined, error);
      continue;
    }
    const owned = refs.map((ref) => ({ slotId: slot.id, ref }));
    for (const claimed of awaitingCleanup(owned, view, slots)) handlers.onAwaitingCleanup(claimed);
    const orphans = findOrphans(owned, view, slots);
    for (const orphan of orphans) {
      try {
        const result = await slot.provider.delete(orphan.ref);
        if (result.state === 'deleted') {
          deleted++;
          onDeleted(orphan);
        }
      } catch (error) {
        onError(orphan, error);
      }
    }
    // Leftovers no Service owns go last, once the orphans' own resources are gone.
    try {
      await slot.provider.sweep?.();
    } catch (error) {
      onError(undefined, error);
    }
  }
  return deleted;
}
