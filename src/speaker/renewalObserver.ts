// Turns Lease renewTimes into "when did I last see this speaker renew", on this speaker's own
// clock, so liveness does not depend on clock skew between nodes: a renewal counts from the moment
// it was first seen. Only a Lease seen for the first time (this speaker just started) is dated by
// its writer's clock, never later than now. Pure apart from the state it keeps.
import type { SpeakerLease } from './announcementOwnership.js';

export interface ObservedLease {
  node: string;
  /** spec.renewTime as the API server returned it (string or Date). */
  renewTime: string | Date | undefined;
}

export class RenewalObserver {
  private readonly seen = new Map<string, { renewTime: string; seenAt: number }>();

  observe(leases: ObservedLease[], now: number): SpeakerLease[] {
    const out: SpeakerLease[] = [];
    const present = new Set<string>();
    for (const lease of leases) {
      if (!lease.renewTime) continue;
      const renewTime = new Date(lease.renewTime).toISOString();
      present.add(lease.node);
      const previous = this.seen.get(lease.node);
      if (!previous || previous.renewTime !== renewTime) {
        const seenAt = previous ? now : Math.min(now, new Date(renewTime).getTime());
        this.seen.set(lease.node, { renewTime, seenAt });
      }
      out.push({ node: lease.node, renewTimeMs: this.seen.get(lease.node)!.seenAt });
    }
    for (const node of this.seen.keys()) if (!present.has(node)) this.seen.delete(node);
    return out;
  }
}
