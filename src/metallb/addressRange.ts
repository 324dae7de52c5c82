// IP arithmetic for address pools: an entry ("192.0.2.0/28", "192.0.2.10-192.0.2.20",
// "2001:db8::/120") becomes an inclusive [first, last] range of bigints, so overlap checks and
// "next free address" are plain integer comparisons. Pure; ipaddr.js does the parsing.
import ipaddr from 'ipaddr.js';
import type { IPFamily } from '../../providers/provider.js';

export interface AddressRange {
  family: IPFamily;
  first: bigint;
  last: bigint;
  /** The entry as configured, for messages. */
  source: string;
}

export function familyOf(ip: string): IPFamily | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  const parsed = ipaddr.parse(ip);
  // An IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is IPv4 for our purposes.
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) return 'IPv4';
  return parsed.kind() === 'ipv4' ? 'IPv4' : 'IPv6';
}

/** Canonical text of an address (IPv6 compressed, IPv4-mapped folded to IPv4); undefined if invalid. */
export function canonicalIP(ip: string): string | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  return ipaddr.process(ip).toString();
}

export function ipToBigInt(ip: string): bigint {
  const bytes = ipaddr.process(ip).toByteArray();
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

export function bigIntToIP(value: bigint, family: IPFamily): string {
  const length = family === 'IPv4' ? 4 : 16;
  const bytes: number[] = new Array<number>(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parses one pool entry; throws an Error with a message naming the entry when it is malformed. */
export function parseAddressRange(entry: string): AddressRange {
  const text = entry.trim();
  if (text.includes('/')) {
    if (!ipaddr.isValidCIDR(text)) throw new Error(`"${entry}" is not a valid CIDR`);
    const [address, prefix] = ipaddr.parseCIDR(text);
    const family: IPFamily = address.kind() === 'ipv4' ? 'IPv4' : 'IPv6';
    const bits = family === 'IPv4' ? 32n : 128n;
    const hostBits = bits - BigInt(prefix);
    const base = ipToBigInt(address.toString());
    const first = (base >> hostBits) << hostBits;
    const last = first + (1n << hostBits) - 1n;
    return { family, first, last, source: entry };
  }
  const parts = text.split('-');
  if (parts.length !== 2) throw new Error(`"${entry}" is neither a CIDR nor a start-end range`);
  const [startText, endText] = parts.map((p) => p.trim()) as [string, string];
  const startFamily = familyOf(startText);
  const endFamily = familyOf(endText);
  if (!startFamily || !endFamily) throw new Error(`"${entry}" has an invalid address`);
  if (startFamily !== endFamily) throw new Error(`"${entry}" mixes IPv4 and IPv6`);
  const first = ipToBigInt(startText);
  const last = ipToBigInt(endText);
  if (first > last) throw new Error(`"${entry}" starts after it ends`);
  return { family: startFamily, first, last, source: entry };
}

export function rangeSize(range: AddressRange): bigint {
  return range.last - range.first + 1n;
}

export function rangeContains(range: AddressRange, ip: string): boolean {
  const family = familyOf(ip);
  if (family !== range.family) return false;
  const value = ipToBigInt(ip);
  return value >= range.first && value <= range.last;
}

/** The first address two ranges share, or undefined when they are disjoint. */
export function overlapStart(a: AddressRange, b: AddressRange): bigint | undefined {
  if (a.family !== b.family) return undefined;
  const first = a.first > b.first ? a.first : b.first;
  const last = a.last < b.last ? a.last : b.last;
  return first <= last ? first : undefined;
}

/** MetalLB's "buggy" addresses: IPv4 ending in .0 or .255, which some old clients mishandle. */
export function isBuggyIPv4(value: bigint, family: IPFamily): boolean {
  if (family !== 'IPv4') return false;
  const lastOctet = value & 0xffn;
  return lastOctet === 0n || lastOctet === 255n;
}
