// The simulated account's addresses: a CIDR to allocate from, plus static addresses it owns.
// Pure apart from its own bookkeeping; IP math with ipaddr.js.
import ipaddr from 'ipaddr.js';

export class AddressPool {
  private readonly base: bigint;
  private readonly size: bigint;
  private readonly bits: number;
  private readonly isV6: boolean;
  private readonly inUse = new Set<string>();
  private readonly statics: Set<string>;
  private cursor = 1n;

  constructor(cidr: string, staticAddresses: readonly string[] = []) {
    const [addr, prefix] = ipaddr.parseCIDR(cidr);
    this.isV6 = addr.kind() === 'ipv6';
    this.bits = this.isV6 ? 128 : 32;
    this.size = 1n << BigInt(this.bits - prefix);
    this.base = toBigInt(addr.toByteArray()) & ~(this.size - 1n);
    this.statics = new Set(staticAddresses.map((a) => ipaddr.parse(a).toString()));
  }

  /** Does the account own this address (a static one, or one inside the pool)? */
  owns(ip: string): boolean {
    if (!ipaddr.isValid(ip)) return false;
    const norm = ipaddr.parse(ip).toString();
    if (this.statics.has(norm)) return true;
    const parsed = ipaddr.parse(ip);
    if ((parsed.kind() === 'ipv6') !== this.isV6) return false;
    const n = toBigInt(parsed.toByteArray());
    return n > this.base && n < this.base + this.size - 1n;
  }

  isFree(ip: string): boolean {
    return !this.inUse.has(ipaddr.parse(ip).toString());
  }

  /** Takes a specific owned address; false if not owned or already in use. */
  claim(ip: string): boolean {
    const norm = ipaddr.parse(ip).toString();
    if (!this.owns(norm) || this.inUse.has(norm)) return false;
    this.inUse.add(norm);
    return true;
  }

  /** Allocates the next free pool address (skipping network and broadcast), or undefined. */
  allocate(): string | undefined {
    const usable = this.size - 2n;
    for (let tried = 0n; tried < usable; tried++) {
      const offset = this.cursor;
      this.cursor = this.cursor >= this.size - 2n ? 1n : this.cursor + 1n;
      const ip = fromBigInt(this.base + offset, this.bits);
      if (!this.inUse.has(ip) && !this.statics.has(ip)) {
        this.inUse.add(ip);
        return ip;
      }
    }
    return undefined;
  }

  release(ip: string): void {
    this.inUse.delete(ipaddr.parse(ip).toString());
  }
}

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function fromBigInt(n: bigint, bits: number): string {
  const bytes: number[] = [];
  for (let i = bits / 8 - 1; i >= 0; i--) bytes.push(Number((n >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}
