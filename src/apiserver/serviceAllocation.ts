// ClusterIP and NodePort allocation, as the kube-apiserver's allocators do it: a bitmap-like set
// per range, sequential search from a moving cursor, explicit values honoured when free.
import ipaddr from 'ipaddr.js';

export class AllocationError extends Error {
  constructor(
    readonly kind: 'outOfRange' | 'taken' | 'full',
    message: string,
  ) {
    super(message);
  }
}

export class ClusterIpAllocator {
  readonly family = 'IPv4' as const;
  private readonly first: number;
  private readonly size: number;
  private readonly owners = new Map<number, string>();
  private cursor = 0;

  constructor(readonly cidr: string) {
    const [addr, bits] = ipaddr.parseCIDR(cidr);
    if (addr.kind() !== 'ipv4') throw new Error(`service CIDR ${cidr} must be IPv4`);
    const base = ipaddr.IPv4.networkAddressFromCIDR(cidr).toByteArray().reduce((n, b) => n * 256 + b, 0);
    // Skip the network and broadcast addresses, as Kubernetes does.
    this.first = base + 1;
    this.size = Math.max(0, 2 ** (32 - bits) - 2);
  }

  private toNumber(ip: string): number | undefined {
    if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return undefined;
    return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0);
  }

  private toText(n: number): string {
    return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
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
    for (let i = 0; i < this.size; i++) {
      const n = this.first + ((this.cursor + i) % this.size);
      if (!this.owners.has(n)) {
        this.owners.set(n, owner);
        this.cursor = (this.cursor + i + 1) % this.size;
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
