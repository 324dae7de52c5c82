// The BGP configuration model: MetalLB's objects in, a validated model out; each invalid object is
// refused with a problem naming its field while the valid ones are kept.
import { describe, expect, it } from 'vitest';
import { durationSeconds } from '../../src/metallb/bgp.js';
import { buildFromList } from './metallbFixtures.js';
import type { BGPPeerSpec } from '../../src/metallb/objects.js';

const peer = (name: string, spec: BGPPeerSpec) => ({ apiVersion: 'metallb.io/v1beta2', kind: 'BGPPeer' as const, metadata: { name, namespace: 'metallb-system' }, spec });
const base: BGPPeerSpec = { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' };

function build(objects: unknown[]) {
  return buildFromList(objects);
}

describe('BGPPeer validation', () => {
  it('keeps a valid peer with MetalLB\'s default timers (hold 90 s, keepalive 30 s)', () => {
    const { config, problems } = build([peer('tor', base)]);
    expect(problems).toEqual([]);
    expect(config.bgpPeers).toEqual([
      { name: 'tor', myASN: 64512, remoteAS: 64500, address: '10.0.0.1', family: 'IPv4', holdSeconds: 90, keepaliveSeconds: 30, nodeSelectors: [], ebgpMultiHop: false, gracefulRestart: false },
    ]);
  });

  it('leaves out the port when it is BGP\'s own (the CRD defaults peerPort to 179), keeps any other', () => {
    const { config } = build([peer('a', { ...base, peerPort: 179 }), peer('b', { ...base, peerAddress: '10.0.0.2', peerPort: 1790 })]);
    expect(config.bgpPeers.map((p) => [p.name, p.port])).toEqual([
      ['a', undefined],
      ['b', 1790],
    ]);
  });

  it('derives the missing timer: keepalive a third of hold, or hold three times keepalive', () => {
    const { config } = build([peer('a', { ...base, holdTime: '9s' }), peer('b', { ...base, peerAddress: '10.0.0.2', keepaliveTime: '2s' }), peer('c', { ...base, peerAddress: '10.0.0.3', holdTime: '0s' })]);
    expect(config.bgpPeers.map((p) => [p.name, p.keepaliveSeconds, p.holdSeconds])).toEqual([
      ['a', 3, 9],
      ['b', 2, 6],
      ['c', 0, 0],
    ]);
  });

  it.each([
    [{ holdTime: '2s' }, 'spec.holdTime'],
    [{ holdTime: '10s', keepaliveTime: '11s' }, 'spec.keepaliveTime'],
    [{ holdTime: 'soon' }, 'spec.holdTime'],
    [{ password: 'a', passwordSecret: { name: 's' } }, 'spec.password'],
    [{ dynamicASN: 'external' }, 'spec.dynamicASN'],
    [{ peerASN: undefined }, 'spec.peerASN'],
    [{ peerASN: undefined, dynamicASN: 'sideways' }, 'spec.dynamicASN'],
    [{ peerAddress: '10.0.0.300' }, 'spec.peerAddress'],
    [{ myASN: 0 }, 'spec.myASN'],
    [{ bfdProfile: 'missing' }, 'spec.bfdProfile'],
    [{ peerASN: 64512, ebgpMultiHop: true }, 'spec.ebgpMultiHop'],
    [{ routerID: '2001:db8::1' }, 'spec.routerID'],
    [{ password: 'two words' }, 'spec.password'],
    [{ passwordSecret: { name: 'absent' } }, 'spec.passwordSecret'],
    [{ nodeSelectors: [{ matchExpressions: [{ key: 'k', operator: 'In' as const }] }] }, 'spec.nodeSelectors[0].matchExpressions[0].values'],
  ] as [Partial<BGPPeerSpec>, string][])('refuses %j, naming %s, and keeps the valid peers', (change, field) => {
    const { config, problems } = build([peer('bad', { ...base, ...change }), peer('good', { ...base, peerAddress: '10.0.0.9' })]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ kind: 'BGPPeer', name: 'bad', namespace: 'metallb-system', field });
    expect(config.bgpPeers.map((p) => p.name)).toEqual(['good']);
  });

  it('reads the password from a basic-auth Secret, and refuses a Secret of another type', () => {
    const secret = (name: string, type: string) => ({ kind: 'Secret', metadata: { name, namespace: 'metallb-system' }, type, data: { password: Buffer.from('s3cret').toString('base64') } });
    const { config, problems } = build([
      secret('ok', 'kubernetes.io/basic-auth'),
      secret('opaque', 'Opaque'),
      peer('a', { ...base, passwordSecret: { name: 'ok' } }),
      peer('b', { ...base, peerAddress: '10.0.0.2', passwordSecret: { name: 'opaque' } }),
    ]);
    expect(config.bgpPeers.map((p) => [p.name, p.password])).toEqual([['a', 's3cret']]);
    expect(problems).toMatchObject([{ name: 'b', field: 'spec.passwordSecret' }]);
  });

  it('refuses a second ASN for the node and a duplicate peer address', () => {
    const { problems } = build([peer('a', base), peer('b', { ...base, myASN: 64513, peerAddress: '10.0.0.2' }), peer('c', { ...base })]);
    expect(problems.map((p) => [p.name, p.field])).toEqual([
      ['b', 'spec.myASN'],
      ['c', 'spec.peerAddress'],
    ]);
  });
});

describe('BGPAdvertisement, BFDProfile and Community validation', () => {
  it('resolves Community aliases, splits large communities and applies the aggregation defaults', () => {
    const { config, problems } = build([
      { kind: 'Community', metadata: { name: 'c' }, spec: { communities: [{ name: 'no-export-ish', value: '65535:65281' }, { name: 'big', value: 'large:1:2:3' }] } },
      { kind: 'BGPAdvertisement', metadata: { name: 'ad' }, spec: { communities: ['64500:07', 'no-export-ish', 'big'], localPref: 120 } },
    ]);
    expect(problems).toEqual([]);
    expect(config.bgpAdvertisements[0]).toMatchObject({ communities: ['64500:7', '65535:65281'], largeCommunities: ['1:2:3'], aggregationLength: 32, aggregationLengthV6: 128, localPref: 120 });
  });

  it.each([
    [{ aggregationLength: 33 }, 'spec.aggregationLength'],
    [{ aggregationLengthV6: -1 }, 'spec.aggregationLengthV6'],
    [{ communities: ['65536:1'] }, 'spec.communities[0]'],
    [{ communities: ['1:2', 'nosuchalias'] }, 'spec.communities[1]'],
    [{ communities: ['large:1:2'] }, 'spec.communities[0]'],
    [{ localPref: 1.5 }, 'spec.localPref'],
  ])('refuses %j naming %s', (spec, field) => {
    const { problems, config } = build([{ kind: 'BGPAdvertisement', metadata: { name: 'ad' }, spec }]);
    expect(problems).toMatchObject([{ kind: 'BGPAdvertisement', name: 'ad', field }]);
    expect(config.bgpAdvertisements).toEqual([]);
  });

  it('refuses an aggregation shorter than a CIDR of a covered pool (it would announce foreign addresses)', () => {
    const { problems, config } = build([
      { kind: 'IPAddressPool', metadata: { name: 'small', labels: { size: 's' } }, spec: { addresses: ['192.0.2.64/26', '192.0.2.200-192.0.2.210'] } },
      { kind: 'BGPAdvertisement', metadata: { name: 'too-wide' }, spec: { ipAddressPoolSelectors: [{ matchLabels: { size: 's' } }], aggregationLength: 24 } },
      { kind: 'BGPAdvertisement', metadata: { name: 'fits' }, spec: { ipAddressPools: ['small'], aggregationLength: 26 } },
    ]);
    expect(problems).toMatchObject([{ name: 'too-wide', field: 'spec.aggregationLength' }]);
    expect(config.bgpAdvertisements.map((a) => a.name)).toEqual(['fits']);
  });

  it('checks BFD profile ranges', () => {
    const { problems, config } = build([
      { kind: 'BFDProfile', metadata: { name: 'bad' }, spec: { detectMultiplier: 1 } },
      { kind: 'BFDProfile', metadata: { name: 'fast' }, spec: { receiveInterval: 100, transmitInterval: 100, echoMode: true } },
    ]);
    expect(problems).toMatchObject([{ name: 'bad', field: 'spec.detectMultiplier' }]);
    expect(config.bfdProfiles).toEqual([{ name: 'fast', receiveIntervalMs: 100, transmitIntervalMs: 100, echoMode: true, passiveMode: false }]);
  });

  it('parses Kubernetes durations', () => {
    expect(durationSeconds('1m30s', 'f')).toBe(90);
    expect(durationSeconds('3500ms', 'f')).toBe(3);
    expect(() => durationSeconds('90', 'f')).toThrow(/not a duration/);
  });
});
