// The speaker's pure parts: who announces each address (liveness, eligibility, Local endpoints,
// rendezvous stability) and the announcer's convergence against fake effects.
import { describe, expect, it } from 'vitest';
import {
  addressOwners,
  nextLapseMs,
  nodeState,
  rankNodes,
  type AnnouncedService,
  type NodeState,
  type SpeakerLease,
} from '../../src/speaker/announcementOwnership.js';
import { ANNOUNCE_SCHEDULE_MS, Announcer } from '../../src/speaker/announcer.js';
import type { NetEffects } from '../../src/speaker/netEffects.js';
import { RenewalObserver } from '../../src/speaker/renewalObserver.js';
import { silentLogger } from '../../src/observability/logger.js';

const NOW = 1_000_000;
const LAPSE = 1500;
const node = (name: string, extra: Partial<NodeState> = {}): NodeState => ({ name, ineligible: undefined, networkUnavailable: false, ...extra });
const lease = (name: string, ageMs = 100): SpeakerLease => ({ node: name, renewTimeMs: NOW - ageMs });
const svc = (key: string, ips: string[], extra: Partial<AnnouncedService> = {}): AnnouncedService => ({ key, ips, trafficPolicy: 'Cluster', endpointNodes: [], ...extra });
const names = Array.from({ length: 5 }, (_, i) => `node-${i}`);

function owners(leases: SpeakerLease[], nodes: NodeState[], services: AnnouncedService[]) {
  return new Map(addressOwners({ leases, nodes, services, nowMs: NOW, lapseMs: LAPSE }).map((o) => [o.ip, o.node]));
}

describe('announcing node', () => {
  const services = Array.from({ length: 200 }, (_, i) => svc(`ns/s${i}`, [`192.0.2.${i}`]));

  it('is the same for every speaker (order of inputs does not matter) and spreads addresses', () => {
    const a = owners(names.map((n) => lease(n)), names.map((n) => node(n)), services);
    const b = owners([...names].reverse().map((n) => lease(n)), [...names].reverse().map((n) => node(n)), [...services].reverse());
    expect([...a].sort()).toEqual([...b].sort());
    const perNode = new Map<string, number>();
    for (const owner of a.values()) perNode.set(owner!, (perNode.get(owner!) ?? 0) + 1);
    expect(perNode.size).toBe(5);
    for (const count of perNode.values()) expect(count).toBeGreaterThan(15);
  });

  it('moves only the addresses of a node that leaves (lapsed Lease), and only to live nodes', () => {
    const before = owners(names.map((n) => lease(n)), names.map((n) => node(n)), services);
    const after = owners(names.map((n) => lease(n, n === 'node-2' ? LAPSE : 100)), names.map((n) => node(n)), services);
    let moved = 0;
    for (const [ip, owner] of before) {
      if (owner === 'node-2') {
        expect(after.get(ip)).not.toBe('node-2');
        expect(after.get(ip)).toBeDefined();
        moved++;
      } else expect(after.get(ip)).toBe(owner);
    }
    expect(moved).toBeGreaterThan(0);
    // When it comes back, it takes back exactly those.
    expect(owners(names.map((n) => lease(n)), names.map((n) => node(n)), services)).toEqual(before);
  });

  it('skips excluded, network-unavailable and deleting nodes, and nodes without a live speaker', () => {
    const nodes = [
      nodeState({ metadata: { name: 'a', labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } } }),
      node('b', { networkUnavailable: true }),
      nodeState({ metadata: { name: 'c', deletionTimestamp: new Date() } }),
      node('d'),
      node('e'),
      nodeState({ metadata: { name: 'f' }, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] } }),
      // `=false` keeps a node, as upstream parses the label.
      nodeState({ metadata: { name: 'g', labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'false' } } }),
    ];
    const leases = ['a', 'b', 'c', 'd', 'f', 'g'].map((n) => lease(n)).concat([{ node: 'e', renewTimeMs: undefined }]);
    const result = owners(leases, nodes, services);
    expect(new Set(result.values())).toEqual(new Set(['d', 'g']));
    // A live speaker on a node object that does not exist (yet) announces nothing.
    expect(owners([lease('ghost')], [], services.slice(0, 1)).get('192.0.2.0')).toBeUndefined();
  });

  it('under externalTrafficPolicy Local picks only nodes with a ready endpoint, or none', () => {
    const local = svc('ns/local', ['192.0.2.77'], { trafficPolicy: 'Local', endpointNodes: ['node-3', 'node-4'] });
    const result = owners(names.map((n) => lease(n)), names.map((n) => node(n)), [local]);
    expect(['node-3', 'node-4']).toContain(result.get('192.0.2.77'));
    const expected = rankNodes(['node-3', 'node-4'], '192.0.2.77')[0];
    expect(result.get('192.0.2.77')).toBe(expected);
    const none = owners(names.map((n) => lease(n)), names.map((n) => node(n)), [{ ...local, endpointNodes: [] }]);
    expect(none.get('192.0.2.77')).toBeUndefined();
  });

  it('announces a shared address from one node, listing every Service on it', () => {
    const result = addressOwners({
      leases: names.map((n) => lease(n)),
      nodes: names.map((n) => node(n)),
      services: [svc('ns/tcp', ['192.0.2.5']), svc('ns/udp', ['192.0.2.5']), svc('ns/dual', ['192.0.2.6', '2001:db8::6'])],
      nowMs: NOW,
      lapseMs: LAPSE,
    });
    expect(result.map((o) => [o.ip, o.services])).toEqual([
      ['192.0.2.5', ['ns/tcp', 'ns/udp']],
      ['192.0.2.6', ['ns/dual']],
      ['2001:db8::6', ['ns/dual']],
    ]);
    expect(result.every((o) => o.node !== undefined)).toBe(true);
  });

  it('knows when the next Lease lapses', () => {
    expect(nextLapseMs([lease('a', 100), lease('b', 1000), { node: 'c', renewTimeMs: undefined }, lease('d', 5000)], NOW, LAPSE)).toBe(NOW + 500);
    expect(nextLapseMs([lease('d', 5000)], NOW, LAPSE)).toBeUndefined();
  });
});

class FakeEffects implements NetEffects {
  readonly addresses = new Set<string>();
  readonly log: string[] = [];
  failAdd = new Set<string>();
  async readiness(addresses: string[]) {
    return { ready: true as const, interfaces: new Map(addresses.map((a) => [a, 'eth0'])) };
  }
  async listVIPs() {
    return [...this.addresses];
  }
  async addVIP(ip: string) {
    if (this.failAdd.has(ip)) throw new Error('RTNETLINK answers: Operation not permitted');
    if (!this.addresses.has(ip)) this.log.push(`add ${ip}`);
    this.addresses.add(ip);
  }
  async removeVIP(ip: string) {
    this.log.push(`del ${ip}`);
    this.addresses.delete(ip);
  }
  async announce(ip: string) {
    this.log.push(`announce ${ip}`);
  }
}

describe('announcer', () => {
  it('adds and announces what it owns at once, repeats on schedule, removes leftovers and lost addresses', async () => {
    let now = 0;
    const effects = new FakeEffects();
    effects.addresses.add('198.51.100.9'); // left by a crashed predecessor
    const announcer = new Announcer(effects, silentLogger(), { now: () => now });
    expect(await announcer.converge(['192.0.2.1'])).toEqual({ added: ['192.0.2.1'], removed: ['198.51.100.9'] });
    expect(effects.log).toEqual(['del 198.51.100.9', 'add 192.0.2.1', 'announce 192.0.2.1']);
    for (const at of ANNOUNCE_SCHEDULE_MS.slice(1)) {
      now = at;
      await announcer.converge(['192.0.2.1']);
    }
    now = 60_000;
    expect(await announcer.announceDue()).toBeUndefined();
    expect(effects.log.filter((l) => l.startsWith('announce'))).toHaveLength(ANNOUNCE_SCHEDULE_MS.length);
    expect(await announcer.converge([])).toEqual({ added: [], removed: ['192.0.2.1'] });
    expect(effects.addresses.size).toBe(0);
    expect(announcer.held()).toEqual([]);
  });

  it('keeps going when one address fails, and retries it on the next pass', async () => {
    const effects = new FakeEffects();
    effects.failAdd.add('192.0.2.2');
    const announcer = new Announcer(effects, silentLogger());
    expect((await announcer.converge(['192.0.2.1', '192.0.2.2'])).added).toEqual(['192.0.2.1']);
    effects.failAdd.clear();
    expect((await announcer.converge(['192.0.2.1', '192.0.2.2'])).added).toEqual(['192.0.2.2']);
    await announcer.releaseAll();
    expect(effects.addresses.size).toBe(0);
  });

  it('notices an address that vanished (expired) and re-adds and re-announces it', async () => {
    const effects = new FakeEffects();
    const announcer = new Announcer(effects, silentLogger());
    await announcer.converge(['192.0.2.1']);
    effects.addresses.clear();
    await announcer.converge(['192.0.2.1']);
    expect(effects.log.filter((l) => l === 'add 192.0.2.1')).toHaveLength(2);
  });
});

describe('renewal observer (liveness on the local clock)', () => {
  const at = (ms: number) => new Date(ms).toISOString();

  it('dates a first-seen Lease by its renewTime, never in the future, and later renewals by when they were seen', () => {
    const observer = new RenewalObserver();
    // node-b's clock runs 10 s ahead: its first renewTime is clamped to now.
    expect(observer.observe([{ node: 'a', renewTime: at(900) }, { node: 'b', renewTime: at(11_000) }], 1000)).toEqual([
      { node: 'a', renewTimeMs: 900 },
      { node: 'b', renewTimeMs: 1000 },
    ]);
    // Unchanged renewTimes keep their date: they lapse on our clock.
    expect(observer.observe([{ node: 'a', renewTime: at(900) }, { node: 'b', renewTime: at(11_000) }], 2000)).toEqual([
      { node: 'a', renewTimeMs: 900 },
      { node: 'b', renewTimeMs: 1000 },
    ]);
    // A new renewal counts from when it is seen, whatever its writer's clock says.
    expect(observer.observe([{ node: 'a', renewTime: new Date(1900) }, { node: 'b', renewTime: at(12_000) }], 2100)).toEqual([
      { node: 'a', renewTimeMs: 2100 },
      { node: 'b', renewTimeMs: 2100 },
    ]);
  });

  it('forgets deleted Leases and skips Leases never renewed', () => {
    const observer = new RenewalObserver();
    observer.observe([{ node: 'a', renewTime: at(100) }], 200);
    expect(observer.observe([{ node: 'c', renewTime: undefined }], 300)).toEqual([]);
    // a comes back (new speaker): dated by its renewTime again, as a first sight.
    expect(observer.observe([{ node: 'a', renewTime: at(50) }], 400)).toEqual([{ node: 'a', renewTimeMs: 50 }]);
  });
});
