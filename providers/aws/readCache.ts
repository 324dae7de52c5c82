// What a Service's observe reads, and what it is spared. Each Service's last read (listeners,
// targets and attributes included), or what its create wrote (written.ts), is kept with the desired
// state it was read for. A resync reads list-level state once for all Services (a snapshot shared
// by every observe while it is younger than listSnapshotMs): if it shows this Service's security
// group, NLB, target groups and tags as they were, the kept read stands.
//
// Otherwise the Service is read again, as little as the case allows:
// - after a write that is not recorded, a failed one (apply forgets the Service first) or a delete,
//   and for a Service whose last read was not kept (a half-made stack without its NLB): every read
//   of it, on its own, since no snapshot can be younger than the write;
// - once the kept read is older than deepReadMs (the deep cycle), when the snapshot differs, and on
//   the first look after a restart: the list-level part from the snapshot, then its deep reads
//   (listeners, targets, attributes; readDeep);
// - on an event (another desired state): the same while a snapshot younger than the kept read is
//   current (and its list-level part already read), else on its own;
// - on the first look at a Service, only the snapshot's anchors: none for it means nothing exists
//   (a run makes the anchor first, and what this process made since is kept or forgotten).
import type { SecurityGroup } from '@aws-sdk/client-ec2';
import type { DesiredLoadBalancer, ServiceRef } from '../provider.js';
import type { AwsApi } from './awsApi.js';
import type { AwsNetwork, AwsObserved, ObservedStack } from './awsTypes.js';
import {
  describeAnchors,
  describeListeners,
  describeLoadBalancersByName,
  listLevelKey,
  listLevelStacks,
  observeService,
  readDeep,
  readListSnapshot,
  withLoadBalancer,
  type ListSnapshot,
} from './observe.js';
import { SERVICE_UID_TAG, tagMap } from './tags.js';

interface Kept {
  stacks: ObservedStack[];
  /** The desired state it was read for, as a key: another one means an event, so read afresh. */
  desiredKey: string;
  listKey: string;
  /** Groups its listeners forward to (moto does not always list those under the NLB). */
  listenerGroups: Set<string>;
  readAt: number;
}

/** One resync's list-level view: the anchors, then (only when some Service has one) NLBs, groups and tags. */
interface Snapshot {
  takenAt: number;
  anchors: Promise<SecurityGroup[]>;
  full?: Promise<ListSnapshot>;
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

/** Stacks with an NLB are kept (settle() looks again at one still provisioning); a half-made one is read again. */
function keepable(stacks: ObservedStack[]): boolean {
  return stacks.length > 0 && stacks.every((s) => s.loadBalancer !== undefined);
}

function listenerGroupsOf(stacks: ObservedStack[]): Set<string> {
  return new Set(stacks.flatMap((s) => s.listeners.flatMap((l) => (l.targetGroupArn ? [l.targetGroupArn] : []))));
}

function keptOf(stacks: ObservedStack[], desiredKey: string, readAt: number): Kept {
  return { stacks: structuredClone(stacks), desiredKey, listKey: listLevelKey(stacks), listenerGroups: listenerGroupsOf(stacks), readAt };
}

export class ReadCache {
  private readonly kept = new Map<string, Kept>();
  /** Services whose next observe reads everything on its own (after a write that was not recorded). */
  private readonly alone = new Set<string>();
  /** When a forgotten Service was last read deeply: a membership change recorded keeps that age. */
  private readonly deepReadAt = new Map<string, number>();
  /** The desired state each Service was last observed for: what a write that follows was planned from. */
  private readonly observedFor = new Map<string, string>();
  private snapshot: Snapshot | undefined;

  constructor(
    private readonly api: AwsApi,
    private readonly clusterName: string,
    private readonly options: ReadCacheOptions,
  ) {}

  /**
   * Without `desired` (the plan command) there is nothing to compare with: a full read. What it
   * sees may differ from what is kept, so the Service's next observe reads afresh too.
   */
  async observe(ref: ServiceRef, desired: DesiredLoadBalancer | undefined, network: AwsNetwork): Promise<AwsObserved> {
    const { uid } = ref;
    const desiredKey = desired ? desiredKeyOf(desired) : undefined;
    if (desiredKey === undefined) {
      this.forget(uid);
      return observeService(this.api, this.clusterName, ref, network);
    }
    this.observedFor.set(uid, desiredKey);
    const kept = this.kept.get(uid);
    const now = this.options.now();
    // Looked up after every await: concurrent observes share the snapshot the first of them takes.
    const shared = () => this.currentSnapshot(now) ?? this.newSnapshot(now);
    if (kept && !this.alone.has(uid) && desiredKey === kept.desiredKey && now - kept.readAt < this.lifetime(uid) && (await this.settle(uid, kept))) {
      const current = this.currentSnapshot(now);
      // A read or write younger than a snapshot may be, or made after this resync's snapshot, is the fresher view.
      if (now - kept.readAt < this.options.listSnapshotMs || (current !== undefined && current.takenAt <= kept.readAt)) return { ref, stacks: structuredClone(kept.stacks), network };
      if (listLevelKey(this.listLevel(await this.full(current ?? shared()), uid)) === kept.listKey) return { ref, stacks: structuredClone(kept.stacks), network };
    }

    let stacks: ObservedStack[] | undefined;
    if (!this.alone.has(uid)) {
      let snapshot: Snapshot | undefined;
      if (!kept) {
        snapshot = shared();
        // No anchor: nothing of this Service exists (and nothing to keep: the create records itself).
        if (!(await snapshot.anchors).some((g) => tagMap(g.Tags)[SERVICE_UID_TAG] === uid)) return { ref, stacks: [], network };
      } else if (desiredKey === kept.desiredKey) {
        snapshot = shared();
      } else {
        // An event: a current snapshot serves, unless it is older than the kept read (or write) or
        // would have to read the NLBs, groups and tags of every Service for this one.
        snapshot = this.currentSnapshot(now);
        if (snapshot && (snapshot.takenAt <= kept.readAt || !snapshot.full)) snapshot = undefined;
      }
      if (snapshot) stacks = await this.fromSnapshot(uid, snapshot, kept);
    }
    stacks ??= (await observeService(this.api, this.clusterName, ref, network)).stacks;
    this.alone.delete(uid);
    if (keepable(stacks)) this.kept.set(uid, keptOf(stacks, desiredKey, now));
    else {
      this.kept.delete(uid);
      this.alone.add(uid);
    }
    return { ref, stacks, network };
  }

  /** Before a write (and so after a failed one): the next observe reads everything, on its own. */
  forget(uid: string): void {
    const kept = this.kept.get(uid);
    if (kept) this.deepReadAt.set(uid, kept.readAt);
    this.kept.delete(uid);
    this.alone.add(uid);
  }

  /** A delete went through: should the Service want a load balancer again, it is read on its own (no snapshot shows the delete). */
  deleted(uid: string): void {
    this.kept.delete(uid);
    this.deepReadAt.delete(uid);
    this.alone.add(uid);
    this.observedFor.delete(uid);
  }

  /**
   * After a write went through: what it wrote stands for a read of it, for the desired state its
   * plan came from (see written.ts). A new NLB is still provisioning: settle() looks at that alone.
   * A membership change keeps the age of the deep read it was planned on (targets are not in the
   * list-level key, so any snapshot still confirms the rest); a create is all new.
   */
  record(uid: string, stack: ObservedStack, membershipOnly = false): void {
    const desiredKey = this.observedFor.get(uid);
    const readAt = membershipOnly ? this.deepReadAt.get(uid) : this.options.now();
    this.deepReadAt.delete(uid);
    if (desiredKey === undefined || readAt === undefined) return;
    this.kept.set(uid, keptOf([stack], desiredKey, readAt));
    this.alone.delete(uid);
  }

  /** What is kept for a Service (a delete works from it instead of reading), if anything. */
  keptStacks(uid: string): ObservedStack[] | undefined {
    const kept = this.kept.get(uid);
    return kept && structuredClone(kept.stacks);
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
        this.forget(uid);
        return false;
      }
      withLoadBalancer(stack, lb, stack.loadBalancer!.tags, this.clusterName, uid);
    }
    kept.listKey = listLevelKey(kept.stacks);
    return true;
  }

  /**
   * The list-level part from the snapshot, then the deep reads. undefined when a listener forwards to
   * a group the snapshot does not tie to the NLB (moto after a listener switch): read on its own then.
   */
  private async fromSnapshot(uid: string, snapshot: Snapshot, kept: Kept | undefined): Promise<ObservedStack[] | undefined> {
    const stacks = this.listLevel(await this.full(snapshot), uid, kept?.listenerGroups);
    for (const stack of stacks) {
      if (!stack.loadBalancer) continue;
      const listeners = await describeListeners(this.api, stack.loadBalancer.arn);
      const known = new Set(stack.targetGroups.map((g) => g.arn));
      if (listeners.some((l) => (l.DefaultActions ?? []).some((a) => a.TargetGroupArn !== undefined && !known.has(a.TargetGroupArn)))) return undefined;
      await readDeep(this.api, stack, listeners);
    }
    return stacks;
  }

  private listLevel(view: ListSnapshot, uid: string, listenerGroups = this.kept.get(uid)?.listenerGroups ?? new Set<string>()): ObservedStack[] {
    return listLevelStacks(view, this.clusterName, uid, listenerGroups);
  }

  private currentSnapshot(now: number): Snapshot | undefined {
    return this.snapshot && now - this.snapshot.takenAt < this.options.listSnapshotMs ? this.snapshot : undefined;
  }

  private newSnapshot(now: number): Snapshot {
    const taken: Snapshot = { takenAt: now, anchors: describeAnchors(this.api, this.clusterName) };
    this.snapshot = taken;
    // A failed read is not kept: the next observe tries again.
    taken.anchors.catch(() => {
      if (this.snapshot === taken) this.snapshot = undefined;
    });
    return taken;
  }

  /** The NLBs, groups and tags the snapshot's anchors lead to, read once per snapshot when first needed. */
  private full(snapshot: Snapshot): Promise<ListSnapshot> {
    if (!snapshot.full) {
      const listenerGroups = new Set([...this.kept.values()].flatMap((k) => [...k.listenerGroups]));
      snapshot.full = readListSnapshot(this.api, this.clusterName, listenerGroups, snapshot.anchors);
      snapshot.full.catch(() => {
        if (this.snapshot === snapshot) this.snapshot = undefined;
      });
    }
    return snapshot.full;
  }
}
