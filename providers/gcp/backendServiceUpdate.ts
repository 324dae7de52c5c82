// How an in-place update of a backend service is built (pure). Compute's update is a PUT of the
// whole resource guarded by its fingerprint: compute.proto says "An up-to-date fingerprint must be
// provided in order to update the BackendService, otherwise the request will fail with error 412
// conditionNotMet", and a PUT drops every field it does not carry. So, as GKE's L4 controllers do,
// the update starts from the resource as just read (its fingerprint, and fields others set such
// as logConfig or failoverPolicy) and overwrites only the fields this provider owns. A backend for
// a group it keeps also keeps the extra settings someone gave it.
import type { IBackendService } from './computeApi.js';
import type { BackendServiceBody } from './planActions.js';

/** "projects/p/zones/z/instanceGroups/g" whether the URL is full or partial. */
function groupPath(url: string | null | undefined): string {
  const at = (url ?? '').indexOf('projects/');
  return at < 0 ? (url ?? '') : (url ?? '').slice(at);
}

export function backendServiceUpdate(current: IBackendService, want: BackendServiceBody): IBackendService {
  const existing = new Map((current.backends ?? []).map((b) => [groupPath(b.group), b]));
  const next: IBackendService = {
    ...current,
    description: want.description,
    protocol: want.protocol,
    loadBalancingScheme: want.loadBalancingScheme,
    healthChecks: want.healthChecks,
    sessionAffinity: want.sessionAffinity,
    backends: want.backends.map((b) => ({ ...(existing.get(groupPath(b.group)) ?? {}), ...b })),
    fingerprint: current.fingerprint ?? null,
  };
  if (want.network !== undefined) next.network = want.network;
  if (want.connectionDraining !== undefined) next.connectionDraining = want.connectionDraining;
  return next;
}
