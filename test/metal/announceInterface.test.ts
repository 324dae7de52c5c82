// The speaker's interface choice (pure): --interface as given, or the interface of the route
// towards each address, and when the node cannot announce at all.
import { describe, expect, it } from 'vitest';
import { announceReadiness, routeInterface, type LinkEntry, type RouteEntry } from '../../src/speaker/announceInterface.js';

const up = (name: string): LinkEntry => ({ name, up: true });
const down = (name: string): LinkEntry => ({ name, up: false });
const LINKS = [up('eth0'), up('eth1'), up('bond0')];
// What `ip -j route show table main` prints: a default route over eth1, the node's own segment on
// eth0, a more specific route over bond0, a blackhole.
const v4 = (r: Omit<RouteEntry, 'family'>): RouteEntry => ({ family: 'IPv4', ...r });
const v6 = (r: Omit<RouteEntry, 'family'>): RouteEntry => ({ family: 'IPv6', ...r });
const ROUTES: RouteEntry[] = [
  v4({ dst: 'default', gateway: '203.0.113.1', dev: 'eth1', flags: [] }),
  v4({ dst: '198.51.100.0/24', dev: 'eth0', flags: [] }),
  v4({ dst: '198.51.100.128/25', dev: 'bond0', metric: 100, flags: [] }),
  v4({ dst: '198.51.100.128/25', dev: 'eth1', metric: 50, flags: [] }),
  v4({ type: 'blackhole', dst: '10.9.0.0/16', flags: [] }),
  v6({ dst: '2001:db8:100::/64', dev: 'eth0', metric: 256, flags: [] }),
  v6({ dst: 'default', dev: 'eth1', metric: 1024, flags: [] }),
];

describe('routeInterface', () => {
  it('follows the longest matching prefix, as the kernel does, not the default route', () => {
    expect(routeInterface(ROUTES, LINKS, '198.51.100.20')).toBe('eth0');
    expect(routeInterface(ROUTES, LINKS, '192.0.2.7')).toBe('eth1');
  });

  it('breaks a tie of prefix length by the lowest metric', () => {
    expect(routeInterface(ROUTES, LINKS, '198.51.100.200')).toBe('eth1');
    expect(routeInterface(ROUTES, [up('eth0'), up('bond0'), down('eth1')], '198.51.100.200')).toBe('bond0');
  });

  it('matches each address against routes of its own family only (both print "default")', () => {
    expect(routeInterface(ROUTES, LINKS, '2001:db8:100::202')).toBe('eth0');
    expect(routeInterface(ROUTES, LINKS, '2001:db8:999::1')).toBe('eth1');
    const onlyV6Default = ROUTES.filter((r) => !(r.dst === 'default' && r.family === 'IPv4'));
    expect(routeInterface(onlyV6Default, LINKS, '192.0.2.7')).toBeUndefined();
    expect(routeInterface(ROUTES.filter((r) => r.family === 'IPv4'), LINKS, '2001:db8:999::1')).toBeUndefined();
  });

  it('skips routes that reach nothing: no device, link down, flagged linkdown', () => {
    // The blackhole is more specific than the default route but sends nothing anywhere.
    expect(routeInterface(ROUTES, LINKS, '10.9.1.1')).toBe('eth1');
    expect(routeInterface(ROUTES, [up('eth0'), up('bond0'), down('eth1')], '10.9.1.1')).toBeUndefined();
    expect(routeInterface([v4({ dst: '198.51.100.0/24', dev: 'eth0', flags: ['linkdown'] })], LINKS, '198.51.100.20')).toBeUndefined();
    expect(routeInterface(ROUTES, LINKS, 'not-an-ip')).toBeUndefined();
  });

  it('takes a host route written without a length', () => {
    expect(routeInterface([v4({ dst: '198.51.100.77', dev: 'bond0' }), ...ROUTES], LINKS, '198.51.100.77')).toBe('bond0');
  });
});

describe('announceReadiness', () => {
  it('with --interface: every address goes there while it exists and is up', () => {
    const answer = announceReadiness({ configured: 'eth0', links: LINKS, routes: [], addresses: ['198.51.100.1', '192.0.2.1'] });
    expect(answer).toEqual({ ready: true, interfaces: new Map([['198.51.100.1', 'eth0'], ['192.0.2.1', 'eth0']]) });
  });

  it('with --interface: not ready when it does not exist or is down, whatever the routes say', () => {
    expect(announceReadiness({ configured: 'eth9', links: LINKS, routes: ROUTES, addresses: [] })).toEqual({ ready: false, reason: 'interface eth9 does not exist' });
    expect(announceReadiness({ configured: 'eth0', links: [down('eth0')], routes: ROUTES, addresses: ['198.51.100.1'] })).toEqual({ ready: false, reason: 'interface eth0 is down' });
  });

  it('without: each address on the interface of its route', () => {
    const answer = announceReadiness({ configured: undefined, links: LINKS, routes: ROUTES, addresses: ['198.51.100.20', '192.0.2.7', '2001:db8:100::202'] });
    expect(answer).toEqual({ ready: true, interfaces: new Map([['198.51.100.20', 'eth0'], ['192.0.2.7', 'eth1'], ['2001:db8:100::202', 'eth0']]) });
    expect(announceReadiness({ configured: undefined, links: [], routes: [], addresses: [] })).toEqual({ ready: true, interfaces: new Map() });
  });

  it('without: not ready when any address has no usable route, naming them', () => {
    const routes = ROUTES.filter((r) => r.dst !== 'default');
    expect(announceReadiness({ configured: undefined, links: LINKS, routes, addresses: ['198.51.100.20', '2001:db8:999::1', '192.0.2.7'] })).toEqual({
      ready: false,
      reason: 'no route over an interface that is up towards 192.0.2.7, 2001:db8:999::1',
    });
  });

  it('L2Advertisement interfaces: the route is chosen among the listed links only; a configured interface outside the list cannot carry the address', () => {
    // 198.51.100.200's best route is over eth1 (metric 50); listed bond0 only, it goes to bond0.
    const allowed = new Map([['198.51.100.200', ['bond0']]]);
    expect(announceReadiness({ configured: undefined, links: LINKS, routes: ROUTES, addresses: ['198.51.100.200', '198.51.100.20'], allowed })).toEqual({
      ready: true,
      interfaces: new Map([['198.51.100.200', 'bond0'], ['198.51.100.20', 'eth0']]),
    });
    expect(announceReadiness({ configured: undefined, links: LINKS, routes: ROUTES, addresses: ['192.0.2.7'], allowed: new Map([['192.0.2.7', ['eth0']]]) })).toEqual({
      ready: false,
      reason: 'no route over an interface that is up (and that its L2Advertisements list) towards 192.0.2.7',
    });
    expect(announceReadiness({ configured: 'eth0', links: LINKS, routes: [], addresses: ['198.51.100.200'], allowed })).toEqual({
      ready: false,
      reason: 'the L2Advertisements of 198.51.100.200 do not list interface eth0',
    });
  });
});
