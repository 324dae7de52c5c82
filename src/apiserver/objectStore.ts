// The in-memory storage: one map per storage name, a global resourceVersion counter, the watch
// history kept for resuming, and the service allocators. Objects are plain JSON kept next to their
// serialized form, so a LIST concatenates strings and a watch event is serialized once.
import { ResourceCatalog } from './resourceCatalog.js';
import { ClusterIpAllocator, PortAllocator } from './serviceAllocation.js';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface StoredEntry {
  readonly obj: KubeObject;
  readonly json: string;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  readonly rv: number;
  readonly type: ChangeType;
  readonly storage: string;
  readonly key: string;
  readonly entry: StoredEntry;
  /** The object before this change (for selector transitions on watches). */
  readonly prev?: StoredEntry;
}

export type ChangeListener = (event: ChangeEvent) => void;

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class ObjectStore {
  private rv = 0;
  private readonly collections = new Map<string, Map<string, StoredEntry>>();
  private readonly sortedKeys = new Map<string, string[]>();
  private history: ChangeEvent[] = [];
  /** Every event with rv > historyStart is still in `history`. */
  private historyStart = 0;
  private readonly listeners = new Set<ChangeListener>();
  /** The service ranges, one per IP family; the first is the cluster's default family. */
  clusterIpRanges: ClusterIpAllocator[] = [];
  /** The primary (default family) range. */
  get clusterIps(): ClusterIpAllocator | undefined {
    return this.clusterIpRanges[0];
  }
  set clusterIps(range: ClusterIpAllocator | undefined) {
    this.clusterIpRanges = range ? [range] : [];
  }
  /** Replaced, before any Service exists, by startApiServer's serviceNodePortRange. */
  nodePorts = new PortAllocator();
  /** What is served: built-ins plus the custom resources of the CRDs in this store. */
  readonly catalog = new ResourceCatalog();

  constructor(public historyLimit = 10_000) {}

  get resourceVersion(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch can resume from. */
  get oldestResumable(): number {
    return this.historyStart;
  }

  private collection(storage: string): Map<string, StoredEntry> {
    let c = this.collections.get(storage);
    if (!c) {
      c = new Map();
      this.collections.set(storage, c);
    }
    return c;
  }

  get(storage: string, key: string): StoredEntry | undefined {
    return this.collections.get(storage)?.get(key);
  }

  count(storage: string): number {
    return this.collections.get(storage)?.size ?? 0;
  }

  /** Keys in the order LIST returns them (namespace, then name). */
  keys(storage: string): readonly string[] {
    let keys = this.sortedKeys.get(storage);
    if (!keys) {
      keys = [...this.collection(storage).keys()].sort();
      this.sortedKeys.set(storage, keys);
    }
    return keys;
  }

  /** Write `obj` as the new state of storage/key (or delete it) and emit the change. */
  commit(storage: string, key: string, type: ChangeType, obj: KubeObject): StoredEntry {
    const c = this.collection(storage);
    const prev = c.get(key);
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    const entry: StoredEntry = { obj, json: JSON.stringify(obj) };
    if (type === 'DELETED') {
      c.delete(key);
      this.sortedKeys.delete(storage);
    } else {
      if (!prev) this.sortedKeys.delete(storage);
      c.set(key, entry);
    }
    const event: ChangeEvent = prev ? { rv: this.rv, type, storage, key, entry, prev } : { rv: this.rv, type, storage, key, entry };
    this.history.push(event);
    if (this.history.length > this.historyLimit * 2 || this.history.length > this.historyLimit + 10_000) this.trimHistory();
    for (const l of this.listeners) l(event);
    return entry;
  }

  private trimHistory(): void {
    const drop = this.history.length - this.historyLimit;
    if (drop <= 0) return;
    this.historyStart = this.history[drop - 1]!.rv;
    this.history = this.history.slice(drop);
  }

  /** Events after `rv` for one storage, or undefined when they are no longer all kept. */
  eventsSince(storage: string, rv: number): ChangeEvent[] | undefined {
    if (this.history.length > this.historyLimit) this.trimHistory();
    if (rv < this.historyStart) return undefined;
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid]!.rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    const out: ChangeEvent[] = [];
    for (let i = lo; i < this.history.length; i++) if (this.history[i]!.storage === storage) out.push(this.history[i]!);
    return out;
  }

  /** Forget the history: resuming from any older resourceVersion now gets 410 Expired. */
  compact(): void {
    // Move past every resourceVersion handed out so far, so that none of them can be resumed.
    this.rv++;
    this.history = [];
    this.historyStart = this.rv;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
