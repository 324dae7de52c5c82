// Which interface carries each load-balancer address, and whether this node can announce them
// at all. Pure: the caller reads the links and the main routing table (ipCommandEffects.ts).
//
// Rules:
// - Given an interface (--interface), every address goes there. The node can announce only while
//   that interface exists and is up (admin UP and carrier, LOWER_UP).
// - Given none, an address goes out of the interface that holds the route towards it, as MetalLB
//   and kube-vip choose: the longest matching prefix of the main table, then the lowest metric,
//   as the kernel would. Routes without a device (blackhole, unreachable, prohibit, throw) and
//   routes over a link that is down reach nothing. The main table, not `ip route get`: once the
//   address is on this node (our /32, or kube-proxy's kube-ipvs0) the local table answers `lo`.
// - An L2Advertisement that lists interfaces limits its addresses to them: the route is chosen
//   among those links only, and a configured interface outside the list cannot carry it.
// - One address that cannot be placed makes the whole node unable to announce. Owner choice is the
//   same on every speaker and sees only whether a node takes part, not per address, so a node
//   that would be chosen for an address it cannot answer for must step out entirely.
import ipaddr from 'ipaddr.js';

/** One route of `ip -j route show table main`, with the family it was read for. */
export interface RouteEntry {
  /** `ip -4`/`ip -6`: both print "default", so the family is not in dst. */
  family: 'IPv4' | 'IPv6';
  /** "default", "198.51.100.0/24", or a host address without a length. */
  dst: string;
  dev?: string;
  gateway?: string;
  type?: string;
  metric?: number;
  flags?: string[];
}

export interface LinkEntry {
  name: string;
  /** Admin UP with carrier (LOWER_UP): frames sent here leave the node. */
  up: boolean;
}

export type AnnounceReadiness =
  | { ready: true; /** address -> interface */ interfaces: Map<string, string> }
  | { ready: false; reason: string };

export interface ReadinessInput {
  /** --interface, or undefined to follow the routes. */
  configured: string | undefined;
  links: LinkEntry[];
  /** Main-table routes of both families. */
  routes: RouteEntry[];
  /** Every address this node may be asked to announce. */
  addresses: string[];
  /** address -> the only interfaces it may go on (L2Advertisement.spec.interfaces); absent: any. */
  allowed?: ReadonlyMap<string, readonly string[]>;
}

const NO_DEVICE_TYPES = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);

function prefixOf(dst: string, family: RouteEntry['family']): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  if (dst === 'default') return family === 'IPv4' ? [ipaddr.IPv4.parse('0.0.0.0'), 0] : [ipaddr.IPv6.parse('::'), 0];
  try {
    if (dst.includes('/')) return ipaddr.parseCIDR(dst);
    const host = ipaddr.parse(dst);
    return [host, host.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

/** The interface the route towards `ip` leaves by, or undefined when no usable route matches. */
export function routeInterface(routes: RouteEntry[], links: LinkEntry[], ip: string): string | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  const address = ipaddr.process(ip);
  const upLinks = new Set(links.filter((l) => l.up).map((l) => l.name));
  let best: { dev: string; length: number; metric: number } | undefined;
  for (const route of routes) {
    if (!route.dev || NO_DEVICE_TYPES.has(route.type ?? '') || route.flags?.includes('linkdown') || !upLinks.has(route.dev)) continue;
    const prefix = prefixOf(route.dst, route.family);
    if (!prefix || prefix[0].kind() !== address.kind() || !address.match(prefix)) continue;
    const metric = route.metric ?? 0;
    if (!best || prefix[1] > best.length || (prefix[1] === best.length && metric < best.metric)) best = { dev: route.dev, length: prefix[1], metric };
  }
  return best?.dev;
}

/** Whether this node can announce `addresses`, and from which interface each. */
export function announceReadiness(input: ReadinessInput): AnnounceReadiness {
  const { configured, links, routes, addresses, allowed } = input;
  if (configured !== undefined) {
    const link = links.find((l) => l.name === configured);
    if (!link) return { ready: false, reason: `interface ${configured} does not exist` };
    if (!link.up) return { ready: false, reason: `interface ${configured} is down` };
    const elsewhere = addresses.filter((a) => allowed?.get(a) && !allowed.get(a)!.includes(configured));
    if (elsewhere.length > 0) return { ready: false, reason: `the L2Advertisements of ${elsewhere.sort().join(', ')} do not list interface ${configured}` };
    return { ready: true, interfaces: new Map(addresses.map((a) => [a, configured])) };
  }
  const interfaces = new Map<string, string>();
  const unrouted: string[] = [];
  for (const address of addresses) {
    const only = allowed?.get(address);
    const dev = routeInterface(routes, only ? links.filter((l) => only.includes(l.name)) : links, address);
    if (dev === undefined) unrouted.push(address);
    else interfaces.set(address, dev);
  }
  if (unrouted.length > 0) return { ready: false, reason: `no route over an interface that is up${allowed?.size ? ' (and that its L2Advertisements list)' : ''} towards ${unrouted.sort().join(', ')}` };
  return { ready: true, interfaces };
}
