// The simulated account's addresses: a CIDR to allocate from, plus static addresses it owns.
// Pure apart from its own bookkeeping; the IP arithmetic is the address pools' (src/metallb).
import { bigIntToIP, canonicalIP, familyOf, ipToBigInt, parseAddressRange, type AddressRange } from '../../src/metallb/addressRange.js';

export class AddressPool {
  private readonly range: AddressRange;
  private readonly inUse = new Set<string>();
  private readonly statics: Set<string>;
  /** Offset of the next address to try from the range's first (0 is the network address). */
  private cursor = 1n;

  constructor(cidr: string, staticAddresses: readonly string[] = []) {
    this.range = parseAddressRange(cidr);
    this.statics = new Set(staticAddresses.map((a) => canonicalIP(a) ?? a));
  }

  /** Does the account own this address (a static one, or one inside the pool but its network and broadcast)? */
  owns(ip: string): boolean {
    const norm = canonicalIP(ip);
    if (norm === undefined) return false;
    if (this.statics.has(norm)) return true;
    if (familyOf(norm) !== this.range.family) return false;
    const n = ipToBigInt(norm);
    return n > this.range.first && n < this.range.last;
  }

  isFree(ip: string): boolean {
    return !this.inUse.has(canonicalIP(ip) ?? ip);
  }

  /** Takes a specific owned address; false if not owned or already in use. */
  claim(ip: string): boolean {
    const norm = canonicalIP(ip);
    if (norm === undefined || !this.owns(norm) || this.inUse.has(norm)) return false;
    this.inUse.add(norm);
    return true;
  }

  /** Allocates the next free pool address (skipping network and broadcast), or undefined. */
  allocate(): string | undefined {
    const lastOffset = this.range.last - this.range.first - 1n;
    for (let tried = 0n; tried < lastOffset; tried++) {
      const ip = bigIntToIP(this.range.first + this.cursor, this.range.family);
      this.cursor = this.cursor >= lastOffset ? 1n : this.cursor + 1n;
      if (!this.inUse.has(ip) && !this.statics.has(ip)) {
        this.inUse.add(ip);
        return ip;
      }
    }
    return undefined;
  }

  release(ip: string): void {
    this.inUse.delete(canonicalIP(ip) ?? ip);
  }
}
