// AWS's quotas, hit before the call that would fail: each is a ServiceConfigError (a Warning Event)
// naming what to change, and nothing is created. The fault proxy enforces the same quotas
// (test/aws/support/awsRules.ts), so a provider that only learns of them from AWS fails these tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceConfigError, type DesiredLoadBalancer } from '../../providers/provider.js';
import type { AwsProvider } from '../../providers/aws/index.js';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { converge, isSteady, makeService, startAwsHarness, type AwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness({ clusterName: 'quota-cluster' });
});
afterAll(async () => {
  await h?.stop();
});

async function refusedBeforeAnyCreate(svc: DesiredLoadBalancer, provider: AwsProvider = h.provider): Promise<ServiceConfigError> {
  h.proxy.requests.length = 0;
  const error = await converge(provider, svc).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ServiceConfigError);
  expect(h.proxy.requests.filter((r) => r.action.startsWith('Create') || r.action.startsWith('Authorize'))).toEqual([]);
  return error as ServiceConfigError;
}

const ports = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `p${i}`, protocol: 'TCP' as const, port: 8000 + i, nodePort: 31000 + i }));

describe('aws quotas', () => {
  it('3 ports × 21 source ranges (63 rules and the path MTU rule, over 60 per family) is refused naming spec.loadBalancerSourceRanges', async () => {
    const sourceRanges = Array.from({ length: 21 }, (_, i) => `192.0.${i}.0/24`);
    const error = await refusedBeforeAnyCreate(makeService(h, { ports: ports(3), sourceRanges }));
    expect(error.field).toBe('spec.loadBalancerSourceRanges');
    expect(error.message).toContain('64 IPv4 rules');
  });

  it('the same ranges on 2 ports (42 rules and the path MTU rule) fit, and AWS accepts them', async () => {
    const sourceRanges = Array.from({ length: 21 }, (_, i) => `192.0.${i}.0/24`);
    h.proxy.requests.length = 0;
    await converge(h.provider, makeService(h, { ports: ports(2), sourceRanges }));
    expect(h.proxy.requests.filter((r) => r.refused)).toEqual([]);
  });

  it('47 additional tags (54 with ours, over 50 per resource) are refused naming the annotation', async () => {
    const tags = Array.from({ length: 47 }, (_, i) => `t${i}=v`).join(',');
    const error = await refusedBeforeAnyCreate(makeService(h, { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags': tags } }));
    expect(error.field).toBe('service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags');
    expect(error.message).toContain('at most 43');
  });

  describe('with lowered quotas (accounts differ; the proxy is set to the same)', () => {
    it('more ports than listeners per NLB are refused naming spec.ports', async () => {
      h.proxy.rules.state.quotas.listenersPerLoadBalancer = 2;
      const provider = await h.newProvider({}, { quotas: { listenersPerLoadBalancer: 2 } });
      try {
        const error = await refusedBeforeAnyCreate(makeService(h, { ports: ports(3) }), provider);
        expect(error.field).toBe('spec.ports');
        expect(error.message).toContain('at most 2');
      } finally {
        h.proxy.rules.state.quotas.listenersPerLoadBalancer = 50;
        await provider.stop?.();
      }
    });

    it('more targets in a zone than an NLB takes are refused, counting each target group', async () => {
      h.proxy.rules.state.quotas.targetsPerZonePerLoadBalancer = 1;
      const provider = await h.newProvider({}, { quotas: { targetsPerZonePerLoadBalancer: 1 } });
      try {
        const error = await refusedBeforeAnyCreate(makeService(h, { ports: ports(2) }), provider);
        expect(error.field).toBe('spec.ports');
        expect(error.message).toMatch(/1 nodes in zone us-east-1[abc] × 2 ports make 2 targets/);
      } finally {
        h.proxy.rules.state.quotas.targetsPerZonePerLoadBalancer = 500;
        await provider.stop?.();
      }
    });

    it('a new NLB when the region holds as many as the account may is refused naming spec.type; an existing one keeps converging', async () => {
      const existing = ((await h.elbv2.send(new DescribeLoadBalancersCommand({}))).LoadBalancers ?? []).length;
      const limit = existing + 1;
      h.proxy.rules.state.quotas.loadBalancersPerRegion = limit;
      const provider = await h.newProvider({}, { quotas: { loadBalancersPerRegion: limit } });
      try {
        const first = makeService(h);
        await converge(provider, first);
        // The count this provider read is older than its own create: AWS refuses, and the answer is the same.
        h.proxy.requests.length = 0;
        const stale = await converge(provider, makeService(h)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(stale).toBeInstanceOf(ServiceConfigError);
        expect((stale as ServiceConfigError).field).toBe('spec.type');
        // Read afresh, the count refuses the next one before any create.
        const error = await refusedBeforeAnyCreate(makeService(h), provider);
        expect(error.field).toBe('spec.type');
        expect(error.message).toContain('Network Load Balancers per Region');
        expect(await isSteady(provider, first)).toBe(true);
      } finally {
        h.proxy.rules.state.quotas.loadBalancersPerRegion = 50;
        await provider.stop?.();
      }
    });
  });
});
