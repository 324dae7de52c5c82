// An in-process simulation of the speakers' liveness protocol: N LivenessProtocol instances (the
// production state machine, unchanged) on a simulated network with a seeded random number
// generator, per-packet loss and delay, and a simulated clock. Victims are killed one after the
// other; the simulation records when the first and when the last live node learned each death.
import { DEFAULT_LIVENESS_TIMING, LivenessProtocol, type LivenessTiming } from '../../src/speaker/livenessProtocol.js';
import type { LivenessPacket } from '../../src/speaker/livenessPacket.js';

/** mulberry32: small, seeded, good enough to shuffle a simulation reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulationOptions {
  nodes: number;
  loss: number;
  seed: number;
  /** Simulated time before the first kill, for the steady-state figures. */
  warmupMs: number;
  victims: number;
  /** Simulated time between two kills. */
  killEveryMs: number;
  /** One-way delay bounds. */
  minDelayMs?: number;
  maxDelayMs?: number;
  timing?: LivenessTiming;
}

export interface VictimResult {
  victim: string;
  /** From the kill to the first live node declaring it dead. */
  firstMs: number | undefined;
  /** From the kill to every live node holding it dead (undefined: some never did). */
  allMs: number | undefined;
}

export interface SimulationResult {
  victims: VictimResult[];
  packetsPerNodePerSecond: number;
  /** Live nodes declared dead by someone (each such declaration counts). */
  falseSuspicions: number;
  /** Refutations by live nodes (they learned of a false declaration and contradicted it). */
  refutations: number;
  /** At the end: pairs (observer, live node) where the observer holds the live node dead. */
  wrongAtEnd: number;
  simulatedMs: number;
}

interface Event {
  at: number;
  order: number;
  run: () => void;
}

/** A binary heap of events by time (then insertion order, for determinism). */
class EventQueue {
  private heap: Event[] = [];
  private order = 0;
  push(at: number, run: () => void): void {
    const h = this.heap;
    h.push({ at, order: this.order++, run });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Event | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
  private less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }
}

export function simulateLiveness(options: SimulationOptions): SimulationResult {
  const random = seededRandom(options.seed);
  const timing = options.timing ?? DEFAULT_LIVENESS_TIMING;
  const minDelay = options.minDelayMs ?? 0.1;
  const maxDelay = options.maxDelayMs ?? 1;
  const names = Array.from({ length: options.nodes }, (_, i) => `node-${String(i).padStart(4, '0')}`);
  const queue = new EventQueue();
  const alive = new Set(names);
  const protocols = new Map<string, LivenessProtocol>();
  const tickAt = new Map<string, number>();
  let now = 0;
  let packets = 0;
  // Start-up (each node tells every other that it joined) is a one-off: count from 1 s on.
  const measureFrom = 1000;
  let falseSuspicions = 0;
  let refutations = 0;
  const killedAt = new Map<string, number>();
  const firstDead = new Map<string, number>();
  const deadBy = new Map<string, Set<string>>();
  const allDead = new Map<string, number>();

  // Every live node holds the victim dead (sizes suffice: only live observers are counted).
  const checkAllKnow = (victim: string): void => {
    if (allDead.has(victim) || !killedAt.has(victim)) return;
    const set = deadBy.get(victim);
    if (set && [...set].filter((n) => alive.has(n)).length === alive.size) allDead.set(victim, now);
  };

  const flush = (name: string): void => {
    const protocol = protocols.get(name)!;
    const out = protocol.take();
    refutations += out.falseSuspicionsOfSelf;
    for (const change of out.changes) {
      if (change.state !== 'dead' && change.state !== 'left') {
        deadBy.get(change.node)?.delete(name);
        continue;
      }
      if (alive.has(change.node)) {
        if (change.why === 'confirmed-dead') falseSuspicions++;
        continue;
      }
      if (!firstDead.has(change.node)) firstDead.set(change.node, now);
      const set = deadBy.get(change.node) ?? new Set<string>();
      set.add(name);
      deadBy.set(change.node, set);
      checkAllKnow(change.node);
    }
    for (const o of out.send) {
      if (now >= measureFrom) packets++;
      if (random() < options.loss) continue;
      const packet: LivenessPacket = o.packet;
      queue.push(now + minDelay + random() * (maxDelay - minDelay), () => deliver(o.to, packet));
    }
    schedule(name);
  };

  const schedule = (name: string): void => {
    if (!alive.has(name)) return;
    const at = Math.max(now, protocols.get(name)!.nextTickAt());
    if (tickAt.get(name) === at) return;
    tickAt.set(name, at);
    queue.push(at, () => {
      if (tickAt.get(name) !== at || !alive.has(name)) return;
      tickAt.delete(name);
      protocols.get(name)!.tick(now);
      flush(name);
    });
  };

  const deliver = (to: string, packet: LivenessPacket): void => {
    if (!alive.has(to)) return;
    protocols.get(to)!.receive(packet, now);
    flush(to);
  };

  // Start-up spread over one interval, as DaemonSet pods start at different moments.
  for (const name of names) {
    const protocol = new LivenessProtocol(name, 1, timing, seededRandom(Math.floor(random() * 2 ** 31)));
    protocols.set(name, protocol);
    queue.push(random() * timing.probeIntervalMs, () => {
      protocol.setMembers(names, now);
      flush(name);
    });
  }


  // Steady state: false suspicions counted only among live nodes, so this counts from the start.
  const victims = names.slice().sort(() => random() - 0.5).slice(0, options.victims);
  victims.forEach((victim, i) => {
    queue.push(options.warmupMs + i * options.killEveryMs, () => {
      alive.delete(victim);
      killedAt.set(victim, now);
      for (const v of killedAt.keys()) checkAllKnow(v);
    });
  });
  const end = options.warmupMs + options.victims * options.killEveryMs;
  for (;;) {
    const event = queue.pop();
    if (!event || event.at > end) break;
    now = event.at;
    event.run();
  }

  let wrongAtEnd = 0;
  for (const observer of alive) {
    const protocol = protocols.get(observer)!;
    for (const other of alive) if (other !== observer && (protocol.stateOf(other) === 'dead' || protocol.stateOf(other) === 'left')) wrongAtEnd++;
  }
  return {
    victims: victims.map((victim) => {
      const at = killedAt.get(victim)!;
      const first = firstDead.get(victim);
      const all = allDead.get(victim);
      return { victim, firstMs: first === undefined ? undefined : first - at, allMs: all === undefined ? undefined : all - at };
    }),
    packetsPerNodePerSecond: packets / options.nodes / ((end - measureFrom) / 1000),
    falseSuspicions,
    refutations,
    wrongAtEnd,
    simulatedMs: end,
  };
}
