// The speaker's host-network effects kept in memory. The chart tests exercise the speaker's
// Kubernetes API calls and its choices; the netlink side is tested by the speaker's own suites.
import type { AnnounceReadiness } from '../../src/speaker/announceInterface.js';
import type { NetEffects } from '../../src/speaker/netEffects.js';

export class MemoryNetEffects implements NetEffects {
  readonly vips = new Set<string>();
  /** Set to a reason to play a node whose interface is gone; undefined: it can announce. */
  cannotAnnounce: string | undefined;
  async readiness(addresses: string[]): Promise<AnnounceReadiness> {
    if (this.cannotAnnounce !== undefined) return { ready: false, reason: this.cannotAnnounce };
    return { ready: true, interfaces: new Map(addresses.map((a) => [a, 'mem0'])) };
  }
  async listVIPs(): Promise<string[]> {
    return [...this.vips];
  }
  async addVIP(ip: string): Promise<void> {
    this.vips.add(ip);
  }
  async removeVIP(ip: string): Promise<void> {
    this.vips.delete(ip);
  }
  async announce(): Promise<void> {}
}
