// Renders a node's BGP plan as FRR configuration, in the form FRR 8.4 itself prints with
// `show running-config`: frr-reload.py diffs our file against that text, and any line FRR would
// print differently (a default it elides, another order of words) reads as a change and gets
// removed and re-added, which resets sessions and BFD. So: defaults are left out, lines come in
// FRR's order, and the same plan always renders the same text. Checked against a live bgpd by
// test/metal/frrCanonical.test.ts. Pure.
//
// Prefixes are `network` statements (with `no bgp network import-check`: the node originates the
// route without installing one in its own kernel). Which peer gets which prefix, with which
// communities and local preference, is one outbound route-map per peer over prefix-lists; a
// change there is applied by a soft outbound refresh, never a session reset.
import type { BfdProfile, BgpPeer } from '../../metallb/bgp.js';
import type { NodeBgpPlan, PeerPrefix } from './nodeBgpPlan.js';
import { comparePrefix } from './nodeBgpPlan.js';

/** FRR's own defaults, which `show running-config` never prints. */
const BFD_DEFAULTS = { detectMultiplier: 3, receiveIntervalMs: 300, transmitIntervalMs: 300, minimumTtl: 254 };

/** Names derived from a BGPPeer name (DNS-1123: lowercase letters, digits, '-', '.'). */
export function routeMapName(peer: string): string {
  return `klb-${peer}-out`;
}

function prefixListName(peer: string, family: 'IPv4' | 'IPv6', group: number): string {
  return `klb-${peer}-${family === 'IPv4' ? 'v4' : 'v6'}-${group}`;
}

function neighborLines(p: BgpPeer): string[] {
  const n = ` neighbor ${p.address}`;
  const lines = [`${n} remote-as ${p.remoteAS}`];
  if (p.bfdProfile !== undefined) lines.push(`${n} bfd`, `${n} bfd profile ${p.bfdProfile}`);
  if (p.password !== undefined) lines.push(`${n} password ${p.password}`);
  if (p.port !== undefined) lines.push(`${n} port ${p.port}`);
  if (p.ebgpMultiHop) lines.push(`${n} ebgp-multihop 255`);
  if (p.sourceAddress !== undefined) lines.push(`${n} update-source ${p.sourceAddress}`);
  lines.push(`${n} timers ${p.keepaliveSeconds} ${p.holdSeconds}`);
  // FRR's default is GR helper, which advertises the capability: a router then keeps a dead node's
  // routes for the restart time (120 s) when the hold timer expires. Without enableGracefulRestart
  // the node advertises none, as MetalLB means it.
  lines.push(p.gracefulRestart ? `${n} graceful-restart` : `${n} graceful-restart-disable`);
  return lines;
}

/** The attributes a group of prefixes shares, as one key. */
function attributeKey(p: PeerPrefix): string {
  return JSON.stringify([p.communities, p.largeCommunities, p.localPref ?? null]);
}

interface PeerPolicy {
  prefixLists: string[];
  routeMap: string[];
}

function peerPolicy(peer: BgpPeer, prefixes: readonly PeerPrefix[]): PeerPolicy {
  const groups = new Map<string, PeerPrefix[]>();
  for (const p of prefixes) groups.set(attributeKey(p), [...(groups.get(attributeKey(p)) ?? []), p]);
  // Groups in the order of their first prefix (prefixes come sorted): the same plan, the same text.
  const keys = [...groups.keys()];
  const family = peer.family;
  const prefixLists: string[] = [];
  const routeMap: string[] = [];
  const rm = routeMapName(peer.name);
  for (const [i, key] of keys.entries()) {
    const members = groups.get(key)!;
    const list = prefixListName(peer.name, family, i + 1);
    const ip = family === 'IPv4' ? 'ip' : 'ipv6';
    prefixLists.push(...members.map((m, j) => `${ip} prefix-list ${list} seq ${(j + 1) * 5} permit ${m.prefix}`), '!');
    const first = members[0]!;
    routeMap.push(`route-map ${rm} permit ${(i + 1) * 10}`, ` match ${ip} address prefix-list ${list}`);
    if (first.communities.length > 0) routeMap.push(` set community ${first.communities.join(' ')}`);
    if (first.largeCommunities.length > 0) routeMap.push(` set large-community ${first.largeCommunities.join(' ')}`);
    if (first.localPref !== undefined) routeMap.push(` set local-preference ${first.localPref}`);
    routeMap.push('exit', '!');
  }
  // Nothing to send: an explicit deny, so the peer gets nothing (not whatever a missing map means).
  if (keys.length === 0) routeMap.push(`route-map ${rm} deny 10`, 'exit', '!');
  return { prefixLists, routeMap };
}

function bfdLines(profiles: readonly BfdProfile[]): string[] {
  if (profiles.length === 0) return [];
  const lines = ['bfd'];
  for (const p of [...profiles].sort((a, b) => a.name.localeCompare(b.name))) {
    lines.push(` profile ${p.name}`);
    if (p.detectMultiplier !== undefined && p.detectMultiplier !== BFD_DEFAULTS.detectMultiplier) lines.push(`  detect-multiplier ${p.detectMultiplier}`);
    if (p.transmitIntervalMs !== undefined && p.transmitIntervalMs !== BFD_DEFAULTS.transmitIntervalMs) lines.push(`  transmit-interval ${p.transmitIntervalMs}`);
    if (p.receiveIntervalMs !== undefined && p.receiveIntervalMs !== BFD_DEFAULTS.receiveIntervalMs) lines.push(`  receive-interval ${p.receiveIntervalMs}`);
    if (p.passiveMode) lines.push('  passive-mode');
    if (p.echoMode) lines.push('  echo-mode');
    if (p.minimumTtl !== undefined && p.minimumTtl !== BFD_DEFAULTS.minimumTtl) lines.push(`  minimum-ttl ${p.minimumTtl}`);
    lines.push(' exit', ' !');
  }
  lines.push('exit', '!');
  return lines;
}

export function renderFrrConfig(plan: NodeBgpPlan): string {
  // Route-map and prefix-list changes take effect after 1 s, not FRR's default 5 s: a new
  // Service's prefix waits for that. Not 0: with 0 FRR never applies a route-map change (a new
  // community) to routes already sent.
  const lines = ['frr defaults traditional', 'bgp route-map delay-timer 1', '!'];
  if (plan.myASN === undefined || plan.peers.length === 0) return `${lines.join('\n')}\n`;
  const peers = [...plan.peers].sort((a, b) => comparePeers(a, b));
  lines.push(`router bgp ${plan.myASN}`);
  if (plan.routerID !== undefined) lines.push(` bgp router-id ${plan.routerID}`);
  lines.push(' no bgp ebgp-requires-policy', ' no bgp default ipv4-unicast', ' no bgp network import-check');
  for (const p of peers) lines.push(...neighborLines(p));
  for (const family of ['IPv4', 'IPv6'] as const) {
    const inFamily = peers.filter((p) => p.family === family);
    if (inFamily.length === 0) continue;
    const networks = [...new Set(inFamily.flatMap((p) => (plan.prefixes.get(p.name) ?? []).map((x) => x.prefix)))].sort(comparePrefix);
    lines.push(' !', ` address-family ${family === 'IPv4' ? 'ipv4' : 'ipv6'} unicast`);
    for (const n of networks) lines.push(`  network ${n}`);
    for (const p of inFamily) lines.push(`  neighbor ${p.address} activate`, `  neighbor ${p.address} route-map ${routeMapName(p.name)} out`);
    lines.push(' exit-address-family');
  }
  lines.push('exit', '!');
  const policies = peers.map((p) => peerPolicy(p, plan.prefixes.get(p.name) ?? []));
  // FRR prints every IPv4 prefix-list before the IPv6 ones, then the route-maps.
  for (const family of ['IPv4', 'IPv6'] as const) lines.push(...peers.flatMap((p, i) => (p.family === family ? policies[i]!.prefixLists : [])));
  lines.push(...policies.flatMap((x) => x.routeMap));
  lines.push(...bfdLines(plan.bfdProfiles));
  return `${lines.join('\n')}\n`;
}

/** Neighbors in FRR's order: IPv4 before IPv6, each numerically. */
function comparePeers(a: BgpPeer, b: BgpPeer): number {
  if (a.family !== b.family) return a.family === 'IPv4' ? -1 : 1;
  return comparePrefix(`${a.address}/0`, `${b.address}/0`);
}
