// The fast path's decision, as text: which changes between two rendered configurations are
// prefix-only (vtysh commands) and which need frr-reload.py (undefined). The commands are checked
// by replaying them on the first text's prefix lines and comparing with the second's.
import { describe, expect, it } from 'vitest';
import type { AnnouncedService } from '../../src/speaker/announcementOwnership.js';
import { renderFrrConfig } from '../../src/speaker/bgp/frrConfig.js';
import { prefixOnlyCommands } from '../../src/speaker/bgp/frrPrefixChange.js';
import { buildFromList } from './metallbFixtures.js';
import { nodeBgpPlan } from '../../src/speaker/bgp/nodeBgpPlan.js';

const objects = (communities: string[]) => [
  { kind: 'IPAddressPool', metadata: { name: 'public' }, spec: { addresses: ['203.0.113.0/24', '2001:db8:5::/64'] } },
  { kind: 'IPAddressPool', metadata: { name: 'private' }, spec: { addresses: ['192.0.2.0/24'] } },
  { kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' } },
  { kind: 'BGPPeer', metadata: { name: 'tor6' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '2001:db8::1' } },
  { kind: 'BGPAdvertisement', metadata: { name: 'public' }, spec: { ipAddressPools: ['public'], communities } },
  { kind: 'BGPAdvertisement', metadata: { name: 'private' }, spec: { ipAddressPools: ['private'], localPref: 50 } },
];

function render(ips: string[], communities = ['64500:100']): string {
  const built = buildFromList(objects(communities));
  expect(built.problems).toEqual([]);
  const services: AnnouncedService[] = ips.map((ip) => ({ key: `default/${ip}`, ips: [ip], trafficPolicy: 'Cluster', endpointNodes: [] }));
  return renderFrrConfig(nodeBgpPlan(built.config, { name: 'node-a', labels: {}, eligible: true }, services));
}

/** The prefix lines of a text: prefix-lists, and networks under their address family. */
function prefixLines(text: string): string[] {
  let family = '';
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(' address-family ')) family = line.trim();
    if (/^(ip|ipv6) prefix-list /.test(line)) out.push(line);
    if (line.startsWith('  network ')) out.push(`${family}: ${line.trim()}`);
  }
  return out.sort();
}

/** Replays vtysh commands on a text's prefix lines, as FRR would. */
function replay(text: string, commands: string[]): string[] {
  const lines = new Set(prefixLines(text));
  let family = '';
  for (const c of commands) {
    if (c.startsWith('address-family ')) family = c;
    else if (/^(no )?(ip|ipv6) prefix-list /.test(c)) {
      if (c.startsWith('no ')) lines.delete(c.slice(3));
      else lines.add(c);
    } else if (/^(no )?network /.test(c)) {
      if (c.startsWith('no ')) lines.delete(`${family}: ${c.slice(3)}`);
      else lines.add(`${family}: ${c}`);
    }
  }
  return [...lines].sort();
}

describe('prefixOnlyCommands', () => {
  it('a new Service: its prefix-list entry, then its network, in its family', () => {
    const from = render(['203.0.113.10']);
    const to = render(['203.0.113.10', '203.0.113.20']);
    expect(prefixOnlyCommands(from, to)).toEqual([
      'configure terminal',
      'ip prefix-list klb-tor-v4-1 seq 10 permit 203.0.113.20/32',
      'router bgp 64512',
      'address-family ipv4 unicast',
      'network 203.0.113.20/32',
      'exit-address-family',
      'exit',
      'end',
    ]);
  });

  it('a Service gone: its network and entry removed; entries after it move up (removed before added)', () => {
    const from = render(['203.0.113.10', '203.0.113.11', '203.0.113.12']);
    const to = render(['203.0.113.10', '203.0.113.12']);
    const commands = prefixOnlyCommands(from, to)!;
    expect(commands).toEqual([
      'configure terminal',
      'no ip prefix-list klb-tor-v4-1 seq 10 permit 203.0.113.11/32',
      'no ip prefix-list klb-tor-v4-1 seq 15 permit 203.0.113.12/32',
      'ip prefix-list klb-tor-v4-1 seq 10 permit 203.0.113.12/32',
      'router bgp 64512',
      'address-family ipv4 unicast',
      'no network 203.0.113.11/32',
      'exit-address-family',
      'exit',
      'end',
    ]);
    expect(replay(from, commands)).toEqual(prefixLines(to));
  });

  it('several Services in both families at once reach the wanted prefixes', () => {
    const from = render(['203.0.113.10', '203.0.113.30', '2001:db8:5::10', '192.0.2.7']);
    const to = render(['203.0.113.20', '203.0.113.30', '203.0.113.40', '2001:db8:5::9', '2001:db8:5::10', '192.0.2.7', '192.0.2.8']);
    const commands = prefixOnlyCommands(from, to)!;
    expect(commands).toBeDefined();
    expect(replay(from, commands)).toEqual(prefixLines(to));
    expect(commands.filter((c) => c.startsWith('address-family'))).toEqual(['address-family ipv4 unicast', 'address-family ipv6 unicast']);
    // Entries go in before the networks that need them.
    expect(commands.findIndex((c) => c.startsWith('network'))).toBeGreaterThan(commands.findLastIndex((c) => c.includes('prefix-list')));
  });

  it('the same text: nothing to do', () => {
    expect(prefixOnlyCommands(render(['203.0.113.10']), render(['203.0.113.10']))).toEqual([]);
  });

  it('anything but prefixes goes to frr-reload.py: communities, a first prefix for a peer, a new attribute group, peers', () => {
    // A route-map line changes.
    expect(prefixOnlyCommands(render(['203.0.113.10']), render(['203.0.113.10'], ['64500:200']))).toBeUndefined();
    // The peer had nothing: its route-map goes from deny to permit.
    expect(prefixOnlyCommands(render([]), render(['203.0.113.10']))).toBeUndefined();
    // A prefix of another advertisement: a second prefix-list and route-map entry.
    expect(prefixOnlyCommands(render(['203.0.113.10']), render(['203.0.113.10', '192.0.2.7']))).toBeUndefined();
    // The last prefix of a group gone.
    expect(prefixOnlyCommands(render(['203.0.113.10', '192.0.2.7']), render(['203.0.113.10']))).toBeUndefined();
    // A neighbor line.
    const from = render(['203.0.113.10']);
    expect(prefixOnlyCommands(from, from.replace('timers 30 90', 'timers 10 30'))).toBeUndefined();
    // A first configuration (nothing applied before) is never compared: an empty one differs anyway.
    expect(prefixOnlyCommands('frr defaults traditional\n', from)).toBeUndefined();
  });
});
