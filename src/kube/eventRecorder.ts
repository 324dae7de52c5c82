// Writes core/v1 Events on Services (and on Nodes the controller cannot target, and on other
// namespaced objects such as MetalLB's pools), aggregating repeats the way kubectl shows them (count and
// lastTimestamp bumped on one Event instead of a new Event per retry). Best effort: never throws.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type V1Node, type V1Service } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../observability/logger.js';

export interface EventRecorderOptions {
  /** source.component (what kubectl shows as FROM). */
  component: string;
  /** reportingComponent; the component when not given. */
  reportingComponent?: string;
  host: string;
  logger: Logger;
}

const MAX_REMEMBERED = 4096;

/** The object an Event is about (a namespaced one). */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

export class EventRecorder {
  /** (uid, type, reason, message) -> the Event we wrote and its count. */
  private readonly seen = new Map<string, { namespace: string; name: string; count: number }>();
  private chain: Promise<void> = Promise.resolve();
  private pendingWrites = 0;

  constructor(
    private readonly core: CoreV1Api,
    private readonly options: EventRecorderOptions,
  ) {}

  record(service: V1Service, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.enqueue('Service', service.metadata?.namespace ?? 'default', service, type, reason, message);
  }

  /** Nodes are cluster-scoped; like upstream, their Events live in the default namespace. */
  recordOnNode(node: V1Node, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.enqueue('Node', 'default', node, type, reason, message);
  }

  /** Any namespaced object, e.g. a metallb.io IPAddressPool with a bad field. */
  recordOnObject(object: InvolvedObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const { apiVersion, kind, namespace, name, uid } = object;
    this.enqueue(kind, namespace, { metadata: { name, namespace, uid } }, type, reason, message, apiVersion);
  }

  private enqueue(kind: string, namespace: string, object: V1Service | V1Node, type: string, reason: string, message: string, apiVersion = 'v1'): void {
    const name = object.metadata?.name ?? '';
    const log = { [kind.toLowerCase()]: kind === 'Node' ? name : `${namespace}/${name}`, reason };
    (type === 'Warning' ? this.options.logger.warn : this.options.logger.info).call(this.options.logger, log, message);
    // Writes are serialised so a repeat always finds the Event its predecessor created.
    this.pendingWrites++;
    this.chain = this.chain
      .then(() => this.write(kind, namespace, object, type, reason, message, apiVersion))
      .catch((error: unknown) => this.options.logger.debug({ err: String(error), reason }, 'could not record event'))
      .finally(() => this.pendingWrites--);
  }

  /** Resolves when every Event recorded so far is written (or given up). */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(kind: string, namespace: string, object: V1Service | V1Node, type: string, reason: string, message: string, apiVersion: string): Promise<void> {
    const name = object.metadata?.name ?? '';
    const uid = object.metadata?.uid ?? '';
    const key = `${uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = new Date();
    const prior = this.seen.get(key);
    if (prior) {
      prior.count++;
      try {
        await this.core.patchNamespacedEvent(
          { namespace: prior.namespace, name: prior.name, body: { count: prior.count, lastTimestamp: now.toISOString() } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      } catch {
        this.seen.delete(key); // gone (expired or deleted): write a fresh one
      }
    }
    const eventName = `${name}.${randomBytes(8).toString('hex')}`;
    const body: CoreV1Event = {
      metadata: { name: eventName, namespace },
      involvedObject: {
        apiVersion,
        kind,
        ...(kind !== 'Node' ? { namespace } : {}),
        name,
        uid,
        ...(object.metadata?.resourceVersion ? { resourceVersion: object.metadata.resourceVersion } : {}),
      },
      reason,
      message,
      type,
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: this.options.component, host: this.options.host },
      reportingComponent: this.options.reportingComponent ?? this.options.component,
      reportingInstance: this.options.host,
    };
    await this.core.createNamespacedEvent({ namespace, body });
    if (this.seen.size >= MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value ?? '');
    this.seen.set(key, { namespace, name: eventName, count: 1 });
  }
}
