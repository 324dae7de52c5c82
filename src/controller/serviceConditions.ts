// Pure: what to change in the Service's status.conditions after a provider reports its own
// (ProviderConditions). Only the provider's types are set or removed; the list is patched by its
// merge key (type), so conditions others write are never touched. A condition whose status is
// unchanged keeps its lastTransitionTime, as the API conventions ask.
import type { V1Condition, V1Service } from '@kubernetes/client-node';
import type { ProviderConditions } from '../../providers/provider.js';

export interface ConditionsChange {
  set: V1Condition[];
  /** Types to remove: the provider's, no longer reported. */
  remove: string[];
}

/** The change, or undefined when there is none (so nothing is written). */
export function nextConditions(service: V1Service, reported: ProviderConditions, now: Date): ConditionsChange | undefined {
  const existing = service.status?.conditions ?? [];
  const generation = service.metadata?.generation;
  const remove = existing.filter((c) => reported.types.includes(c.type) && !reported.current.some((r) => r.type === c.type)).map((c) => c.type);
  let changed = remove.length > 0;
  const set = reported.current.map((r): V1Condition => {
    const before = existing.find((c) => c.type === r.type);
    if (!before || before.status !== r.status || before.reason !== r.reason || before.message !== r.message || (generation !== undefined && before.observedGeneration !== generation))
      changed = true;
    return {
      type: r.type,
      status: r.status,
      reason: r.reason,
      message: r.message,
      lastTransitionTime: before && before.status === r.status ? before.lastTransitionTime : now,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  });
  return changed ? { set, remove } : undefined;
}

/** Removal of the provider's condition types still on a Service it no longer serves, if any. */
export function conditionsToDrop(service: V1Service, types: readonly string[] | undefined): ConditionsChange | undefined {
  const remove = (service.status?.conditions ?? []).filter((c) => types?.includes(c.type)).map((c) => c.type);
  return remove.length > 0 ? { set: [], remove } : undefined;
}
