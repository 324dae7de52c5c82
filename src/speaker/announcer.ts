// Converges the interface to "exactly the addresses this node owns": adds missing ones and
// announces them several times over a few seconds (so switches and neighbours that missed the
// first gratuitous ARP still learn the new owner), refreshes the lifetime of the ones it keeps, and
// removes the rest, including leftovers of a crashed predecessor found by their mark.
import type { Logger } from '../observability/logger.js';
import type { NetEffects } from './netEffects.js';

/** Milliseconds after taking an address at which it is announced again. */
export const ANNOUNCE_SCHEDULE_MS = [0, 250, 750, 1500, 3000];

export interface AnnouncerClock {
  now(): number;
}

export class Announcer {
  /** ip -> when this node took it, for the announcement schedule */
  private readonly owned = new Map<string, { since: number; sent: number }>();

  constructor(
    private readonly effects: NetEffects,
    private readonly logger: Logger,
    private readonly clock: AnnouncerClock = { now: () => Date.now() },
  ) {}

  /** Addresses currently held (after the last converge). */
  held(): string[] {
    return [...this.owned.keys()].sort();
  }

  /**
   * One convergence pass. Returns what changed. Effects that fail are logged and retried on the
   * next pass; one bad address does not stop the others.
   */
  async converge(want: Iterable<string>): Promise<{ added: string[]; removed: string[] }> {
    const wanted = new Set(want);
    const added: string[] = [];
    const removed: string[] = [];
    let present: string[];
    try {
      present = await this.effects.listVIPs();
    } catch (error) {
      this.logger.warn({ err: error }, 'speaker: cannot list addresses on the interface');
      present = [...this.owned.keys()];
    }
    for (const ip of present) {
      if (wanted.has(ip)) continue;
      try {
        await this.effects.removeVIP(ip);
        this.owned.delete(ip);
        removed.push(ip);
      } catch (error) {
        this.logger.warn({ err: error, ip }, 'speaker: cannot remove address');
      }
    }
    // Gone from the interface (expired, removed by hand): forget it, so it is re-added and re-announced.
    for (const ip of this.owned.keys()) if (!present.includes(ip)) this.owned.delete(ip);
    const now = this.clock.now();
    for (const ip of wanted) {
      try {
        // Always (re)added: refreshes the lifetime that makes a dead speaker's address expire.
        await this.effects.addVIP(ip);
      } catch (error) {
        this.logger.warn({ err: error, ip }, 'speaker: cannot add address');
        continue;
      }
      if (!this.owned.has(ip)) {
        this.owned.set(ip, { since: now, sent: 0 });
        added.push(ip);
      }
    }
    await this.announceDue();
    return { added, removed };
  }

  /** Sends the announcements that are due; answers when the next one is due (ms from now). */
  async announceDue(): Promise<number | undefined> {
    const now = this.clock.now();
    let next: number | undefined;
    for (const [ip, state] of this.owned) {
      const dueAt = ANNOUNCE_SCHEDULE_MS[state.sent];
      if (dueAt === undefined) continue;
      if (now - state.since >= dueAt) {
        state.sent++;
        try {
          await this.effects.announce(ip);
        } catch (error) {
          this.logger.warn({ err: error, ip }, 'speaker: gratuitous announcement failed');
        }
      }
      const following = ANNOUNCE_SCHEDULE_MS[state.sent];
      if (following !== undefined) {
        const wait = Math.max(0, state.since + following - now);
        next = next === undefined ? wait : Math.min(next, wait);
      }
    }
    return next;
  }

  /** Removes every address (shutdown). */
  async releaseAll(): Promise<void> {
    await this.converge([]);
  }
}
