// Writes this node's ServiceL2Status and ServiceBGPStatus objects (serviceStatusObjects.ts decides
// what). It lists only this node's objects (label selector on metallb.io/node) once, keeps what it
// wrote, and writes only differences: in steady state it costs the API server nothing. One write
// pass at a time per kind, the latest wanted state wins; a failed pass lists again and retries on
// its own timer (doubling, to 30 s). A kind whose CRD is not installed is retried the same way.
import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import {
  LABEL_NODE,
  STATUS_GROUP,
  STATUS_KINDS,
  STATUS_VERSION,
  statusChanges,
  type StatusBody,
  type OwnerReference,
  type StatusKind,
  type StatusObject,
} from './serviceStatusObjects.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface StatusObjectWriterOptions {
  kubeConfig: KubeConfig;
  /** The speakers' namespace, where MetalLB keeps these objects. */
  namespace: string;
  nodeName: string;
  /** The speaker's own Pod (downward API): it owns what it writes, so they go with it. */
  owner?: OwnerReference;
  logger: Logger;
  retryDelayMs?: number;
}

interface KindState {
  wanted: Map<string, StatusBody> | undefined;
  /** This node's objects as last listed and written; undefined: list first. */
  known: StatusObject[] | undefined;
  lastWritten: string | undefined;
  running: Promise<void> | undefined;
  retry: NodeJS.Timeout | undefined;
  failures: number;
}

export class StatusObjectWriter {
  private readonly custom: CustomObjectsApi;
  private readonly kinds = new Map<StatusKind, KindState>();
  private stopped = false;

  constructor(private readonly options: StatusObjectWriterOptions) {
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** This node's objects of `kind` should say `wanted` (Service key -> body). Cheap when unchanged. */
  set(kind: StatusKind, wanted: Map<string, StatusBody>): void {
    const state = this.state(kind);
    state.wanted = wanted;
    this.kick(kind);
  }

  /** Resolves once every pass in flight finished. */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.kinds.values()].flatMap((s) => s.running ?? []);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Stops retrying; `clear`: first delete this node's objects of the kinds in use (a graceful stop withdraws everything). */
  async stop(clear: boolean): Promise<void> {
    if (clear) for (const kind of this.kinds.keys()) this.set(kind, new Map());
    await this.settled();
    this.stopped = true;
    for (const s of this.kinds.values()) clearTimeout(s.retry);
  }

  private state(kind: StatusKind): KindState {
    let state = this.kinds.get(kind);
    if (!state) {
      state = { wanted: undefined, known: undefined, lastWritten: undefined, running: undefined, retry: undefined, failures: 0 };
      this.kinds.set(kind, state);
    }
    return state;
  }

  private kick(kind: StatusKind): void {
    const state = this.state(kind);
    if (state.running || state.retry || this.stopped) return;
    state.running = (async () => {
      while (state.wanted && JSON.stringify([...state.wanted]) !== state.lastWritten) {
        const wanted = state.wanted;
        try {
          await this.sync(kind, state, wanted);
          state.lastWritten = JSON.stringify([...wanted]);
          state.failures = 0;
        } catch (error) {
          state.known = undefined;
          const delay = Math.min((this.options.retryDelayMs ?? 1000) * 2 ** state.failures++, 30_000);
          if (error instanceof ApiException && error.code === 404) {
            // Not served (CRD not installed): said once, then quietly retried.
            const level = state.failures === 1 ? 'warn' : 'debug';
            this.options.logger[level]({ kind, retryInMs: delay }, `speaker: cannot write ${kind} objects (CRD not installed?); retrying`);
          } else {
            this.options.logger.warn({ err: error, kind, retryInMs: delay }, `speaker: writing ${kind} objects failed; retrying`);
          }
          if (!this.stopped) {
            state.retry = setTimeout(() => {
              state.retry = undefined;
              this.kick(kind);
            }, delay);
            state.retry.unref();
          }
          break;
        }
      }
    })().finally(() => {
      state.running = undefined;
    });
  }

  private async sync(kind: StatusKind, state: KindState, wanted: Map<string, StatusBody>): Promise<void> {
    const { plural, generateName } = STATUS_KINDS[kind];
    const { namespace, nodeName: node } = this.options;
    const base = { group: STATUS_GROUP, version: STATUS_VERSION, namespace, plural };
    if (state.known === undefined) {
      const list = (await this.custom.listNamespacedCustomObject({ ...base, labelSelector: `${LABEL_NODE}=${node}` })) as { items?: StatusObject[] };
      state.known = list.items ?? [];
    }
    const { owner } = this.options;
    const changes = statusChanges(node, wanted, state.known, owner);
    const known = new Map(state.known.map((o) => [o.metadata?.name ?? '', o]));
    for (const name of changes.remove) {
      await this.custom.deleteNamespacedCustomObject({ ...base, name }).catch((error: unknown) => {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
      });
      known.delete(name);
    }
    for (const { name, status } of changes.update) {
      await this.custom.patchNamespacedCustomObjectStatus({ ...base, name, body: { status } }, mergePatch);
      known.set(name, { ...known.get(name), status });
    }
    // The older Pod it replaces is gone or going: ours alone, so the collector keeps the object.
    for (const name of owner ? changes.adopt : []) {
      await this.custom.patchNamespacedCustomObject({ ...base, name, body: { metadata: { ownerReferences: [owner] } } }, mergePatch);
      const object = known.get(name);
      known.set(name, { ...object, metadata: { ...object?.metadata, ownerReferences: [owner!] } });
    }
    const ownerReferences = owner ? [owner] : undefined;
    for (const { labels, status } of changes.create) {
      const created = (await this.custom.createNamespacedCustomObject({
        ...base,
        body: { apiVersion: `${STATUS_GROUP}/${STATUS_VERSION}`, kind, metadata: { generateName, namespace, labels, ownerReferences } },
      })) as StatusObject;
      const name = created.metadata!.name!;
      // Should this status write fail, the pass lists again and finds the object by its labels.
      await this.custom.patchNamespacedCustomObjectStatus({ ...base, name, body: { status } }, mergePatch);
      known.set(name, { metadata: { name, labels, ownerReferences }, status });
    }
    state.known = [...known.values()];
  }
}
