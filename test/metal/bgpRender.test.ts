// A node's BGP plan and its FRR configuration, as text: which prefixes go to which peer (selectors,
// Local, aggregation, communities, local preference), rendered in FRR's canonical form.
import { describe, expect, it } from 'vitest';
import type { AnnouncedService } from '../../src/speaker/announcementOwnership.js';
import { buildFromList } from './metallbFixtures.js';
import { renderFrrConfig } from '../../src/speaker/bgp/frrConfig.js';
import { aggregatePrefix, nodeBgpPlan } from '../../src/speaker/bgp/nodeBgpPlan.js';

export const LAB_OBJECTS = [
  { kind: 'IPAddressPool', metadata: { name: 'public', labels: { tier: 'public' } }, spec: { addresses: ['203.0.113.0/24', '2001:db8:5::/64'] } },
  { kind: 'IPAddressPool', metadata: { name: 'private' }, spec: { addresses: ['192.0.2.0/24'] } },
  { kind: 'BFDProfile', metadata: { name: 'fast' }, spec: { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 } },
  { kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1', password: 's3cret', bfdProfile: 'fast', holdTime: '9s' } },
  { kind: 'BGPPeer', metadata: { name: 'tor6' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '2001:db8::1', ebgpMultiHop: true } },
  { kind: 'BGPPeer', metadata: { name: 'rack2' }, spec: { myASN: 64512, dynamicASN: 'internal', peerAddress: '10.0.0.2', nodeSelectors: [{ matchLabels: { rack: '2' } }] } },
  { kind: 'BGPAdvertisement', metadata: { name: 'public' }, spec: { ipAddressPoolSelectors: [{ matchLabels: { tier: 'public' } }], communities: ['64500:200', '64500:100'] } },
  { kind: 'BGPAdvertisement', metadata: { name: 'private-agg' }, spec: { ipAddressPools: ['private'], aggregationLength: 24, peers: ['tor'], localPref: 50, communities: ['large:64512:1:2'] } },
];

const services: AnnouncedService[] = [
  { key: 'default/web', ips: ['203.0.113.10', '2001:db8:5::10'], trafficPolicy: 'Cluster', endpointNodes: [] },
  { key: 'default/local', ips: ['203.0.113.11'], trafficPolicy: 'Local', endpointNodes: ['node-b'] },
  { key: 'default/db', ips: ['192.0.2.7'], trafficPolicy: 'Cluster', endpointNodes: [] },
  { key: 'default/elsewhere', ips: ['198.51.100.1'], trafficPolicy: 'Cluster', endpointNodes: [] },
];

const config = () => {
  const built = buildFromList(LAB_OBJECTS);
  expect(built.problems).toEqual([]);
  return built.config;
};

describe('nodeBgpPlan', () => {
  it('sends each covered address to the selected peers, aggregated, with merged attributes', () => {
    const plan = nodeBgpPlan(config(), { name: 'node-a', labels: {}, eligible: true }, services);
    expect(plan.peers.map((p) => p.name)).toEqual(['tor', 'tor6']);
    expect(plan.prefixes.get('tor')).toEqual([
      { prefix: '192.0.2.0/24', family: 'IPv4', communities: [], largeCommunities: ['64512:1:2'], localPref: 50 },
      { prefix: '203.0.113.10/32', family: 'IPv4', communities: ['64500:100', '64500:200'], largeCommunities: [] },
    ]);
    expect(plan.prefixes.get('tor6')).toEqual([{ prefix: '2001:db8:5::10/128', family: 'IPv6', communities: ['64500:100', '64500:200'], largeCommunities: [] }]);
  });

  it('Local: only the node with a ready endpoint advertises; peer node selectors pick rack2', () => {
    const plan = nodeBgpPlan(config(), { name: 'node-b', labels: { rack: '2' }, eligible: true }, services);
    expect(plan.peers.map((p) => p.name)).toEqual(['rack2', 'tor', 'tor6']);
    expect(plan.prefixes.get('tor')!.map((p) => p.prefix)).toEqual(['192.0.2.0/24', '203.0.113.10/32', '203.0.113.11/32']);
    // rack2 is named by no 'peers' list of private-agg, and public covers it.
    expect(plan.prefixes.get('rack2')!.map((p) => p.prefix)).toEqual(['203.0.113.10/32', '203.0.113.11/32']);
  });

  it('an ineligible node keeps its sessions and sends nothing', () => {
    const plan = nodeBgpPlan(config(), { name: 'node-a', labels: {}, eligible: false }, services);
    expect(plan.peers).toHaveLength(2);
    expect([...plan.prefixes.values()].flat()).toEqual([]);
  });

  it('aggregates', () => {
    expect(aggregatePrefix('192.0.2.77', 26)).toBe('192.0.2.64/26');
    expect(aggregatePrefix('2001:db8::1:2', 112)).toBe('2001:db8::1:0/112');
  });
});

describe('renderFrrConfig', () => {
  it('renders FRR\'s canonical text', () => {
    const text = renderFrrConfig(nodeBgpPlan(config(), { name: 'node-a', labels: {}, eligible: true }, services));
    expect(text).toBe(
      [
        'frr defaults traditional',
        'bgp route-map delay-timer 1',
        '!',
        'router bgp 64512',
        ' no bgp ebgp-requires-policy',
        ' no bgp default ipv4-unicast',
        ' no bgp network import-check',
        ' neighbor 10.0.0.1 remote-as 64500',
        ' neighbor 10.0.0.1 bfd',
        ' neighbor 10.0.0.1 bfd profile fast',
        ' neighbor 10.0.0.1 password s3cret',
        ' neighbor 10.0.0.1 timers 3 9',
        ' neighbor 10.0.0.1 graceful-restart-disable',
        ' neighbor 2001:db8::1 remote-as 64500',
        ' neighbor 2001:db8::1 ebgp-multihop 255',
        ' neighbor 2001:db8::1 timers 30 90',
        ' neighbor 2001:db8::1 graceful-restart-disable',
        ' !',
        ' address-family ipv4 unicast',
        '  network 192.0.2.0/24',
        '  network 203.0.113.10/32',
        '  neighbor 10.0.0.1 activate',
        '  neighbor 10.0.0.1 route-map klb-tor-out out',
        ' exit-address-family',
        ' !',
        ' address-family ipv6 unicast',
        '  network 2001:db8:5::10/128',
        '  neighbor 2001:db8::1 activate',
        '  neighbor 2001:db8::1 route-map klb-tor6-out out',
        ' exit-address-family',
        'exit',
        '!',
        'ip prefix-list klb-tor-v4-1 seq 5 permit 192.0.2.0/24',
        '!',
        'ip prefix-list klb-tor-v4-2 seq 5 permit 203.0.113.10/32',
        '!',
        'ipv6 prefix-list klb-tor6-v6-1 seq 5 permit 2001:db8:5::10/128',
        '!',
        'route-map klb-tor-out permit 10',
        ' match ip address prefix-list klb-tor-v4-1',
        ' set large-community 64512:1:2',
        ' set local-preference 50',
        'exit',
        '!',
        'route-map klb-tor-out permit 20',
        ' match ip address prefix-list klb-tor-v4-2',
        ' set community 64500:100 64500:200',
        'exit',
        '!',
        'route-map klb-tor6-out permit 10',
        ' match ipv6 address prefix-list klb-tor6-v6-1',
        ' set community 64500:100 64500:200',
        'exit',
        '!',
        'bfd',
        ' profile fast',
        '  transmit-interval 100',
        '  receive-interval 100',
        ' exit',
        ' !',
        'exit',
        '!',
        '',
      ].join('\n'),
    );
  });

  it('renders the same text for the same plan, and an empty one without peers', () => {
    const plan = () => nodeBgpPlan(config(), { name: 'node-a', labels: {}, eligible: true }, [...services].reverse());
    expect(renderFrrConfig(plan())).toBe(renderFrrConfig(nodeBgpPlan(config(), { name: 'node-a', labels: {}, eligible: true }, services)));
    expect(renderFrrConfig(nodeBgpPlan({ bgpPeers: [], bfdProfiles: [], bgpAdvertisements: [], pools: [] }, { name: 'n', labels: {}, eligible: true }, services))).toBe('frr defaults traditional\nbgp route-map delay-timer 1\n!\n');
  });

  it('a peer with nothing to receive gets an explicit deny', () => {
    const text = renderFrrConfig(nodeBgpPlan(config(), { name: 'node-a', labels: {}, eligible: false }, services));
    expect(text).toContain('route-map klb-tor-out deny 10\nexit\n');
    expect(text).not.toContain('  network ');
  });
});
