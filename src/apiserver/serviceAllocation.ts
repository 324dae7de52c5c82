// ClusterIP and NodePort allocation, as the kube-apiserver's allocators do it: a bitmap-like set
// per range, sequential search from a moving cursor, explicit values honoured when free.
import ipaddr from 'ipaddr.js';
import type { IpFamily } from './serviceIpFamilies.js';

export class AllocationError extends Error {
  constructor(
    readonly kind: 'outOfRange' | 'taken' | 'full',
    message: string,
  ) {
    super(message);
  }
}

/** One service range (IPv4 or IPv6); addresses are offsets from the range's first usable one. */
export class ClusterIpAllocator {
  readonly family: IpFamily;
  private readonly first: bigint;
  private readonly size: bigint;
  private readonly bits: number;
  private readonly owners = new Map<bigint, string>();
  private cursor = 0n;

  constructor(readonly cidr: string) {
    const [addr, prefix] = ipaddr.parseCIDR(cidr);
    this.family = addr.kind() === 'ipv6' ? 'IPv6' : 'IPv4';
    this.bits = this.family === 'IPv6' ? 128 : 32;
    const hostBits = this.bits - prefix;
    if (this.family === 'IPv6' && hostBits > 20) throw new Error(`service CIDR ${cidr} is too large: an IPv6 range may have at most 20 host bits (/108)`);
    const network = (addr.kind() === 'ipv6' ? ipaddr.IPv6.networkAddressFromCIDR(cidr) : ipaddr.IPv4.networkAddressFromCIDR(cidr)).toByteArray();
    // Skip the network address (and IPv4's broadcast), as Kubernetes does.
    this.first = network.reduce((n, b) => n * 256n + BigInt(b), 0n) + 1n;
    const total = 2n ** BigInt(hostBits);
    this.size = total > 2n ? total - (this.family === 'IPv4' ? 2n : 1n) : 0n;
  }

  private toNumber(ip: string): bigint | undefined {
    if (!ipaddr.isValid(ip)) return undefined;
    const parsed = ipaddr.parse(ip);
    if ((parsed.kind() === 'ipv6') !== (this.family === 'IPv6')) return undefined;
    if (parsed.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(ip)) return undefined;
    return parsed.toByteArray().reduce((n, b) => n * 256n + BigInt(b), 0n);
  }

  private toText(n: bigint): string {
    const bytes: number[] = [];
    for (let i = 0; i < this.bits / 8; i++) {
      bytes.unshift(Number(n & 255n));
      n >>= 8n;
    }
    return ipaddr.fromByteArray(bytes).toString();
  }

  contains(ip: string): boolean {
    const n = this.toNumber(ip);
    return n !== undefined && n >= this.first && n < this.first + this.size;
  }

  allocateSpecific(ip: string, owner: string): void {
    const n = this.toNumber(ip);
    if (n === undefined || n < this.first || n >= this.first + this.size) {
      throw new AllocationError('outOfRange', `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.cidr}`);
    }
    const holder = this.owners.get(n);
    if (holder !== undefined && holder !== owner) throw new AllocationError('taken', `failed to allocate IP ${ip}: provided IP is already allocated`);
    this.owners.set(n, owner);
  }

  allocateNext(owner: string): string {
    for (let i = 0n; i < this.size; i++) {
      const n = this.first + ((this.cursor + i) % this.size);
      if (!this.owners.has(n)) {
        this.owners.set(n, owner);
        this.cursor = (this.cursor + i + 1n) % this.size;
        return this.toText(n);
      }
    }
    throw new AllocationError('full', `failed to allocate a serviceIP: range is full`);
  }

  release(ip: string): void {
    const n = this.toNumber(ip);
    if (n !== undefined) this.owners.delete(n);
  }

  get used(): number {
    return this.owners.size;
  }
}

/** The cluster's service ranges (`--service-cluster-ip-range`: one, or one per family); the first is the default family. */
export function serviceRanges(cidrs: string): ClusterIpAllocator[] {
  const ranges = cidrs.split(',').map((c) => c.trim()).filter(Boolean).map((c) => new ClusterIpAllocator(c));
  if (ranges.length === 0 || ranges.length > 2) throw new Error(`--service-cluster-ip-range takes one range or two (one per IP family), not "${cidrs}"`);
  if (ranges.length === 2 && ranges[0]!.family === ranges[1]!.family) throw new Error(`--service-cluster-ip-range: a dual-stack cluster needs one IPv4 and one IPv6 range, not "${cidrs}"`);
  return ranges;
}

/** kube-apiserver's --service-node-port-range: "30000-32767". */
export function nodePortRange(range: string): PortAllocator {
  const m = /^(\d+)-(\d+)$/.exec(range.trim());
  const [min, max] = [Number(m?.[1]), Number(m?.[2])];
  if (!m || min < 1 || max > 65535 || min > max) throw new Error(`--service-node-port-range: "${range}" is not a range of ports like 30000-32767`);
  return new PortAllocator(min, max);
}

export class PortAllocator {
  private readonly owners = new Map<number, string>();
  private cursor = 0;

  constructor(
    readonly min = 30000,
    readonly max = 32767,
  ) {}

  allocateSpecific(port: number, owner: string): void {
    if (!Number.isInteger(port) || port < this.min || port > this.max) {
      throw new AllocationError('outOfRange', `provided port is not in the valid range. The range of valid ports is ${this.min}-${this.max}`);
    }
    const holder = this.owners.get(port);
    if (holder !== undefined && holder !== owner) throw new AllocationError('taken', 'provided port is already allocated');
    this.owners.set(port, owner);
  }

  allocateNext(owner: string): number {
    const size = this.max - this.min + 1;
    for (let i = 0; i < size; i++) {
      const port = this.min + ((this.cursor + i) % size);
      if (!this.owners.has(port)) {
        this.owners.set(port, owner);
        this.cursor = (this.cursor + i + 1) % size;
        return port;
      }
    }
    throw new AllocationError('full', 'range is full');
  }

  release(port: number): void {
    this.owners.delete(port);
  }

  ownerOf(port: number): string | undefined {
    return this.owners.get(port);
  }

  get used(): number {
    return this.owners.size;
  }
}
