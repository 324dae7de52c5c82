// What the controller benchmarks share: clients on kept-alive connections (tens of thousands of
// creates would otherwise run out of file descriptors) and a bounded-concurrency loop.
import { KubeConfig } from '@kubernetes/client-node';
import type { ApiServerHandle } from '../../src/apiserver/index.js';
import { withSharedConnections } from '../../src/kube/sharedConnections.js';

export function kubeConfigOf(api: ApiServerHandle): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  return withSharedConnections(kc);
}

/** Runs `fn` over `items`, `concurrency` at a time. */
export async function inParallel<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}
