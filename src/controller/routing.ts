// Which Services a change in the cluster concerns: informer events become queue keys. Node changes
// are coalesced, so any number of them inside the window is one pass over the Services.
import { serviceKey } from '../../providers/provider.js';
import type { V1Service } from '@kubernetes/client-node';
import type { ClusterView, ProviderSlot } from './ports.js';
import { concernsUs, serviceRefOf, wantedSlot } from './serviceSelection.js';

export interface RoutingDeps {
  view: Pick<ClusterView, 'service' | 'services' | 'followPodEndpoints'>;
  slots: readonly ProviderSlot[];
  /** The provider id holding a load balancer for this key, if any (reconcile's ownership records). */
  ownerOf(key: string): unknown;
  enqueue(key: string): void;
  nodeSyncDelayMs: number;
}

export interface Routing {
  serviceChanged(service: V1Service, deleted: boolean): void;
  nodesChanged(): void;
  endpointsChanged(namespace: string, name: string): void;
  /** Drops a pending coalesced node pass (on stop). */
  cancel(): void;
}

export function routeClusterChanges(deps: RoutingDeps): Routing {
  const { view, slots, enqueue } = deps;
  let nodeSyncTimer: NodeJS.Timeout | undefined;
  // A provider that targets Pod IPs (AWS ip targets) for this Service.
  const wantsPodEndpoints = (s: V1Service) => wantedSlot(s, slots)?.provider.wantsPodEndpoints?.({ annotations: s.metadata?.annotations ?? {} }) ?? false;
  return {
    serviceChanged(service, deleted) {
      const key = serviceKey(serviceRefOf(service));
      const owned = deps.ownerOf(key) !== undefined;
      if (deleted ? owned : concernsUs(service, slots) || owned) enqueue(key);
      if (!deleted && wantsPodEndpoints(service)) view.followPodEndpoints?.();
    },
    nodesChanged() {
      nodeSyncTimer ??= setTimeout(() => {
        nodeSyncTimer = undefined;
        for (const s of view.services()) if (wantedSlot(s, slots)) enqueue(serviceKey(serviceRefOf(s)));
      }, deps.nodeSyncDelayMs);
    },
    endpointsChanged(namespace, name) {
      const s = view.service(namespace, name);
      if (!s) return;
      if ((s.spec?.externalTrafficPolicy === 'Local' && wantedSlot(s, slots)?.provider.capabilities.followsEndpoints) || wantsPodEndpoints(s)) enqueue(`${namespace}/${name}`);
    },
    cancel() {
      clearTimeout(nodeSyncTimer);
      nodeSyncTimer = undefined;
    },
  };
}
