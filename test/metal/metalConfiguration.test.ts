// The pure builder of the metal configuration from our YAML pools and MetalLB's objects: the same
// model from both, bad objects reported on themselves (naming the field) and left out, the YAML
// pool winning a clash, the serving pool winning an overlap.
import { describe, expect, it } from 'vitest';
import { compilePools, poolRefusal, poolsInOrder } from '../../providers/metal/addressPools.js';
import { metalConfigSchema } from '../../providers/metal/config.js';
import { durationSeconds } from '../../src/metallb/bgp.js';
import { buildMetallbConfiguration, l2AdvertisementsFor } from '../../src/metallb/configuration.js';
import { emptyMetallbObjects, type MetallbObjects, type RawObject } from '../../src/metallb/objects.js';

const NS = 'metallb-system';

function obj(name: string, spec: unknown, extra: Partial<RawObject['metadata']> = {}): RawObject {
  return { metadata: { name, namespace: NS, uid: `uid-${name}`, ...extra }, spec };
}

function objects(parts: Partial<MetallbObjects>): MetallbObjects {
  return { ...emptyMetallbObjects(), ...parts };
}

const yaml = compilePools(metalConfigSchema.parse({ type: 'metal', pools: [{ name: 'lab', addresses: ['198.51.100.0/28'] }] }).pools);

describe('metal configuration from MetalLB objects', () => {
  it('builds IPAddressPools into the pool model with defaults, next to the YAML pools', () => {
    const config = buildMetallbConfiguration(
      NS,
      objects({
        IPAddressPool: [
          obj('prod', { addresses: ['192.0.2.0/30', '2001:db8::1-2001:db8::2'], serviceAllocation: { priority: 5, namespaces: ['shop'], serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }] } }),
        ],
      }),
      { fixedPools: yaml },
    );
    expect(config.problems).toEqual([]);
    expect(config.pools.map((p) => [p.name, p.source, p.autoAssign, p.avoidBuggyIPs])).toEqual([
      ['lab', 'config', true, false],
      ['prod', 'IPAddressPool metallb-system/prod', true, false],
    ]);
    const prod = config.pools[1]!;
    expect(prod.serviceAllocation?.priority).toBe(5);
    expect(poolRefusal(prod, { namespace: 'shop', labels: { tier: 'web' } })).toBeUndefined();
    expect(poolRefusal(prod, { namespace: 'shop', labels: { tier: 'db' } })).toBe('pool "prod" serves only Services labelled tier In (web)');
    expect(poolRefusal(prod, { namespace: 'other', labels: { tier: 'web' } })).toBe('pool "prod" serves only namespaces shop');
  });

  it('namespaces and namespaceSelectors are one union; serviceSelectors must match too', () => {
    const config = buildMetallbConfiguration(
      NS,
      objects({ IPAddressPool: [obj('p', { addresses: ['192.0.2.0/30'], serviceAllocation: { namespaces: ['a'], namespaceSelectors: [{ matchLabels: { team: 'x' } }] } })] }),
    );
    const pool = config.pools[0]!;
    expect(poolRefusal(pool, { namespace: 'a', labels: {} })).toBeUndefined();
    expect(poolRefusal(pool, { namespace: 'b', labels: {}, namespaceLabels: { team: 'x' } })).toBeUndefined();
    expect(poolRefusal(pool, { namespace: 'b', labels: {}, namespaceLabels: { team: 'y' } })).toMatch(/serves only namespaces a or namespaces labelled team=x/);
  });

  it('reports a bad CIDR, an overlap and a clash with a YAML pool on the object, naming the field, and serves the rest', () => {
    const config = buildMetallbConfiguration(
      NS,
      objects({
        IPAddressPool: [
          obj('bad-cidr', { addresses: ['192.0.2.0/33'] }),
          obj('good', { addresses: ['203.0.113.0/29'] }),
          obj('overlapping', { addresses: ['203.0.113.4/30'] }, { creationTimestamp: '2030-01-01T00:00:00Z' }),
          obj('lab', { addresses: ['10.0.0.0/30'] }),
          obj('into-yaml', { addresses: ['198.51.100.8/29'] }),
        ],
        L2Advertisement: [obj('l2-unknown', { ipAddressPools: ['good', 'nope'] }), obj('l2-ok', { ipAddressPools: ['good'] })],
      }),
      { fixedPools: yaml },
    );
    expect(config.pools.map((p) => p.name)).toEqual(['good', 'lab']);
    expect(config.problems.map((p) => [p.kind, p.name, p.field])).toEqual([
      ['IPAddressPool', 'bad-cidr', 'spec.addresses[0]'],
      ['IPAddressPool', 'into-yaml', 'spec.addresses'],
      ['IPAddressPool', 'lab', 'metadata.name'],
      ['IPAddressPool', 'overlapping', 'spec.addresses'],
      ['L2Advertisement', 'l2-unknown', 'spec.ipAddressPools[1]'],
    ]);
    expect(config.problems[0]!.message).toMatch(/"192.0.2.0\/33" is not a valid CIDR: give a CIDR/);
    expect(config.problems[1]!.message).toMatch(/198.51.100.8\/29 overlaps 198.51.100.0\/28 of pool "lab" in the controller's configuration at 198.51.100.8/);
    expect(config.problems[3]!.message).toMatch(/overlaps 203.0.113.0\/29 of IPAddressPool metallb-system\/good at 203.0.113.4/);
    expect(config.problems[2]!.message).toMatch(/already has a pool "lab", which wins/);
    expect(config.problems[4]!.message).toMatch(/there is no pool "nope" in metallb-system/);
    expect(config.l2Advertisements.map((a) => a.name)).toEqual(['l2-ok']);
  });

  it('keeps the pool that was serving when another is edited to overlap it, whatever their age', () => {
    const older = obj('older', { addresses: ['192.0.2.0/29'] }, { creationTimestamp: '2020-01-01T00:00:00Z' });
    const newer = obj('newer', { addresses: ['192.0.2.4/30'] }, { creationTimestamp: '2021-01-01T00:00:00Z' });
    expect(buildMetallbConfiguration(NS, objects({ IPAddressPool: [older, newer] })).pools.map((p) => p.name)).toEqual(['older']);
    expect(buildMetallbConfiguration(NS, objects({ IPAddressPool: [older, newer] }), { serving: new Set(['newer']) }).pools.map((p) => p.name)).toEqual(['newer']);
  });

  it('a pool being deleted drains: it keeps its addresses but is no longer offered', () => {
    const config = buildMetallbConfiguration(NS, objects({ IPAddressPool: [obj('going', { addresses: ['192.0.2.0/30'] }, { deletionTimestamp: '2030-01-01T00:00:00Z' })] }));
    expect(config.pools[0]!.draining).toBe(true);
    expect(poolsInOrder(config.pools, { namespace: 'x', labels: {} })).toEqual([]);
  });

  it('resolves L2Advertisements: named pools, pool selectors, every pool; YAML pools are announced everywhere unless selected', () => {
    const config = buildMetallbConfiguration(
      NS,
      objects({
        IPAddressPool: [obj('a', { addresses: ['192.0.2.0/30'] }, { labels: { zone: 'east' } }), obj('b', { addresses: ['192.0.2.4/30'] }), obj('c', { addresses: ['192.0.2.8/30'] })],
        L2Advertisement: [
          obj('by-name', { ipAddressPools: ['b'], nodeSelectors: [{ matchLabels: { rack: '1' } }], interfaces: ['eth1'] }),
          obj('by-label', { ipAddressPoolSelectors: [{ matchLabels: { zone: 'east' } }] }),
          obj('bad-iface', { interfaces: ['eth 0'] }),
          obj('bad-selector', { nodeSelectors: [{ matchExpressions: [{ key: 'k', operator: 'Maybe' }] }] }),
        ],
      }),
      { fixedPools: yaml },
    );
    expect(config.l2Advertisements.map((a) => [a.name, a.pools])).toEqual([
      ['by-label', ['a']],
      ['by-name', ['b']],
    ]);
    expect(config.problems.map((p) => p.field)).toEqual(['spec.interfaces[0]', 'spec.nodeSelectors[0].matchExpressions[0].operator']);
    expect(l2AdvertisementsFor(config, 'c')).toEqual([]);
    expect(l2AdvertisementsFor(config, 'lab')).toBe('everywhere');
    expect((l2AdvertisementsFor(config, 'b') as { interfaces: string[] }[])[0]!.interfaces).toEqual(['eth1']);
  });

  it('validates BGPPeer, BGPAdvertisement, BFDProfile and Community, naming the field', () => {
    const config = buildMetallbConfiguration(
      NS,
      objects({
        BFDProfile: [obj('fast', { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }), obj('bad-bfd', { detectMultiplier: 1 })],
        Community: [obj('aliases', { communities: [{ name: 'no-export', value: '65535:65281' }] }), obj('bad-community', { communities: [{ name: 'x', value: '70000:1' }] })],
        BGPPeer: [
          obj('router', { myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.1', bfdProfile: 'fast', holdTime: '90s', keepaliveTime: '30s' }),
          obj('no-bfd', { myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.2', bfdProfile: 'missing' }),
          obj('both-asn', { myASN: 64500, peerASN: 64501, dynamicASN: 'external', peerAddress: '10.0.0.3' }),
          obj('bad-hold', { myASN: 64500, peerASN: 64501, peerAddress: '10.0.0.4', holdTime: 'soon' }),
        ],
        BGPAdvertisement: [obj('adv', { ipAddressPools: ['lab'], peers: ['router'], communities: ['no-export', '64500:1'] }), obj('bad-adv', { peers: ['no-bfd'] })],
      }),
      { fixedPools: yaml },
    );
    expect(config.problems.map((p) => [p.kind, p.name, p.field])).toEqual([
      ['BFDProfile', 'bad-bfd', 'spec.detectMultiplier'],
      ['Community', 'bad-community', 'spec.communities[0].value'],
      ['BGPPeer', 'bad-hold', 'spec.holdTime'],
      ['BGPPeer', 'both-asn', 'spec.dynamicASN'],
      ['BGPPeer', 'no-bfd', 'spec.bfdProfile'],
      ['BGPAdvertisement', 'bad-adv', 'spec.peers[0]'],
    ]);
    expect(config.bgpPeers.map((p) => [p.name, p.holdSeconds, p.keepaliveSeconds])).toEqual([['router', 90, 30]]);
    expect(config.bgpAdvertisements[0]).toMatchObject({ pools: ['lab'], communities: ['65535:65281', '64500:1'], aggregationLength: 32 });
    expect(durationSeconds('1m30s', 'spec.holdTime')).toBe(90);
    expect(() => durationSeconds('1x', 'spec.holdTime')).toThrow(/not a duration/);
  });
});
