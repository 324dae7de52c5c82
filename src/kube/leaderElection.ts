// Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes the
// lease when it is free (no holder) or when its record has not changed for leaseDuration as seen by
// the candidate's own clock; the leader renews every retryPeriod and steps down if it cannot renew
// within renewDeadline; on stop it releases the lease (empty holder) so a peer takes over at once.
import { CoordinationV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { statusOf } from './apiErrors.js';

export interface LeaderElectionOptions {
  coordination: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
  onStartedLeading(): void;
  onStoppedLeading(): void | Promise<void>;
}

export class LeaderElector {
  private leader = false;
  private stopped = false;
  private observedRecord = '';
  private observedAt = 0;
  private lastRenew = 0;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: LeaderElectionOptions) {}

  isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning; a leader releases the lease. `beforeRelease` runs while still leader. */
  async stop(beforeRelease?: () => Promise<void>): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leader) {
      await beforeRelease?.();
      await this.release();
      this.leader = false;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const ok = await this.tryAcquireOrRenew().catch((error: unknown) => {
        this.options.logger.warn({ err: String(error) }, 'leader election: lease request failed');
        return false;
      });
      if (this.stopped) break;
      if (ok) {
        this.lastRenew = Date.now();
        if (!this.leader) {
          this.leader = true;
          this.options.logger.info({ identity: this.options.identity, lease: `${this.options.namespace}/${this.options.name}` }, 'became leader');
          this.options.onStartedLeading();
        }
      } else if (this.leader && Date.now() - this.lastRenew > this.options.renewDeadlineMs) {
        this.leader = false;
        this.options.logger.warn({ identity: this.options.identity }, 'lost the leader lease');
        await this.options.onStoppedLeading();
      }
      await this.sleep(this.options.retryPeriodMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { coordination, namespace, name, identity } = this.options;
    const durationSeconds = Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000));
    const now = new V1MicroTime(Date.now());
    let lease: V1Lease;
    try {
      lease = await coordination.readNamespacedLease({ namespace, name });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      try {
        await coordination.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        return true;
      } catch (createError) {
        if (statusOf(createError) === 409) return false;
        throw createError;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const record = `${holder}|${String(spec.renewTime ?? '')}|${spec.leaseTransitions ?? 0}`;
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const heldByOther = holder !== '' && holder !== identity;
    const validMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && this.observedAt + validMs > Date.now()) return false;
    const renewing = holder === identity;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: renewing ? (spec.acquireTime ?? now) : now,
        leaseTransitions: renewing ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      await coordination.replaceNamespacedLease({ namespace, name, body });
      return true;
    } catch (error) {
      if (statusOf(error) === 409) return false;
      throw error;
    }
  }

  private async release(): Promise<void> {
    const { coordination, namespace, name, identity } = this.options;
    try {
      const lease = await coordination.readNamespacedLease({ namespace, name });
      if (lease.spec?.holderIdentity !== identity) return;
      const now = new V1MicroTime(Date.now());
      await coordination.replaceNamespacedLease({
        namespace,
        name,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now } },
      });
      this.options.logger.info({ identity }, 'released the leader lease');
    } catch (error) {
      this.options.logger.warn({ err: String(error) }, 'could not release the leader lease');
    }
  }
}
