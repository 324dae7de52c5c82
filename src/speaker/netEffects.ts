// The speaker's only side effects on the host network, behind a small interface so the ownership
// and convergence logic is tested without root. ipCommandEffects.ts is the real implementation.
import type { AnnounceReadiness } from './announceInterface.js';

export interface NetEffects {
  /**
   * Whether this node can announce these addresses now (its interface exists and is up, or a
   * route leads towards each), and from which interface. `allowed`: address -> the only
   * interfaces it may go on (L2Advertisement interfaces). Reads only; later calls use the answer.
   */
  readiness(addresses: string[], allowed?: ReadonlyMap<string, readonly string[]>): Promise<AnnounceReadiness>;
  /** Load-balancer addresses this speaker put on the node's interfaces (found by their mark). */
  listVIPs(): Promise<string[]>;
  /** Adds the address as /32 or /128, or refreshes its lifetime when present. */
  addVIP(ip: string): Promise<void>;
  removeVIP(ip: string): Promise<void>;
  /** One gratuitous ARP (IPv4) or unsolicited Neighbour Advertisement (IPv6). */
  announce(ip: string): Promise<void>;
}
