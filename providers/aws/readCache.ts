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
import { describeLoadBalancersByName, listLevelKey, listLevelStacks, observeService, readListSnapshot, withLoadBalancer, type ListSnapshot } from './observe.js';

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

function keptOf(stacks: ObservedStack[], desiredKey: string, readAt: number): Kept {
  return {
    stacks: structuredClone(stacks),
    desiredKey,
    listKey: listLevelKey(stacks),
    listenerGroups: new Set(stacks.flatMap((s) => s.listeners.flatMap((l) => (l.targetGroupArn ? [l.targetGroupArn] : [])))),
    readAt,
  };
}

export class ReadCache {
  private readonly kept = new Map<string, Kept>();
  /** The desired state each Service was last observed for: what a write that follows was planned from. */
  private readonly observedFor = new Map<string, string>();
  private snapshot: { takenAt: number; view: Promise<ListSnapshot> } | undefined;

  constructor(
    private readonly api: AwsApi,
    private readonly clusterName: string,
    private readonly options: ReadCacheOptions,
  ) {}

  /** Without `desired` (delete, the plan command) there is nothing to compare with: a full read. */
  async observe(ref: ServiceRef, desired: DesiredLoadBalancer | undefined, network: AwsNetwork): Promise<AwsObserved> {
    const desiredKey = desired ? desiredKeyOf(desired) : undefined;
    if (desiredKey !== undefined) this.observedFor.set(ref.uid, desiredKey);
    const kept = this.kept.get(ref.uid);
    const now = this.options.now();
    if (kept && desiredKey === kept.desiredKey && now - kept.readAt < this.lifetime(ref.uid) && (await this.settle(ref.uid, kept))) {
      const current = this.snapshot && now - this.snapshot.takenAt < this.options.listSnapshotMs ? this.snapshot : undefined;
      // A read or write younger than a snapshot may be, or made after this resync's snapshot, is the fresher view.
      const fresh = now - kept.readAt < this.options.listSnapshotMs || (current !== undefined && current.takenAt <= kept.readAt);
      if (fresh || listLevelKey(listLevelStacks(await (current ?? this.newSnapshot(now)).view, this.clusterName, ref.uid, kept.listenerGroups)) === kept.listKey) {
        return { ref, stacks: structuredClone(kept.stacks), network };
      }
    }
    const observed = await observeService(this.api, this.clusterName, ref, network);
    if (desiredKey !== undefined && settled(observed.stacks)) {
      this.kept.set(ref.uid, keptOf(observed.stacks, desiredKey, now));
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

  /**
   * After a create went through: what it wrote stands for a read of it, for the desired state its
   * plan came from (see written.ts). Its NLB is still provisioning: settle() looks at that alone.
   */
  record(uid: string, stack: ObservedStack): void {
    const desiredKey = this.observedFor.get(uid);
    if (desiredKey !== undefined) this.kept.set(uid, keptOf([stack], desiredKey, this.options.now()));
  }

  /** What is kept for a Service (a delete works from it instead of reading), if anything. */
  keptStacks(uid: string): ObservedStack[] | undefined {
    const kept = this.kept.get(uid);
    return kept && structuredClone(kept.stacks);
  }

  /**
   * A kept NLB that was provisioning when written is looked at again (one DescribeLoadBalancers):
   * its state, DNS name and zones are all a create cannot know. False when it is gone.
   */
  private async settle(uid: string, kept: Kept): Promise<boolean> {
    const waiting = kept.stacks.filter((s) => s.loadBalancer && s.loadBalancer.state !== 'active');
    if (waiting.length === 0) return true;
    const found = new Map((await describeLoadBalancersByName(this.api, waiting.map((s) => s.lbName))).map((lb) => [lb.LoadBalancerName, lb]));
    for (const stack of waiting) {
      const lb = found.get(stack.lbName);
      if (!lb) {
        this.kept.delete(uid);
        return false;
      }
      withLoadBalancer(stack, lb, stack.loadBalancer!.tags, this.clusterName, uid);
    }
    kept.listKey = listLevelKey(kept.stacks);
    return true;
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
