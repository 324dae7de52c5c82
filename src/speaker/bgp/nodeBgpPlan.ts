// What one node says over BGP: which peers it speaks with and which prefixes it sends to each,
// with which communities and local preference. Every node decides for itself (no election, unlike
// L2): a node advertises a Service address when it is eligible, its speaker runs, the address's
// pool is covered by a BGPAdvertisement whose node selectors match it, and, for
// externalTrafficPolicy Local, when it has a ready endpoint. The router then sees one ECMP
// next-hop per advertising node. Pure.
import type { IPFamily } from '../../../providers/provider.js';
import { bigIntToIP, familyOf, ipToBigInt } from '../../metallb/addressRange.js';
import type { BfdProfile, BgpAdvertisement, BgpPeer } from '../../metallb/bgp.js';
import { bgpAdvertisementsFor, type BgpConfig } from '../../metallb/configuration.js';
import { anySelectorMatches } from '../../metallb/labelSelector.js';
import { poolOf } from '../../metallb/pools.js';
import type { AnnouncedService } from '../announcementOwnership.js';

export interface BgpNode {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Eligible for load balancers and network available (announceableNodes()). */
  eligible: boolean;
}

/** One prefix sent to one peer. */
export interface PeerPrefix {
  prefix: string;
  family: IPFamily;
  communities: string[];
  largeCommunities: string[];
  localPref?: number;
}

export interface NodeBgpPlan {
  myASN: number | undefined;
  routerID?: string;
  peers: BgpPeer[];
  bfdProfiles: BfdProfile[];
  /** peer name -> prefixes, sorted */
  prefixes: Map<string, PeerPrefix[]>;
}

/** `ip` masked to `length` bits, as "network/length". */
export function aggregatePrefix(ip: string, length: number): string {
  const family = familyOf(ip)!;
  const bits = family === 'IPv4' ? 32 : 128;
  const host = BigInt(bits - length);
  const network = (ipToBigInt(ip) >> host) << host;
  return `${bigIntToIP(network, family)}/${length}`;
}

function compareCommunity(a: string, b: string): number {
  const x = a.split(':').map(Number);
  const y = b.split(':').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** Numeric order of "network/length" prefixes of one family. */
export function comparePrefix(a: string, b: string): number {
  const [na, la] = a.split('/') as [string, string];
  const [nb, lb] = b.split('/') as [string, string];
  const x = ipToBigInt(na);
  const y = ipToBigInt(nb);
  return x === y ? Number(la) - Number(lb) : x < y ? -1 : 1;
}

/** Every (Service, peer, prefix, advertisement) this node sends: the one walk both answers below share. */
function* advertised(config: BgpConfig, node: BgpNode, peers: readonly BgpPeer[], services: readonly AnnouncedService[]): Generator<{ service: string; peer: BgpPeer; prefix: string; family: IPFamily; ad: BgpAdvertisement }> {
  if (!node.eligible) return;
  for (const svc of services) {
    if (svc.trafficPolicy === 'Local' && !svc.endpointNodes.includes(node.name)) continue;
    for (const ip of svc.ips) {
      const family = familyOf(ip);
      const pool = poolOf(config.pools, ip);
      if (!family || !pool) continue;
      for (const ad of bgpAdvertisementsFor(config, pool.name).filter((a) => anySelectorMatches(a.nodeSelectors, node.labels))) {
        const prefix = aggregatePrefix(ip, family === 'IPv4' ? ad.aggregationLength : ad.aggregationLengthV6);
        for (const peer of peers) {
          if (peer.family !== family || (ad.peers.length > 0 && !ad.peers.includes(peer.name))) continue;
          yield { service: svc.key, peer, prefix, family, ad };
        }
      }
    }
  }
}

const nodePeers = (config: BgpConfig, node: BgpNode): BgpPeer[] => config.bgpPeers.filter((p) => anySelectorMatches(p.nodeSelectors, node.labels));

/** Service key -> the BGPPeers (names, sorted) this node is configured to send its prefixes to: ServiceBGPStatus.status.peers. */
export function servicePeers(config: BgpConfig, node: BgpNode, services: readonly AnnouncedService[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const { service, peer } of advertised(config, node, nodePeers(config, node), services)) out.set(service, (out.get(service) ?? new Set()).add(peer.name));
  return new Map([...out].map(([key, names]) => [key, [...names].sort()]));
}

export function nodeBgpPlan(config: BgpConfig, node: BgpNode, services: readonly AnnouncedService[]): NodeBgpPlan {
  const peers = nodePeers(config, node);
  const used = new Set(peers.flatMap((p) => p.bfdProfile ?? []));
  const plan: NodeBgpPlan = { myASN: peers[0]?.myASN, peers, bfdProfiles: config.bfdProfiles.filter((b) => used.has(b.name)), prefixes: new Map() };
  const routerID = peers.find((p) => p.routerID !== undefined)?.routerID;
  if (routerID !== undefined) plan.routerID = routerID;
  const merged = new Map<string, Map<string, PeerPrefix>>(peers.map((p) => [p.name, new Map()]));
  for (const { peer, prefix, family, ad } of advertised(config, node, peers, services)) {
    const byPrefix = merged.get(peer.name)!;
    const entry = byPrefix.get(prefix) ?? { prefix, family, communities: [], largeCommunities: [] };
    for (const c of ad.communities) if (!entry.communities.includes(c)) entry.communities.push(c);
    for (const c of ad.largeCommunities) if (!entry.largeCommunities.includes(c)) entry.largeCommunities.push(c);
    // Two advertisements of one prefix with different preferences: the higher one wins.
    if (ad.localPref !== undefined) entry.localPref = Math.max(entry.localPref ?? 0, ad.localPref);
    byPrefix.set(prefix, entry);
  }
  for (const [peer, byPrefix] of merged) {
    const list = [...byPrefix.values()].sort((a, b) => comparePrefix(a.prefix, b.prefix));
    for (const p of list) {
      p.communities.sort(compareCommunity);
      p.largeCommunities.sort(compareCommunity);
    }
    plan.prefixes.set(peer, list);
  }
  return plan;
}
