// What a steady-state resync reads. Each Service's last full read (listeners, targets, attributes
// included) is kept with the desired state it was read for. A resync then reads only list-level
// state, once for all Services (a snapshot shared by every observe while it is younger than
// listSnapshotMs): if it shows this Service's security group, NLB, target groups and tags as they
// were, the kept read stands. A full read happens instead on the first look, after any change of
// the desired state (a spec, node or endpoint change), after any write or failed write (apply
// forgets the Service first), when the list-level state differs, and once the kept read is older
// than deepReadMs (the deep cycle: drift of listeners, targets and attributes is found then).
import type { DesiredLoadBalancer, ServiceRef } from '../provider.js';
import type { AwsApi } from './awsApi.js';
import type { AwsNetwork, AwsObserved, ObservedStack } from './awsTypes.js';
import { listLevelKey, listLevelStacks, observeService, readListSnapshot, type ListSnapshot } from './observe.js';

interface Kept {
  stacks: ObservedStack[];
  /** The desired state it was read for, as a key: another one means an event, so read afresh. */
  desiredKey: string;
  listKey: string;
  /** Groups its listeners forward to (moto does not always list those under the NLB). */
  listenerGroups: Set<string>;
  readAt: number;
}

export interface ReadCacheOptions {
  deepReadMs: number;
  listSnapshotMs: number;
  now: () => number;
}

/** The desired state without what our own status write feeds back (currentIngress). */
function desiredKeyOf(desired: DesiredLoadBalancer): string {
  return JSON.stringify({ ...desired, currentIngress: undefined });
}

/** Only settled stacks are kept: a provisioning NLB must be looked at again, not remembered. */
function settled(stacks: ObservedStack[]): boolean {
  return stacks.length > 0 && stacks.every((s) => s.loadBalancer?.state === 'active');
}

export class ReadCache {
  private readonly kept = new Map<string, Kept>();
  private snapshot: { takenAt: number; view: Promise<ListSnapshot> } | undefined;

  constructor(
    private readonly api: AwsApi,
    private readonly clusterName: string,
    private readonly options: ReadCacheOptions,
  ) {}

  /** Without `desired` (delete, the plan command) there is nothing to compare with: a full read. */
  async observe(ref: ServiceRef, desired: DesiredLoadBalancer | undefined, network: AwsNetwork): Promise<AwsObserved> {
    const desiredKey = desired ? desiredKeyOf(desired) : undefined;
    const kept = this.kept.get(ref.uid);
    const now = this.options.now();
    if (kept && desiredKey === kept.desiredKey && now - kept.readAt < this.lifetime(ref.uid)) {
      const current = this.snapshot && now - this.snapshot.takenAt < this.options.listSnapshotMs ? this.snapshot : undefined;
      // A read taken after this resync's snapshot is already the fresher view.
      const fresh = current !== undefined && current.takenAt <= kept.readAt;
      if (fresh || listLevelKey(listLevelStacks(await (current ?? this.newSnapshot(now)).view, this.clusterName, ref.uid, kept.listenerGroups)) === kept.listKey) {
        return { ref, stacks: structuredClone(kept.stacks), network };
      }
    }
    const observed = await observeService(this.api, this.clusterName, ref, network);
    if (desiredKey !== undefined && settled(observed.stacks)) {
      this.kept.set(ref.uid, {
        stacks: structuredClone(observed.stacks),
        desiredKey,
        listKey: listLevelKey(observed.stacks),
        listenerGroups: new Set(observed.stacks.flatMap((s) => s.listeners.flatMap((l) => (l.targetGroupArn ? [l.targetGroupArn] : [])))),
        readAt: now,
      });
    } else {
      this.kept.delete(ref.uid);
    }
    return observed;
  }

  /**
   * How long a full read stands: between half and all of the deep cycle, fixed per Service, so that
   * Services first read together (a restart) do not all read deeply in the same resync again.
   */
  private lifetime(uid: string): number {
    let h = 7;
    for (const c of uid) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return this.options.deepReadMs * (0.5 + h / 2 ** 33);
  }

  /** Before a write (and so after a failed one): the next observe reads everything. */
  forget(uid: string): void {
    this.kept.delete(uid);
  }

  private newSnapshot(now: number): { takenAt: number; view: Promise<ListSnapshot> } {
    const listenerGroups = new Set([...this.kept.values()].flatMap((k) => [...k.listenerGroups]));
    const view = readListSnapshot(this.api, this.clusterName, listenerGroups);
    const taken = { takenAt: now, view };
    this.snapshot = taken;
    // A failed read is not kept: the next observe tries again.
    view.catch(() => {
      if (this.snapshot === taken) this.snapshot = undefined;
    });
    return taken;
  }
}
