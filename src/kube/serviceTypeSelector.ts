// Kubernetes 1.31 added the `spec.type` field selector for Services (kubernetes#123905); older API
// servers answer 400 "not a known field selector". A watcher that needs only LoadBalancer Services
// asks the server once and, where it can, never receives (or caches) any other Service.
import type { CoreV1Api } from '@kubernetes/client-node';
import pRetry, { AbortError } from 'p-retry';

export const LOAD_BALANCER_SERVICES = 'spec.type=LoadBalancer';

/**
 * The field selector to watch LoadBalancer Services with, or undefined when the server has none.
 * An unreachable server is asked again with backoff (as the informers would retry), never taken
 * for an old one: guessing wrong would mean watching every Service for the process's life.
 */
export async function loadBalancerServiceSelector(core: CoreV1Api, signal?: AbortSignal): Promise<string | undefined> {
  const asked = await pRetry(
    async () => {
      try {
        await core.listServiceForAllNamespaces({ fieldSelector: LOAD_BALANCER_SERVICES, limit: 1 });
        return true;
      } catch (error) {
        if ((error as { code?: number }).code === 400) return false;
        if ((error as { code?: number }).code === 403) {
          throw new AbortError(new Error('cannot list Services cluster-wide: forbidden (403). Grant list and watch on services to this ServiceAccount (the chart\'s speaker ClusterRole does).', { cause: error }));
        }
        throw error;
      }
    },
    { retries: Infinity, minTimeout: 250, maxTimeout: 10_000, ...(signal ? { signal } : {}) },
  );
  return asked ? LOAD_BALANCER_SERVICES : undefined;
}
