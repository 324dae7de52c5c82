// client-node informers (list + watch + cache) that survive the API server going away: the library
// relists by itself on 410 Gone, but stops on other errors, so we restart it with backoff. After a
// restart it resumes from its resourceVersion, or relists when that has expired.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';

export interface InformerHandlers<T> {
  /** Runs first on every added or updated object, which is the cached one: drop what nobody reads. */
  trim?(obj: T): void;
  add?(obj: T): void;
  update?(obj: T): void;
  delete?(obj: T): void;
}

export interface RunningInformer<T extends KubernetesObject> {
  cache: ObjectCache<T>;
  /** True once a first list has been loaded. */
  synced(): boolean;
  /** Resolves after the first list (retrying until it succeeds, or the informer is stopped). */
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
}

export interface InformerOptions {
  logger: Logger;
  /** Watch only objects with these labels (e.g. the speakers' Leases). */
  labelSelector?: string;
  /** Watch only objects with these fields (e.g. spec.type=LoadBalancer); the list must use it too. */
  fieldSelector?: string;
  restartMinMs?: number;
  restartMaxMs?: number;
  /** Failures expected for a while (e.g. a CRD not installed): logged at debug, not warn. */
  quietOn?: (error: unknown) => boolean;
}

/** One page of a list: client-node's list call with `limit` and `_continue`. */
export type ListPage<T extends KubernetesObject> = (page: { limit: number; _continue?: string }) => Promise<KubernetesListObject<T>>;

/**
 * The whole list in pages of `limit`, as client-go's pager does, trimming each page's items as it
 * arrives: a list of 100,000 endpoints never sits in memory whole and untrimmed at once.
 */
export async function listInPages<T extends KubernetesObject>(listPage: ListPage<T>, trim?: (obj: T) => void, limit = 500): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let next: string | undefined;
  let page: KubernetesListObject<T>;
  do {
    page = await listPage(next === undefined ? { limit } : { limit, _continue: next });
    for (const item of page.items) {
      trim?.(item);
      items.push(item);
    }
    next = page.metadata?._continue || undefined;
  } while (next !== undefined);
  return { ...page, items, metadata: { resourceVersion: page.metadata?.resourceVersion ?? '' } };
}

export function startInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  handlers: InformerHandlers<T>,
  options: InformerOptions,
): RunningInformer<T> {
  const informer = new ListWatch<T>(path, new Watch(kubeConfig), list, false, options.labelSelector, options.fieldSelector);
  const minMs = options.restartMinMs ?? 250;
  const maxMs = options.restartMaxMs ?? 10_000;
  let stopped = false;
  let synced = false;
  let delay = minMs;
  let restartTimer: NodeJS.Timeout | undefined;
  let resolveSync: () => void = () => {};
  const syncPromise = new Promise<void>((resolve) => (resolveSync = resolve));

  if (handlers.trim) {
    informer.on('add', handlers.trim);
    informer.on('update', handlers.trim);
  }
  if (handlers.add) informer.on('add', handlers.add);
  if (handlers.update) informer.on('update', handlers.update);
  if (handlers.delete) informer.on('delete', handlers.delete);
  let lastErrorAt = -Infinity;
  informer.on('error', (error: unknown) => {
    if (stopped) return;
    // Consecutive failures back off; a failure after a quiet spell starts again from the shortest
    // delay. (A restart that "succeeds" proves nothing: client-node reports a failed relist as an
    // error and resolves start() with the old resourceVersion, so resetting there made an outage
    // retry, and log, every restartMinMs.)
    const now = Date.now();
    if (now - lastErrorAt > 2 * maxMs) delay = minMs;
    lastErrorAt = now;
    const level = options.quietOn?.(error) ? 'debug' : 'warn';
    options.logger[level]({ path, err: error instanceof Error ? error.message : String(error), retryInMs: delay }, 'watch failed; restarting informer');
    clearTimeout(restartTimer);
    restartTimer = setTimeout(() => void begin(), delay);
    delay = Math.min(maxMs, delay * 2);
  });

  const begin = async () => {
    if (stopped) return;
    try {
      await informer.start();
    } catch (error) {
      options.logger[options.quietOn?.(error) ? 'debug' : 'warn']({ path, err: String(error) }, 'informer start failed');
    }
    // start() resolves once the list is loaded and the watch is open; on failure the error handler
    // has scheduled a restart and the resourceVersion is still empty.
    const rv = (informer as unknown as { latestResourceVersion?: () => string }).latestResourceVersion?.() ?? '';
    if (!stopped && rv !== '') {
      if (!synced) {
        synced = true;
        resolveSync();
      }
    }
  };
  void begin();

  return {
    cache: informer,
    synced: () => synced,
    waitForSync: () => syncPromise,
    stop: async () => {
      stopped = true;
      clearTimeout(restartTimer);
      resolveSync();
      await informer.stop();
    },
  };
}
