// Throttling: moto never throttles, so the fault proxy does, like AWS (Throttling for ELB,
// RequestLimitExceeded for EC2). The provider must converge without a call storm: the SDK does not
// retry behind our back, and the token buckets plus jittered backoff keep wasted calls bounded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { converge, inventory, makeService, startAwsHarness, type AwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness();
});
afterAll(async () => {
  await h?.stop();
});

describe('aws provider under throttling', () => {
  it('converges 8 Services through a throttling storm, every HTTP request accounted for, no retry storm', async () => {
    // Client buckets set above what the server allows (the ratio matters, not the absolute rates:
    // production is 3-50/s by action family; scaled up here to keep the test short).
    const bucket = { ratePerSecond: 40, burst: 40 };
    const provider = await h.newProvider({ retryTiming: { minTimeoutMs: 200, maxTimeoutMs: 3000 } }, { rateLimits: { registration: bucket, describe: bucket, modify: bucket, other: bucket, ec2: bucket } });
    h.proxy.setRateLimit({ perSecond: 20, burst: 10 });
    h.proxy.requests.length = 0;
    h.calls.reset();
    const services = Array.from({ length: 8 }, () => makeService(h));
    try {
      const results = await Promise.all(services.map((s) => converge(provider, s, 12)));
      expect(results.every((r) => r.result.state === 'ready')).toBe(true);
    } finally {
      h.proxy.setRateLimit(undefined);
    }
    const throttled = h.proxy.requests.filter((r) => r.throttled).length;
    const ok = h.proxy.requests.length - throttled;
    // Every request the proxy saw went through our accounting: the SDK made no hidden retries.
    expect(h.calls.calls.length).toBe(h.proxy.requests.length);
    expect(h.calls.count({ outcome: 'throttled' })).toBe(throttled);
    expect(throttled).toBeGreaterThan(0);
    console.log(`throttling storm: ${ok} useful calls, ${throttled} throttled`);
    // Backoff with jitter keeps the waste well under the useful work.
    expect(throttled).toBeLessThan(ok);

    const inv = await inventory(h);
    for (const s of services) {
      expect(inv.loadBalancers.filter((l) => l.tags['kube-lb-provisioner.io/service-uid'] === s.ref.uid)).toHaveLength(1);
      expect(inv.targetGroups.filter((t) => t.tags['kube-lb-provisioner.io/service-uid'] === s.ref.uid)[0]?.targets).toHaveLength(h.world.nodes.length);
    }
    await provider.stop?.();
  });

  it('retries a throttled mutating call and does not duplicate what it creates', async () => {
    let throttleNext = 3;
    h.proxy.throttleWhen = (r) => (r.action === 'CreateLoadBalancer' || r.action === 'CreateTargetGroup') && throttleNext-- > 0;
    const svc = makeService(h);
    try {
      await converge(h.provider, svc);
    } finally {
      h.proxy.throttleWhen = undefined;
    }
    expect(throttleNext).toBeLessThan(0);
    const inv = await inventory(h);
    expect(inv.loadBalancers.filter((l) => l.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid)).toHaveLength(1);
    expect(inv.targetGroups.filter((t) => t.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid)).toHaveLength(1);
  });
});
