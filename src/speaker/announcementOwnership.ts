// Which node announces each load-balancer address. Every speaker runs this on the same inputs
// (Leases, Nodes, Services, EndpointSlices from the API server) and so reaches the same answer
// without talking to the others. Pure: no client, no clock (the caller passes `nowMs`).
//
// Rendezvous (highest-random-weight) hashing: each candidate node gets a score hash(node, ip) and
// the highest wins. A node leaving moves only the addresses it owned; a node joining takes only
// the addresses it now scores highest on.
import { createHash } from 'node:crypto';
import type { V1Node } from '@kubernetes/client-node';
import { ineligibility, type IneligibleReason } from '../controller/eligibleNodes.js';

export interface SpeakerLease {
  /** The node the speaker runs on (the Lease's holderIdentity). */
  node: string;
  /** spec.renewTime in epoch milliseconds; undefined if never renewed. */
  renewTimeMs: number | undefined;
}

export interface NodeState {
  name: string;
  /** Why the node is out of every load balancer (the controller's own predicate), if it is. */
  ineligible: IneligibleReason | undefined;
  /** status.conditions NetworkUnavailable == True (MetalLB's speakers skip such nodes too). */
  networkUnavailable: boolean;
}

/** What ownership needs of a Node: the same eligibility the controller applies to cloud targets. */
export function nodeState(node: V1Node): NodeState {
  return {
    name: node.metadata?.name ?? '',
    ineligible: ineligibility(node, { needsProviderID: false }),
    networkUnavailable: (node.status?.conditions ?? []).some((c) => c.type === 'NetworkUnavailable' && c.status === 'True'),
  };
}

export interface AnnouncedService {
  key: string;
  /** Ingress addresses the metal provider assigned (status.loadBalancer.ingress[].ip). */
  ips: string[];
  trafficPolicy: 'Cluster' | 'Local';
  /** Nodes with a ready endpoint of the Service (from EndpointSlices). */
  endpointNodes: string[];
}

export interface OwnershipInput {
  leases: SpeakerLease[];
  nodes: NodeState[];
  services: AnnouncedService[];
  nowMs: number;
  /** A speaker whose Lease was not renewed for this long is dead. */
  lapseMs: number;
  /**
   * What the speakers' own probes say (node -> alive), when they say anything: it overrides the
   * Lease. Nodes absent here (never heard from, or this speaker hears no one) are judged by
   * their Lease.
   */
  direct?: ReadonlyMap<string, boolean>;
  /**
   * Whether `node` may announce `ip` at all (the L2Advertisements' nodeSelectors); absent: every
   * node may. The hash then runs over the live nodes that may, so every speaker agrees.
   */
  mayAnnounce?: (ip: string, node: string) => boolean;
}

export interface AddressOwner {
  ip: string;
  /** The announcing node, or undefined when no node may announce (no live speaker, no endpoint). */
  node: string | undefined;
  services: string[];
}

export function liveSpeakers(leases: SpeakerLease[], nowMs: number, lapseMs: number, direct?: ReadonlyMap<string, boolean>): Set<string> {
  const live = new Set<string>();
  for (const lease of leases) {
    const verdict = direct?.get(lease.node);
    if (verdict ?? (lease.renewTimeMs !== undefined && nowMs - lease.renewTimeMs < lapseMs)) live.add(lease.node);
  }
  return live;
}

/** Nodes that may announce at all: eligible as for any load balancer, and network available. */
export function announceableNodes(nodes: NodeState[]): Set<string> {
  return new Set(nodes.filter((n) => n.ineligible === undefined && !n.networkUnavailable).map((n) => n.name));
}

/** The rendezvous score of `node` for `ip`: the first 8 bytes of sha256(node \0 ip). */
export function rendezvousScore(node: string, ip: string): bigint {
  return createHash('sha256').update(`${node}\0${ip}`).digest().readBigUInt64BE(0);
}

/** Candidates ordered by preference for `ip` (highest score first; name breaks a tie). */
export function rankNodes(candidates: Iterable<string>, ip: string): string[] {
  return [...candidates]
    .map((node) => ({ node, score: rendezvousScore(node, ip) }))
    .sort((a, b) => (a.score === b.score ? a.node.localeCompare(b.node) : a.score > b.score ? -1 : 1))
    .map((x) => x.node);
}

/**
 * The owner of every address. Services sharing an address are announced from one node: the
 * candidates are the intersection of what each of them allows (the allocator only lets Local
 * Services share with Local Services of the same selector, so their endpoints agree).
 */
export function addressOwners(input: OwnershipInput): AddressOwner[] {
  const live = liveSpeakers(input.leases, input.nowMs, input.lapseMs, input.direct);
  const usable = announceableNodes(input.nodes);
  const base = [...live].filter((n) => usable.has(n));
  const byIP = new Map<string, AnnouncedService[]>();
  for (const service of input.services) {
    for (const ip of service.ips) {
      const list = byIP.get(ip) ?? [];
      list.push(service);
      byIP.set(ip, list);
    }
  }
  const owners: AddressOwner[] = [];
  for (const [ip, services] of [...byIP].sort(([a], [b]) => a.localeCompare(b))) {
    let candidates = input.mayAnnounce ? base.filter((n) => input.mayAnnounce!(ip, n)) : base;
    for (const service of services) {
      if (service.trafficPolicy === 'Local') candidates = candidates.filter((n) => service.endpointNodes.includes(n));
    }
    owners.push({ ip, node: rankNodes(candidates, ip)[0], services: services.map((s) => s.key).sort() });
  }
  return owners;
}

/** When the next live Lease lapses (so a speaker can re-evaluate right then), or undefined. */
export function nextLapseMs(leases: SpeakerLease[], nowMs: number, lapseMs: number): number | undefined {
  let next: number | undefined;
  for (const lease of leases) {
    if (lease.renewTimeMs === undefined) continue;
    const at = lease.renewTimeMs + lapseMs;
    if (at > nowMs && (next === undefined || at < next)) next = at;
  }
  return next;
}
