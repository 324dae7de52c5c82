// Where L2 announces, by MetalLB's L2Advertisements (pure): pools selected or not, node selectors
// narrowing the owners (and the hash over them), interfaces; and which problems the speakers
// report (only those the Secrets explain: the controller reports the rest).
import { describe, expect, it } from 'vitest';
import { addressOwners } from '../../src/speaker/announcementOwnership.js';
import { l2Placement } from '../../src/speaker/l2Placement.js';
import { secretProblems } from '../../src/speaker/metallbWatch.js';
import { buildMetallbConfiguration } from '../../src/metallb/configuration.js';
import { groupByKind } from '../../src/metallb/objects.js';
import { buildFromList } from './metallbFixtures.js';

const NS = 'metallb-system';
const labels: Record<string, Record<string, string>> = { 'node-a': { rack: '1' }, 'node-b': { rack: '2' }, 'node-c': { rack: '2' } };

const { config } = buildFromList([
  { kind: 'IPAddressPool', metadata: { name: 'racked', namespace: NS }, spec: { addresses: ['192.0.2.0/28'] } },
  { kind: 'IPAddressPool', metadata: { name: 'quiet', namespace: NS }, spec: { addresses: ['192.0.2.16/28'] } },
  { kind: 'IPAddressPool', metadata: { name: 'wired', namespace: NS, labels: { wired: 'yes' } }, spec: { addresses: ['192.0.2.32/28'] } },
  { kind: 'L2Advertisement', metadata: { name: 'rack2', namespace: NS }, spec: { ipAddressPools: ['racked'], nodeSelectors: [{ matchLabels: { rack: '2' } }] } },
  { kind: 'L2Advertisement', metadata: { name: 'eth1', namespace: NS }, spec: { ipAddressPoolSelectors: [{ matchLabels: { wired: 'yes' } }], interfaces: ['eth1', 'bond0'] } },
]);
const placement = l2Placement(config, (node) => labels[node] ?? {});

describe('l2Placement', () => {
  it('announces an IPAddressPool address only when an L2Advertisement selects its pool; an address in no pool everywhere', () => {
    expect(placement.announced('192.0.2.1')).toBe(true);
    expect(placement.announced('192.0.2.17')).toBe(false);
    expect(placement.announced('192.0.2.33')).toBe(true);
    expect(placement.announced('198.51.100.1')).toBe(true);
    expect(placement.mayAnnounce('198.51.100.1', 'node-a')).toBe(true);
  });

  it('lets only the nodes its nodeSelectors match own the address, and the hash runs over them', () => {
    expect(['node-a', 'node-b', 'node-c'].map((n) => placement.mayAnnounce('192.0.2.1', n))).toEqual([false, true, true]);
    const leases = ['node-a', 'node-b', 'node-c'].map((node) => ({ node, renewTimeMs: 1000 }));
    const nodes = leases.map((l) => ({ name: l.node, ineligible: undefined, networkUnavailable: false }));
    for (let i = 0; i < 16; i++) {
      const ip = `192.0.2.${i}`;
      const [owner] = addressOwners({ leases, nodes, services: [{ key: 'ns/s', ips: [ip], trafficPolicy: 'Cluster', endpointNodes: [] }], nowMs: 1500, lapseMs: 3000, mayAnnounce: placement.mayAnnounce });
      expect(['node-b', 'node-c']).toContain(owner!.node);
    }
  });

  it('limits the interfaces when every matching advertisement lists some', () => {
    expect(placement.interfaces('192.0.2.33', 'node-a')).toEqual(['bond0', 'eth1']);
    expect(placement.interfaces('192.0.2.1', 'node-b')).toBeUndefined();
    expect(placement.interfaces('198.51.100.1', 'node-b')).toBeUndefined();
  });
});

describe('secretProblems', () => {
  it('keeps only the problems the Secrets explain: the controller, which reads none, reports the rest', () => {
    const { objects, secrets } = groupByKind([
      { kind: 'Secret', metadata: { name: 'opaque', namespace: NS }, type: 'Opaque', data: { password: Buffer.from('x').toString('base64') } },
      { kind: 'BGPPeer', metadata: { name: 'wrong-type', namespace: NS }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1', passwordSecret: { name: 'opaque' } } },
      { kind: 'BGPPeer', metadata: { name: 'missing', namespace: NS }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.2', passwordSecret: { name: 'absent' } } },
      { kind: 'BGPPeer', metadata: { name: 'bad-hold', namespace: NS }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.3', holdTime: '1s' } },
    ]);
    const seen = buildMetallbConfiguration(NS, objects, { secrets }).problems;
    const controller = buildMetallbConfiguration(NS, objects).problems;
    expect(controller.map((p) => p.name)).toEqual(['bad-hold']);
    expect(secretProblems(seen, controller).map((p) => [p.name, p.field])).toEqual([
      ['missing', 'spec.passwordSecret'],
      ['wrong-type', 'spec.passwordSecret'],
    ]);
  });
});
