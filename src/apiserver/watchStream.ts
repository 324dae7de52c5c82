// One watch connection: replays history (or synthetic ADDED events) from the requested
// resourceVersion, then streams live changes as JSON lines, with bookmarks and a timeout.
import type { ServerResponse } from 'node:http';
import type { ChangeEvent, ChangeType, KubeObject, ObjectStore, StoredEntry } from './objectStore.js';

export interface WatchOptions {
  storage: string;
  kind: string;
  apiVersion: string;
  matches: (obj: KubeObject) => boolean;
  /** Serializes the object of one event as the client asked for it (plain, converted, Table). */
  render: (entry: StoredEntry) => string;
  /** Entries for the initial synthetic ADDED events, already filtered. */
  initial?: () => StoredEntry[];
  resourceVersion?: number;
  sendInitialEventsBookmark: boolean;
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutMs?: number;
}

export class WatchStream {
  private closed = false;
  private unsubscribe: (() => void) | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly res: ServerResponse,
    private readonly options: WatchOptions,
    private readonly onClose: () => void,
  ) {}

  private write(type: ChangeType | 'BOOKMARK' | 'ERROR', objectJson: string): void {
    if (this.closed) return;
    this.res.write(`{"type":"${type}","object":${objectJson}}\n`);
  }

  private bookmark(annotations?: Record<string, string>): void {
    const metadata: Record<string, unknown> = { resourceVersion: String(this.store.resourceVersion) };
    if (annotations) metadata.annotations = annotations;
    this.write('BOOKMARK', JSON.stringify({ kind: this.options.kind, apiVersion: this.options.apiVersion, metadata }));
  }

  private deliver(event: ChangeEvent): void {
    if (event.storage !== this.options.storage) return;
    const now = this.options.matches(event.entry.obj);
    const before = event.prev ? this.options.matches(event.prev.obj) : false;
    let type: ChangeType | undefined;
    if (event.type === 'ADDED') type = now ? 'ADDED' : undefined;
    else if (event.type === 'DELETED') type = now || before ? 'DELETED' : undefined;
    else if (now && before) type = 'MODIFIED';
    else if (now) type = 'ADDED';
    else if (before) type = 'DELETED';
    if (type) this.write(type, this.options.render(event.entry));
  }

  /** Start streaming; returns false when the resourceVersion is too old (an ERROR 410 was sent). */
  start(): boolean {
    const o = this.options;
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    this.res.flushHeaders();
    if (o.resourceVersion === undefined || o.resourceVersion === 0) {
      for (const entry of o.initial?.() ?? []) this.write('ADDED', o.render(entry));
      if (o.sendInitialEventsBookmark) this.bookmark({ 'k8s.io/initial-events-end': 'true' });
    } else {
      const events = this.store.eventsSince(o.storage, o.resourceVersion);
      if (!events) {
        const status = {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `too old resource version: ${o.resourceVersion} (${this.store.oldestResumable})`,
          reason: 'Expired',
          code: 410,
        };
        this.write('ERROR', JSON.stringify(status));
        this.close();
        return false;
      }
      for (const e of events) this.deliver(e);
    }
    this.unsubscribe = this.store.subscribe((e) => this.deliver(e));
    if (o.bookmarks) {
      const t = setInterval(() => this.bookmark(), o.bookmarkIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    if (o.timeoutMs !== undefined) {
      const t = setTimeout(() => this.close(), o.timeoutMs);
      t.unref();
      this.timers.push(t);
    }
    this.res.on('close', () => this.close());
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    if (!this.res.writableEnded) this.res.end();
    this.onClose();
  }
}
