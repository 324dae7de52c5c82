// Metal in the playground without root: the speakers' NetEffects on a shared table instead of an
// interface and ARP. Adding an address, or announcing it (a gratuitous ARP: the last one wins),
// makes its node the holder; the playground's node sockets then answer that address as the holder
// node's kube-proxy would. Everything else (ownership, Leases, handover) is the real speaker.
import type { NetEffects } from '../../speaker/netEffects.js';

export class LoopbackSegment {
  private readonly holder = new Map<string, string>();

  constructor(private readonly changed: () => void = () => {}) {}

  /** address -> the node its traffic reaches. */
  holders(): ReadonlyMap<string, string> {
    return new Map(this.holder);
  }

  effectsFor(node: string): NetEffects {
    const take = (ip: string) => {
      if (this.holder.get(ip) === node) return;
      this.holder.set(ip, node);
      this.changed();
    };
    return {
      readiness: (addresses) => Promise.resolve({ ready: true, interfaces: new Map(addresses.map((a) => [a, 'lo'])) }),
      listVIPs: () => Promise.resolve([...this.holder].filter(([, n]) => n === node).map(([ip]) => ip)),
      addVIP: (ip) => Promise.resolve(take(ip)),
      announce: (ip) => Promise.resolve(take(ip)),
      removeVIP: (ip) => {
        if (this.holder.get(ip) === node) {
          this.holder.delete(ip);
          this.changed();
        }
        return Promise.resolve();
      },
    };
  }

  /** A node gone (deleted, or its speaker killed): nothing reaches it any more. */
  forget(node: string): void {
    for (const [ip, n] of this.holder) if (n === node) this.holder.delete(ip);
    this.changed();
  }
}
