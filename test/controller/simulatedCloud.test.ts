// The simulated cloud and its provider: address ownership, idempotent creation, throttling and
// faults as a real cloud answers them, and a plan that touches only membership on node changes.
import { describe, expect, it } from 'vitest';
import type { DesiredLoadBalancer } from '../../providers/provider.js';
import { AddressPool } from '../../providers/simulated/addressPool.js';
import { CloudError, SimulatedCloud } from '../../providers/simulated/cloud.js';
import { simulatedConfigSchema } from '../../providers/simulated/config.js';
import { SimulatedProvider } from '../../providers/simulated/provider.js';
import { desiredFixture } from '../support/desiredFixture.js';

const attrs = { healthCheck: { protocol: 'TCP' as const, port: 80 }, sourceRanges: [], idleTimeoutSeconds: 60 };

describe('AddressPool', () => {
  it('allocates inside the CIDR, skips static and used addresses, and knows what it owns', () => {
    const pool = new AddressPool('192.0.2.0/30', ['198.51.100.7']);
    expect(pool.owns('192.0.2.1')).toBe(true);
    expect(pool.owns('192.0.2.0')).toBe(false); // network address
    expect(pool.owns('198.51.100.7')).toBe(true);
    expect(pool.owns('203.0.113.1')).toBe(false);
    expect(pool.allocate()).toBe('192.0.2.1');
    expect(pool.allocate()).toBe('192.0.2.2');
    expect(pool.allocate()).toBeUndefined(); // /30 has two usable addresses
    pool.release('192.0.2.1');
    expect(pool.allocate()).toBe('192.0.2.1');
    expect(pool.claim('198.51.100.7')).toBe(true);
    expect(pool.claim('198.51.100.7')).toBe(false);
  });
});

describe('SimulatedCloud', () => {
  it('creates idempotently by client token and refuses addresses it does not own', async () => {
    const cloud = new SimulatedCloud({ addressPool: '192.0.2.0/24', staticAddresses: ['198.51.100.7'] });
    const input = { clientToken: 't1', tags: {}, listeners: [], targets: [], ...attrs };
    const a = await cloud.createLoadBalancer(input);
    const b = await cloud.createLoadBalancer(input);
    expect(b.id).toBe(a.id);
    expect(cloud.snapshot()).toHaveLength(1);
    await expect(cloud.createLoadBalancer({ ...input, clientToken: 't2', requestedAddress: '203.0.113.5' })).rejects.toMatchObject({ code: 'AddressNotOwned' });
    const pinned = await cloud.createLoadBalancer({ ...input, clientToken: 't3', requestedAddress: '198.51.100.7' });
    expect(pinned.address).toBe('198.51.100.7');
    await expect(cloud.createLoadBalancer({ ...input, clientToken: 't4', requestedAddress: '198.51.100.7' })).rejects.toMatchObject({ code: 'AddressInUse' });
  });

  it('throttles mutating calls over its rate and counts every call', async () => {
    let now = 0;
    const cloud = new SimulatedCloud({ addressPool: '192.0.2.0/24', mutatingCallsPerSecond: 2, now: () => now });
    const lb = await cloud.createLoadBalancer({ clientToken: 't', tags: {}, listeners: [], targets: [], ...attrs });
    await cloud.registerTargets(lb.id, [{ name: 'n1', ip: '10.0.0.1' }]);
    const third = await cloud.registerTargets(lb.id, [{ name: 'n2', ip: '10.0.0.2' }]).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(CloudError);
    expect((third as CloudError).code).toBe('Throttling');
    await cloud.describeLoadBalancers({ tags: {} }); // reads are not limited
    now += 1_000;
    await cloud.registerTargets(lb.id, [{ name: 'n2', ip: '10.0.0.2' }]);
    expect(cloud.stats()).toMatchObject({ total: 5, mutating: 4, throttled: 1, errors: 0 });
  });
});

describe('SimulatedProvider diff', () => {
  const provider = new SimulatedProvider({ config: simulatedConfigSchema.parse({ type: 'simulated', addressPool: '192.0.2.0/24' }), clusterName: 'c', record: () => {} });
  const desired = (nodes: string[]): DesiredLoadBalancer =>
    desiredFixture({
      ref: { namespace: 'ns', name: 'web', uid: 'u1' },
      clusterName: 'c',
      ports: [{ name: '', protocol: 'TCP', port: 80, nodePort: 30080 }],
      nodes: nodes.map((n, i) => ({ name: n, internalIPs: [`10.0.0.${i + 1}`], externalIPs: [], labels: {} })),
    });

  it('plans a node change as membership-only register/deregister steps', async () => {
    const first = provider.diff(undefined, desired(['a', 'b']));
    expect(first.actions.map((a) => a.kind)).toEqual(['createLoadBalancer']);
    await provider.apply(first);
    const observed = await provider.observe({ namespace: 'ns', name: 'web', uid: 'u1' });
    expect(provider.diff(observed, desired(['a', 'b'])).actions).toEqual([]);
    const change = provider.diff(observed, desired(['b', 'c']));
    expect(change.actions.map((a) => [a.kind, a.membershipOnly])).toEqual([
      ['registerTargets', true],
      ['deregisterTargets', true],
    ]);
  });
});
