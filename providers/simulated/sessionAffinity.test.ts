// The simulated cloud records spec.sessionAffinity on its load balancer (for the playground and
// tests); a change is an in-place attribute update, not a new load balancer.
import { describe, expect, it } from 'vitest';
import type { DesiredLoadBalancer } from '../provider.js';
import { desiredFixture } from '../../test/support/desiredFixture.js';
import { simulatedConfigSchema } from './config.js';
import { SimulatedProvider } from './provider.js';

const ref = { namespace: 'ns', name: 'sticky', uid: 'u-sticky' };
const desired = (extra: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer =>
  desiredFixture({ ref, clusterName: 'c', nodes: [{ name: 'a', internalIPs: ['10.0.0.1'], externalIPs: [], labels: {} }], ...extra });

async function converge(provider: SimulatedProvider, d: DesiredLoadBalancer): Promise<string[]> {
  const plan = provider.diff(await provider.observe(ref), d);
  const result = await provider.apply(plan);
  expect(result.state).toBe('ready');
  return plan.actions.map((a) => a.description);
}

describe('simulated provider: session affinity', () => {
  it('records ClientIP with its timeout at creation, switches it in place, and is steady after', async () => {
    const provider = new SimulatedProvider({ config: simulatedConfigSchema.parse({ type: 'simulated', addressPool: '192.0.2.0/24' }), clusterName: 'c', record: () => {} });
    await converge(provider, desired({ sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 600 }));
    const [created] = provider.cloud.snapshot();
    expect(created!.sessionAffinity).toEqual({ type: 'ClientIP', timeoutSeconds: 600 });
    expect(provider.diff(await provider.observe(ref), desired({ sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 600 })).actions).toEqual([]);

    const changes = await converge(provider, desired({ sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 60 }));
    expect(changes).toEqual([expect.stringMatching(/session affinity ClientIP\/600s -> ClientIP\/60s$/)]);
    expect(await converge(provider, desired())).toEqual([expect.stringMatching(/session affinity ClientIP\/60s -> None$/)]);
    const after = provider.cloud.snapshot();
    expect(after).toHaveLength(1);
    expect(after[0]!.id).toBe(created!.id);
    expect(after[0]!.sessionAffinity).toEqual({ type: 'None' });
    expect(provider.diff(await provider.observe(ref), desired()).actions).toEqual([]);
  });
});
