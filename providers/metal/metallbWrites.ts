// What users read on MetalLB's objects and on Services, through the controller's
// CustomResourceAccess: Warning Events on bad objects, IPAddressPool.status, the in-use finalizer
// that holds a pool's deletion, and the metallb.io/ip-allocated-from-pool annotation. Each write
// is skipped when it would change nothing; failures are logged and retried at the next change.
import type { CustomResourceAccess, ServiceRef } from '../provider.js';
import type { Logger } from '../../src/observability/logger.js';
import { METALLB_GROUP, METALLB_KINDS, type ObjectProblem, type RawObject } from '../../src/metallb/objects.js';

export const POOL_IN_USE_FINALIZER = 'kube-lb-provisioner.io/pool-in-use';
export const ALLOCATED_FROM_POOL_ANNOTATION = 'metallb.io/ip-allocated-from-pool';
export const INVALID_CONFIGURATION_REASON = 'InvalidConfiguration';
export const DELETION_HELD_REASON = 'DeletionHeld';

export interface PoolStatus {
  assignedIPv4: number;
  assignedIPv6: number;
  availableIPv4: number;
  availableIPv6: number;
}

const poolKind = { group: METALLB_GROUP, ...METALLB_KINDS.IPAddressPool };

export class MetallbWrites {
  /** Problems already reported, so a rebuild does not repeat them. */
  private reported = new Set<string>();
  private readonly statusWritten = new Map<string, string>();
  private readonly heldReported = new Map<string, string>();

  constructor(
    private readonly access: CustomResourceAccess,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {}

  /** Warning Events for problems not reported before (a fixed and re-broken object is reported again). */
  reportProblems(problems: ObjectProblem[]): void {
    const now = new Set<string>();
    for (const p of problems) {
      const key = `${p.kind}/${p.name}/${p.uid ?? ''}/${p.field}/${p.message}`;
      now.add(key);
      if (this.reported.has(key)) continue;
      this.access.event(
        { apiVersion: `${METALLB_GROUP}/${METALLB_KINDS[p.kind].version}`, kind: p.kind, namespace: p.namespace, name: p.name, ...(p.uid ? { uid: p.uid } : {}) },
        'Warning',
        INVALID_CONFIGURATION_REASON,
        `${p.field}: ${p.message}. This ${p.kind} is left out; everything else keeps serving.`,
      );
    }
    this.reported = now;
  }

  async poolStatus(name: string, status: PoolStatus): Promise<void> {
    const text = JSON.stringify(status);
    if (this.statusWritten.get(name) === text) return;
    this.statusWritten.set(name, text);
    try {
      await this.access.mergePatch(poolKind, this.namespace, name, { status }, 'status');
    } catch (error) {
      this.statusWritten.delete(name);
      this.logger.debug({ pool: name, err: String(error) }, 'metal: could not write IPAddressPool status');
    }
  }

  /** Adds or removes the in-use finalizer so that it is there exactly while `inUse`. */
  async poolFinalizer(pool: RawObject, inUse: boolean): Promise<void> {
    const finalizers = pool.metadata.finalizers ?? [];
    if (finalizers.includes(POOL_IN_USE_FINALIZER) === inUse) return;
    // A pool already being deleted takes no new finalizer (the API server refuses it).
    if (inUse && pool.metadata.deletionTimestamp) return;
    const next = inUse ? [...finalizers, POOL_IN_USE_FINALIZER] : finalizers.filter((f) => f !== POOL_IN_USE_FINALIZER);
    try {
      // The resourceVersion makes this a compare-and-swap: a concurrent change is retried at its event.
      await this.access.mergePatch(poolKind, this.namespace, pool.metadata.name, { metadata: { finalizers: next, resourceVersion: pool.metadata.resourceVersion } });
    } catch (error) {
      this.logger.debug({ pool: pool.metadata.name, err: String(error) }, 'metal: could not update the pool finalizer');
    }
  }

  /** Says on a pool being deleted why it is still there (once per set of holders). */
  deletionHeld(pool: RawObject, holders: string[]): void {
    const text = holders.join(', ');
    if (this.heldReported.get(pool.metadata.name) === text) return;
    this.heldReported.set(pool.metadata.name, text);
    this.access.event(
      { apiVersion: `${METALLB_GROUP}/${poolKind.version}`, kind: 'IPAddressPool', namespace: this.namespace, name: pool.metadata.name, ...(pool.metadata.uid ? { uid: pool.metadata.uid } : {}) },
      'Warning',
      DELETION_HELD_REASON,
      `deletion waits until no Service holds an address of this pool; held by ${holders.length} Service(s): ${holders.slice(0, 10).join(', ')}${holders.length > 10 ? ', ...' : ''}. Delete those Services or move them to another pool.`,
    );
  }

  async serviceAnnotation(ref: ServiceRef, value: string | undefined): Promise<void> {
    try {
      await this.access.annotateService(ref, ALLOCATED_FROM_POOL_ANNOTATION, value);
    } catch (error) {
      this.logger.debug({ service: `${ref.namespace}/${ref.name}`, err: String(error) }, 'metal: could not annotate the Service with its pool');
    }
  }

  flush(): Promise<void> {
    return this.access.flush();
  }
}
