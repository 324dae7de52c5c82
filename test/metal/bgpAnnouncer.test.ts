// The speaker's BGP side without FRR: applies only changed text, one apply at a time with the
// latest text winning, retries a failure on a timer, re-applies after FRR lost its config; and reads FRR's session JSON.
import { describe, expect, it } from 'vitest';
import type { AnnouncedService } from '../../src/speaker/announcementOwnership.js';
import { BgpAnnouncer } from '../../src/speaker/bgp/bgpAnnouncer.js';
import { buildFromList } from './metallbFixtures.js';
import { parseSessions, type FrrControl } from '../../src/speaker/bgp/frrDaemons.js';
import { createLogger } from '../../src/observability/logger.js';

const { config } = buildFromList([
    { kind: 'IPAddressPool', metadata: { name: 'p' }, spec: { addresses: ['203.0.113.0/24'] } },
    { kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' } },
    { kind: 'BGPAdvertisement', metadata: { name: 'all' } },
]);
const svc = (ip: string): AnnouncedService => ({ key: `default/${ip}`, ips: [ip], trafficPolicy: 'Cluster', endpointNodes: [] });
const node = { name: 'node-a', labels: {}, eligible: true };

function fakeFrr(failFirst = false): FrrControl & { applied: string[]; previous: (string | undefined)[]; release: () => void } {
  let gate: (() => void) | undefined;
  let fail = failFirst;
  const frr = {
    applied: [] as string[],
    previous: [] as (string | undefined)[],
    release: () => gate?.(),
    async apply(text: string, previous?: string) {
      frr.previous.push(previous);
      await new Promise<void>((resolve) => (gate = resolve));
      if (fail) {
        fail = false;
        throw new Error('frr-reload.py failed');
      }
      frr.applied.push(text);
      return 'frr-reload' as const;
    },
    sessions: () => Promise.resolve([]),
  };
  return frr;
}

describe('BgpAnnouncer', () => {
  it('applies the latest text once, skipping intermediate ones, and nothing when unchanged', async () => {
    const frr = fakeFrr();
    const announcer = new BgpAnnouncer({ config, nodeName: 'node-a', frr, logger: createLogger('silent', 't') });
    announcer.update([svc('203.0.113.1')], node);
    announcer.update([svc('203.0.113.2')], node);
    announcer.update([svc('203.0.113.3')], node);
    frr.release();
    await new Promise((r) => setTimeout(r, 0));
    frr.release();
    await announcer.settled();
    expect(frr.applied).toHaveLength(2);
    expect(frr.applied[0]).toContain('network 203.0.113.1/32');
    expect(frr.applied[1]).toContain('network 203.0.113.3/32');
    // Each apply knows what FRR runs (the fast path for prefix-only changes needs it); the first does not.
    expect(frr.previous).toEqual([undefined, frr.applied[0]]);
    announcer.update([svc('203.0.113.3')], node);
    await announcer.settled();
    expect(frr.applied).toHaveLength(2);
  });

  it('retries a failed apply on its own timer, without waiting for an update', async () => {
    const frr = fakeFrr(true);
    const announcer = new BgpAnnouncer({ config, nodeName: 'node-a', frr, logger: createLogger('silent', 't'), retryDelayMs: 5 });
    announcer.update([svc('203.0.113.1')], node);
    frr.release();
    await announcer.settled();
    expect(frr.applied).toEqual([]);
    // No further update: steady state. The retry comes by itself.
    for (let i = 0; i < 100 && frr.applied.length === 0; i++) {
      frr.release();
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(frr.applied).toHaveLength(1);
    expect(frr.applied[0]).toContain('network 203.0.113.1/32');
    expect(announcer.appliedConfig()).toBe(frr.applied[0]);
    // After a failure what FRR runs is unknown: the retry is a full reload.
    expect(frr.previous).toEqual([undefined, undefined]);
    announcer.stop();
  });

  it('applies again when FRR lost its configuration (no session for a configured peer)', async () => {
    const frr = fakeFrr();
    let sessions: string[] = [];
    frr.sessions = () => Promise.resolve(sessions.map((address) => ({ address, state: 'Established', established: true, prefixesSent: 1, connectionsEstablished: 1, connectionsDropped: 0 })));
    const announcer = new BgpAnnouncer({ config, nodeName: 'node-a', frr, logger: createLogger('silent', 't') });
    announcer.update([svc('203.0.113.1')], node);
    frr.release();
    await announcer.settled();
    sessions = ['10.0.0.1'];
    await announcer.pollSessions();
    expect(frr.applied).toHaveLength(1);
    sessions = []; // FRR's daemons restarted empty
    await announcer.pollSessions();
    frr.release();
    await announcer.settled();
    expect(frr.applied).toHaveLength(2);
    expect(frr.applied[1]).toBe(frr.applied[0]);
    expect(frr.previous).toEqual([undefined, undefined]);
  });
});

describe('parseSessions', () => {
  it('merges both families and the BFD state per neighbor', () => {
    const summary = JSON.stringify({
      ipv4Unicast: { peers: { '10.0.0.1': { state: 'Established', pfxSnt: 2, connectionsEstablished: 1, connectionsDropped: 0 } } },
      ipv6Unicast: { peers: { '2001:db8::1': { state: 'Active', pfxSnt: 0, connectionsEstablished: 0, connectionsDropped: 3 } } },
    });
    const bfd = JSON.stringify([{ peer: '10.0.0.1', status: 'up' }]);
    expect(parseSessions(summary, bfd)).toEqual([
      { address: '10.0.0.1', state: 'Established', established: true, prefixesSent: 2, connectionsEstablished: 1, connectionsDropped: 0, bfd: 'up' },
      { address: '2001:db8::1', state: 'Active', established: false, prefixesSent: 0, connectionsEstablished: 0, connectionsDropped: 3 },
    ]);
  });
});
