// The speakers' liveness protocol, as a pure state machine: inputs are received packets, timer
// ticks and membership (node names), each with the time passed in; outputs are packets to send and
// membership changes, taken with take(). livenessTransport.ts puts it on a UDP socket; the
// simulation in test/metal drives the very same code over a simulated network.
//
// Shape (SWIM with a deterministic probe ring, plus memberlist's refutation):
// - Every probe interval each speaker pings the next `fanout` live members after itself on a ring
//   ordered by hash(name). Each member is so probed by `fanout` others per interval, and the
//   packets per interval grow O(N) in total.
// - No ack within probeTimeoutMs: the prober pings again and asks `indirectProbes` others to ping
//   the target for it (ping-req). Still no ack after another probeTimeoutMs: the target is dead.
//   Worst case from death to verdict: one interval + two timeouts (100 + 2 × 70 ms by default).
// - The verdict is sent at once to every member (and piggybacked on later pings and acks, so
//   that a lost copy is repaired), not left to gossip rounds: every speaker must agree fast, as
//   owner choice is computed independently by each.
// - A member told it is dead while it lives refutes with a higher incarnation; a restarted
//   speaker starts with a higher one (its start time), so either comes back at once.
// - A prober that heard from nobody else while its probe ran does not conclude anything: it is
//   more likely the one cut off. A speaker that hears from no one at all for isolationMs says
//   nothing about anyone (verdicts() is empty) and the caller falls back to the Leases.
// - A member we never heard from (an older speaker, a firewalled port) is never declared dead by
//   probing: the direct path says nothing about it, its Lease judges it.
// - leave() (SIGTERM) tells every member at once; each acknowledges after it has converged, so
//   the leaver knows the new owners announce before it withdraws.
import { createHash } from 'node:crypto';
import type { LivenessPacket, MemberUpdate, PacketKind } from './livenessPacket.js';

export interface LivenessTiming {
  /** How often each speaker probes its ring successors. */
  probeIntervalMs: number;
  /** Wait for an ack this long, then probe indirectly; as long again, then declare dead. */
  probeTimeoutMs: number;
  /** How many other members are asked to probe a silent target. */
  indirectProbes: number;
  /** How many ring successors each speaker probes per interval. */
  fanout: number;
  /** Heard from no one for this long: say nothing about anyone (Leases judge). */
  isolationMs: number;
  /** How often one dead member is pinged, to find it alive again after a partition heals. */
  deadRecheckMs: number;
}

export const DEFAULT_LIVENESS_TIMING: LivenessTiming = {
  probeIntervalMs: 100,
  probeTimeoutMs: 70,
  indirectProbes: 3,
  fanout: 2,
  isolationMs: 600,
  deadRecheckMs: 1000,
};

export type MemberState = 'unknown' | 'alive' | 'dead' | 'left';

export interface Outgoing {
  /** Node name; the transport knows its address. */
  to: string;
  packet: LivenessPacket;
  /** Send only after the caller has converged on the changes taken with it (leave-acks). */
  afterConverge?: boolean;
}

export interface MembershipChange {
  node: string;
  state: MemberState;
  why: 'answered' | 'gossip' | 'confirmed-dead' | 'told-dead' | 'left';
}

export interface LivenessOutput {
  send: Outgoing[];
  changes: MembershipChange[];
  /** Round-trip times of direct probes answered since the last take(). */
  rttMs: number[];
  /** Members this speaker itself declared dead since the last take(). */
  detections: string[];
  /** Times this speaker learned it had been declared dead while alive (it refuted). */
  falseSuspicionsOfSelf: number;
}

interface Member {
  state: MemberState;
  incarnation: number;
  lastHeard: number | undefined;
  ringKey: bigint;
  lastToldDead: number;
}

interface Probe {
  target: string;
  seq: number;
  startedAt: number;
  sentAt: number;
  stage: 'direct' | 'indirect';
  deadline: number;
}

interface Relay {
  requester: string;
  requesterSeq: number;
  expires: number;
}

const MAX_PIGGYBACK = 6;

function ringKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigUInt64BE(0);
}

export class LivenessProtocol {
  private readonly members = new Map<string, Member>();
  private ring: string[] = [];
  private readonly selfKey: bigint;
  private readonly probes = new Map<number, Probe>();
  private readonly relays = new Map<number, Relay>();
  private readonly gossip = new Map<string, { update: MemberUpdate; remaining: number }>();
  private readonly leaveAcks = new Set<string>();
  private seq = 1;
  private started = false;
  private nextProbeAt = Number.POSITIVE_INFINITY;
  private nextDeadCheckAt = Number.POSITIVE_INFINITY;
  private lastHeardAny = Number.NEGATIVE_INFINITY;
  private leaving = false;
  private out: LivenessOutput = { send: [], changes: [], rttMs: [], detections: [], falseSuspicionsOfSelf: 0 };

  constructor(
    readonly self: string,
    private incarnation: number,
    readonly timing: LivenessTiming = DEFAULT_LIVENESS_TIMING,
    private readonly random: () => number = Math.random,
  ) {
    this.selfKey = ringKey(self);
  }

  get currentIncarnation(): number {
    return this.incarnation;
  }

  /** The other speakers (node names); the caller derives them from the Node objects. */
  setMembers(names: Iterable<string>, now: number): void {
    const wanted = new Set(names);
    wanted.delete(this.self);
    let changed = false;
    for (const name of [...this.members.keys()]) {
      if (!wanted.has(name)) {
        this.members.delete(name);
        this.gossip.delete(name);
        changed = true;
      }
    }
    for (const name of wanted) {
      if (this.members.has(name)) continue;
      this.members.set(name, { state: 'unknown', incarnation: 0, lastHeard: undefined, ringKey: ringKey(name), lastToldDead: Number.NEGATIVE_INFINITY });
      changed = true;
      // A newcomer to our list learns of us at once (its first probe of us may be a while off).
      if (!this.leaving) this.emit(name, 'alive', this.self, this.incarnation);
    }
    if (changed) this.ring = [...this.members.keys()].sort((a, b) => this.compareRing(a, b));
    // The probe phase starts with the first membership, so speakers do not probe in lockstep.
    if (!this.started) {
      this.started = true;
      this.nextProbeAt = now;
      this.nextDeadCheckAt = now + this.timing.deadRecheckMs;
    }
  }

  stateOf(node: string): MemberState | undefined {
    return this.members.get(node)?.state;
  }

  /** Members by state, for metrics. */
  counts(): Record<MemberState, number> {
    const c: Record<MemberState, number> = { unknown: 0, alive: 0, dead: 0, left: 0 };
    for (const m of this.members.values()) c[m.state]++;
    return c;
  }

  /** Heard from no one for isolationMs while someone counts as alive: our own link is suspect. */
  isolated(now: number): boolean {
    if (now - this.lastHeardAny < this.timing.isolationMs) return false;
    for (const m of this.members.values()) if (m.state === 'alive') return true;
    return false;
  }

  /**
   * What the direct path says: node -> alive (true) or dead/left (false). Members it says nothing
   * about (never heard from) are absent; so is everyone while this speaker is isolated.
   */
  verdicts(now: number): Map<string, boolean> {
    const out = new Map<string, boolean>();
    if (this.isolated(now)) return out;
    for (const [name, m] of this.members) {
      if (m.state === 'alive') out.set(name, true);
      else if (m.state === 'dead' || m.state === 'left') out.set(name, false);
    }
    return out;
  }

  /** When tick() next has something to do. */
  nextTickAt(): number {
    let at = Math.min(this.nextProbeAt, this.nextDeadCheckAt);
    for (const p of this.probes.values()) at = Math.min(at, p.deadline);
    return at;
  }

  tick(now: number): void {
    if (this.leaving || !this.started) return;
    if (now >= this.nextProbeAt) {
      // Late (a stalled event loop): probe now and keep the interval from here, no burst.
      this.nextProbeAt = Math.max(this.nextProbeAt + this.timing.probeIntervalMs, now + this.timing.probeIntervalMs / 2);
      const busy = new Set([...this.probes.values()].map((p) => p.target));
      for (const target of this.successors()) if (!busy.has(target)) this.startProbe(target, now);
    }
    if (now >= this.nextDeadCheckAt) {
      this.nextDeadCheckAt = now + this.timing.deadRecheckMs;
      const dead = [...this.members].filter(([, m]) => m.state === 'dead').map(([n]) => n);
      const pick = dead[Math.floor(this.random() * dead.length)];
      if (pick !== undefined) this.emit(pick, 'ping', '', 0, this.seq++);
    }
    for (const [seq, probe] of [...this.probes]) {
      if (now < probe.deadline) continue;
      if (probe.stage === 'direct') {
        probe.stage = 'indirect';
        probe.deadline = now + this.timing.probeTimeoutMs;
        this.emit(probe.target, 'ping', '', 0, seq);
        for (const helper of this.pickHelpers(probe.target)) this.emit(helper, 'ping-req', probe.target, 0, seq);
      } else {
        this.probes.delete(seq);
        this.conclude(probe, now);
      }
    }
    for (const [seq, relay] of [...this.relays]) if (now >= relay.expires) this.relays.delete(seq);
  }

  receive(packet: LivenessPacket, now: number): void {
    if (packet.sender === this.self) return;
    if (this.leaving) {
      if (packet.kind === 'leave-ack') this.leaveAcks.add(packet.sender);
      return;
    }
    const sender = this.members.get(packet.sender);
    if (sender) this.heard(packet.sender, sender, packet.senderIncarnation, now);
    for (const update of packet.updates) this.apply(update);
    switch (packet.kind) {
      case 'ping':
        this.emit(packet.sender, 'ack', '', 0, packet.seq);
        break;
      case 'ack': {
        const probe = this.probes.get(packet.seq);
        if (probe && probe.target === packet.sender && probe.stage === 'direct') this.out.rttMs.push(now - probe.sentAt);
        if (probe) {
          this.probes.delete(packet.seq);
          // Answered through a helper: the target lives even though we could not hear it.
          const target = this.members.get(probe.target);
          if (target && probe.target !== packet.sender) this.heardIndirectly(probe.target, target, now);
        }
        const relay = this.relays.get(packet.seq);
        if (relay) {
          this.relays.delete(packet.seq);
          this.emit(relay.requester, 'ack', '', 0, relay.requesterSeq);
        }
        break;
      }
      case 'ping-req': {
        const seq = this.seq++;
        this.relays.set(seq, { requester: packet.sender, requesterSeq: packet.seq, expires: now + 2 * this.timing.probeTimeoutMs });
        this.emit(packet.subject, 'ping', '', 0, seq);
        break;
      }
      case 'alive':
      case 'dead':
        this.apply({ state: packet.kind, node: packet.subject, incarnation: packet.subjectIncarnation });
        break;
      case 'leave':
        if (sender && sender.state !== 'left') {
          sender.state = 'left';
          sender.incarnation = Math.max(sender.incarnation, packet.senderIncarnation);
          this.out.changes.push({ node: packet.sender, state: 'left', why: 'left' });
        }
        // Acknowledged once the caller has acted on it (the new owner announces first).
        if (sender) this.out.send.push({ to: packet.sender, packet: this.packet('leave-ack', '', 0, packet.seq), afterConverge: true });
        break;
      case 'leave-ack':
        break;
    }
  }

  /** Graceful stop: tells every member that has not acknowledged yet. Call again to resend. */
  leave(): void {
    this.leaving = true;
    this.probes.clear();
    for (const [name, m] of this.members) {
      if (m.state !== 'dead' && m.state !== 'left' && !this.leaveAcks.has(name)) this.emit(name, 'leave', '', 0, this.seq++);
    }
  }

  /** Members that live (as far as we know) and have not acknowledged our leave yet. */
  leavePending(): string[] {
    return [...this.members].filter(([name, m]) => m.state === 'alive' && !this.leaveAcks.has(name)).map(([n]) => n);
  }

  take(): LivenessOutput {
    const out = this.out;
    this.out = { send: [], changes: [], rttMs: [], detections: [], falseSuspicionsOfSelf: 0 };
    return out;
  }

  private compareRing(a: string, b: string): number {
    const ka = this.members.get(a)!.ringKey;
    const kb = this.members.get(b)!.ringKey;
    return ka === kb ? a.localeCompare(b) : ka < kb ? -1 : 1;
  }

  /** The first `fanout` members after us on the ring that are not known dead. */
  private successors(): string[] {
    const n = this.ring.length;
    if (n === 0) return [];
    let start = this.ring.findIndex((name) => this.members.get(name)!.ringKey > this.selfKey);
    if (start < 0) start = 0;
    const out: string[] = [];
    for (let i = 0; i < n && out.length < this.timing.fanout; i++) {
      const name = this.ring[(start + i) % n]!;
      const state = this.members.get(name)!.state;
      if (state === 'alive' || state === 'unknown') out.push(name);
    }
    return out;
  }

  private pickHelpers(target: string): string[] {
    const pool = [...this.members].filter(([name, m]) => name !== target && m.state === 'alive').map(([n]) => n);
    const out: string[] = [];
    while (out.length < this.timing.indirectProbes && pool.length > 0) {
      out.push(pool.splice(Math.floor(this.random() * pool.length), 1)[0]!);
    }
    return out;
  }

  private startProbe(target: string, now: number): void {
    const seq = this.seq++;
    this.probes.set(seq, { target, seq, startedAt: now, sentAt: now, stage: 'direct', deadline: now + this.timing.probeTimeoutMs });
    this.emit(target, 'ping', '', 0, seq);
  }

  private conclude(probe: Probe, now: number): void {
    const m = this.members.get(probe.target);
    // Never heard from it: the direct path has nothing to say; its Lease judges it.
    if (!m || m.state !== 'alive') return;
    // Heard from nobody else meanwhile: more likely our own link is down. Conclude nothing.
    const others = [...this.members].filter(([name, o]) => name !== probe.target && o.state === 'alive');
    if (others.length > 0 && !others.some(([, o]) => o.lastHeard !== undefined && o.lastHeard >= probe.startedAt)) return;
    m.state = 'dead';
    this.out.changes.push({ node: probe.target, state: 'dead', why: 'confirmed-dead' });
    this.out.detections.push(probe.target);
    this.spread({ state: 'dead', node: probe.target, incarnation: m.incarnation });
    void now;
  }

  /**
   * Sends news to every member that may care, twice (a lost datagram must not leave one speaker
   * with another view for long), and piggybacks it for a while after.
   */
  private spread(update: MemberUpdate): void {
    this.queueGossip(update);
    for (const [name, m] of this.members) {
      if (m.state === 'left' || (m.state === 'dead' && name !== update.node)) continue;
      this.emit(name, update.state, update.node, update.incarnation);
      this.emit(name, update.state, update.node, update.incarnation);
    }
  }

  private queueGossip(update: MemberUpdate): void {
    const limit = 3 * Math.ceil(Math.log2(this.members.size + 2));
    this.gossip.set(update.node, { update, remaining: limit });
  }

  private heard(name: string, m: Member, incarnation: number, now: number): void {
    m.lastHeard = now;
    this.lastHeardAny = now;
    if (m.state === 'unknown' || ((m.state === 'dead' || m.state === 'left') && incarnation > m.incarnation)) {
      // A first contact is no news to the others; a comeback is (they may hold it dead).
      if (m.state !== 'unknown') this.queueGossip({ state: 'alive', node: name, incarnation: Math.max(m.incarnation, incarnation) });
      m.state = 'alive';
      m.incarnation = Math.max(m.incarnation, incarnation);
      this.out.changes.push({ node: name, state: 'alive', why: 'answered' });
    } else if (m.state === 'alive') {
      m.incarnation = Math.max(m.incarnation, incarnation);
    } else if (m.state === 'dead' && now - m.lastToldDead >= 500) {
      // It talks but does not know it was declared dead: tell it, so it refutes.
      m.lastToldDead = now;
      this.emit(name, 'dead', name, m.incarnation);
    }
  }

  private heardIndirectly(name: string, m: Member, now: number): void {
    if (m.state === 'unknown') {
      m.state = 'alive';
      this.out.changes.push({ node: name, state: 'alive', why: 'answered' });
    }
    void now;
  }

  private apply(update: MemberUpdate): void {
    if (update.node === this.self) {
      if (update.state === 'dead' && update.incarnation >= this.incarnation) {
        this.incarnation = update.incarnation + 1;
        this.out.falseSuspicionsOfSelf++;
        this.spread({ state: 'alive', node: this.self, incarnation: this.incarnation });
      }
      return;
    }
    const m = this.members.get(update.node);
    if (!m) return;
    if (update.state === 'dead') {
      if ((m.state === 'alive' || m.state === 'unknown') && update.incarnation >= m.incarnation) {
        m.state = 'dead';
        m.incarnation = update.incarnation;
        this.out.changes.push({ node: update.node, state: 'dead', why: 'told-dead' });
        this.queueGossip(update);
      }
    } else if (update.incarnation > m.incarnation || m.state === 'unknown') {
      const was = m.state;
      m.incarnation = Math.max(m.incarnation, update.incarnation);
      if (was !== 'alive') {
        m.state = 'alive';
        this.out.changes.push({ node: update.node, state: 'alive', why: 'gossip' });
        if (was !== 'unknown') this.queueGossip({ ...update, incarnation: m.incarnation });
      }
    }
  }

  private packet(kind: PacketKind, subject: string, subjectIncarnation: number, seq: number): LivenessPacket {
    const updates: MemberUpdate[] = [];
    if (kind === 'ping' || kind === 'ack' || kind === 'ping-req') {
      const entries = [...this.gossip.entries()].sort(([, a], [, b]) => b.remaining - a.remaining).slice(0, MAX_PIGGYBACK);
      for (const [node, entry] of entries) {
        updates.push(entry.update);
        if (--entry.remaining <= 0) this.gossip.delete(node);
      }
    }
    return { kind, seq, sender: this.self, senderIncarnation: this.incarnation, subject, subjectIncarnation, updates };
  }

  private emit(to: string, kind: PacketKind, subject: string, subjectIncarnation: number, seq = this.seq++): void {
    this.out.send.push({ to, packet: this.packet(kind, subject, subjectIncarnation, seq) });
  }
}
