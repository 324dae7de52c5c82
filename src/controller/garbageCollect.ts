// Garbage collection of leaked load balancers: whatever a provider says this cluster owns, for a
// Service that no longer exists (or exists under a new uid), is deleted. Anything a Service still
// claims (even one we are cleaning up through its finalizer) is left to reconcile.
import type { ServiceRef } from '../../providers/provider.js';
import type { ClusterView, ProviderRuntime } from './ports.js';
import { hasCleanupFinalizer, wantedSlot } from './serviceSelection.js';

export interface Orphan {
  slotId: string;
  ref: ServiceRef;
}

/** Pure: which owned refs have no Service to answer for them. */
export function findOrphans(owned: readonly Orphan[], view: Pick<ClusterView, 'service'>, slots: readonly ProviderRuntime[]): Orphan[] {
  return owned.filter(({ slotId, ref }) => {
    const service = view.service(ref.namespace, ref.name);
    if (!service || service.metadata?.uid !== ref.uid) return true;
    if (hasCleanupFinalizer(service)) return false; // reconcile cleans it up and removes the finalizer
    return wantedSlot(service, slots)?.id !== slotId;
  });
}

export async function collectGarbage(
  view: Pick<ClusterView, 'service'>,
  slots: readonly ProviderRuntime[],
  onDeleted: (orphan: Orphan) => void,
  onError: (orphan: Orphan | undefined, error: unknown) => void,
): Promise<number> {
  let deleted = 0;
  for (const slot of slots) {
    let refs: ServiceRef[];
    try {
      refs = await slot.provider.listOwned();
    } catch (error) {
      onError(undefined, error);
      continue;
    }
    const orphans = findOrphans(
      refs.map((ref) => ({ slotId: slot.id, ref })),
      view,
      slots,
    );
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
  }
  return deleted;
}
