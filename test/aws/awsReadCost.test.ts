// What a resync reads (issue 16, read cost): a steady-state resync learns what drifted from
// list-level reads shared by every Service; listeners, targets and attributes are read on the deep
// cycle, and at once after any change of the Service or any write. moto behind the validating proxy;
// the read cache's clock is the test's, so the cycles are crossed without waiting.
import {
  DeleteListenerCommand,
  DescribeListenersCommand,
  DescribeTargetGroupAttributesCommand,
  ModifyTargetGroupAttributesCommand,
  ModifyTargetGroupCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNoop, type DesiredLoadBalancer } from '../../providers/provider.js';
import type { AwsProvider } from '../../providers/aws/index.js';
import { converge, inventory, makeService, ownedBy, startAwsHarness, type AwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness();
});
afterAll(async () => {
  await h?.stop();
});

const DEEP_SECONDS = 600;
const SNAPSHOT_SECONDS = 30;

async function cachedProvider(clock: { now: number }): Promise<AwsProvider> {
  // The environment cache runs on real time: long enough that it does not read during the test.
  return h.newProvider({ now: () => clock.now }, { deepReadIntervalSeconds: DEEP_SECONDS, listSnapshotSeconds: SNAPSHOT_SECONDS, environmentCacheSeconds: 3600 });
}

/** One resync of the Services as the controller runs it: observe, diff, and apply what is planned. */
async function resync(provider: AwsProvider, services: DesiredLoadBalancer[]): Promise<string[]> {
  const kinds: string[] = [];
  for (const svc of services) {
    const plan = provider.diff(await provider.observe(svc.ref, svc), svc);
    kinds.push(...plan.actions.filter((a) => a.mutating).map((a) => a.kind));
    if (!isNoop(plan)) await provider.apply(plan);
  }
  return kinds;
}

async function listenersOf(uid: string): Promise<{ arn: string; port: number }[]> {
  const lb = (await inventory(h)).loadBalancers.find(ownedBy(uid))!;
  const res = await h.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lb.arn }));
  return (res.Listeners ?? []).map((l) => ({ arn: l.ListenerArn!, port: l.Port! }));
}

/** The NLBs, target groups and security groups of a Service that AWS still holds, by name. */
async function leftOf(uid: string): Promise<string[]> {
  const inv = await inventory(h);
  return [...inv.loadBalancers, ...inv.targetGroups, ...inv.securityGroups].filter(ownedBy(uid)).map((r) => r.name);
}

/** Calls since the last reset, by operation. */
function byOperation(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of h.calls.calls) counts[c.operation] = (counts[c.operation] ?? 0) + 1;
  return counts;
}

describe('aws read cost', () => {
  it('a steady-state resync of 25 Services reads every NLB, target group and tag list-wise, once for all; the deep cycle adds listeners, targets and attributes alone', async () => {
    const clock = { now: 1_000_000 };
    const provider = await cachedProvider(clock);
    const services = Array.from({ length: 25 }, (_, i) => makeService(h, { name: `steady-${i}` }));
    for (const svc of services) await converge(provider, svc);
    // What the creates wrote stands for a read of it: the resync right after reads nothing.
    h.calls.reset();
    expect(await resync(provider, services)).toEqual([]);
    expect(h.calls.calls).toEqual([]);

    clock.now += (SNAPSHOT_SECONDS + 1) * 1000;
    h.calls.reset();
    expect(await resync(provider, services)).toEqual([]);
    // One page each of anchors, NLBs and target groups (by name they would take 2 calls of 20 per
    // 25 Services), and DescribeTags 20 ARNs a call for 25 NLBs and 25 groups: nothing per NLB.
    // The kept records of the creates matched what AWS lists (else this would read deeply).
    expect(byOperation()).toEqual({ DescribeSecurityGroups: 1, DescribeLoadBalancers: 1, DescribeTargetGroups: 1, DescribeTags: 3 });
    expect(h.calls.count({ mutating: true })).toBe(0);

    // Within the snapshot's life, another resync reads nothing at all.
    h.calls.reset();
    expect(await resync(provider, services)).toEqual([]);
    expect(h.calls.calls).toEqual([]);

    // Past the deep cycle, every Service reads its listeners, targets and attributes; the rest
    // comes from the same list-level reads as before.
    clock.now += DEEP_SECONDS * 1000;
    h.calls.reset();
    expect(await resync(provider, services)).toEqual([]);
    expect(byOperation()).toEqual({
      DescribeSecurityGroups: 1,
      DescribeLoadBalancers: 1,
      DescribeTargetGroups: 1,
      DescribeTags: 3,
      DescribeListeners: 25,
      DescribeTargetHealth: 25,
      DescribeTargetGroupAttributes: 25,
    });

    // A restart reads the same way: list-level once for all, then each Service's deep reads.
    const restarted = await cachedProvider(clock);
    await restarted.observe(services[0]!.ref, services[0]); // the environment cache, read once
    h.calls.reset();
    expect(await resync(restarted, services.slice(1))).toEqual([]);
    expect(byOperation()).toEqual({ DescribeListeners: 24, DescribeTargetHealth: 24, DescribeTargetGroupAttributes: 24 });
    await restarted.stop?.();
  });

  it('a create reads only what it cannot know, and a delete works from what it wrote', async () => {
    const clock = { now: 1_000_000 };
    const provider = await cachedProvider(clock);
    const warm = makeService(h, { name: 'warm' });
    await converge(provider, warm); // the environment cache and the backend group exist
    const svc = makeService(h, { name: 'create-reads' });
    clock.now += (SNAPSHOT_SECONDS + 1) * 1000;
    h.calls.reset();
    await converge(provider, svc);
    // The anchors (a page shared by every first look while the snapshot is current: none for this
    // Service, so nothing exists), the backend group (a sweep may have deleted it), the target
    // group's name (AWS would answer another's with the same settings as if made), and the NLB's
    // state once more (provisioning when made). Nothing made is read back.
    expect(byOperation()).toMatchObject({ DescribeSecurityGroups: 2, DescribeTargetGroups: 1, DescribeLoadBalancers: 1 });
    expect(h.calls.count({ mutating: false })).toBe(4);

    h.calls.reset();
    expect(await provider.delete(svc.ref)).toEqual({ state: 'deleted' });
    expect(h.calls.count({ mutating: false })).toBe(0);
    expect(await leftOf(svc.ref.uid)).toEqual([]);

    // Without a kept read (a restart), the delete reads what the anchor leads to.
    const restarted = await cachedProvider(clock);
    h.calls.reset();
    expect(await restarted.delete(warm.ref)).toEqual({ state: 'deleted' });
    expect(h.calls.count({ operation: 'DescribeSecurityGroups' })).toBe(1);
    expect(h.calls.count({ operation: 'DescribeTargetHealth' })).toBe(0);
    expect(await leftOf(warm.ref.uid)).toEqual([]);
    await restarted.stop?.();
  });

  it('a write that fails makes the next observe read the Service afresh, on its own', async () => {
    const clock = { now: 1_000_000 };
    const provider = await cachedProvider(clock);
    const svc = makeService(h, { name: 'failed-write' });
    await converge(provider, svc);
    svc.nodes = svc.nodes.slice(1);
    h.proxy.failWhen = (r) => r.action === 'DeregisterTargets';
    try {
      await expect(resync(provider, [svc])).rejects.toThrow();
    } finally {
      h.proxy.failWhen = undefined;
    }
    // Within the snapshot's life, yet read again: the failed call may have changed something.
    h.calls.reset();
    expect(await resync(provider, [svc])).toEqual(['deregisterTargets']);
    expect(byOperation()).toMatchObject({ DescribeSecurityGroups: 1, DescribeLoadBalancers: 1, DescribeListeners: 1, DescribeTargetHealth: 1, DescribeTags: 1 });
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.targets).toHaveLength(svc.nodes.length);
    // That write went through, and a membership change is recorded: nothing is read back.
    h.calls.reset();
    expect(await resync(provider, [svc])).toEqual([]);
    expect(h.calls.calls).toEqual([]);
  });

  it('a target group attribute changed behind our back is corrected after the deep cycle', async () => {
    const clock = { now: 1_000_000 };
    const provider = await cachedProvider(clock);
    const svc = makeService(h, { name: 'attrdrift' });
    await converge(provider, svc);
    const tg = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    await h.elbv2.send(new ModifyTargetGroupAttributesCommand({ TargetGroupArn: tg.arn, Attributes: [{ Key: 'stickiness.enabled', Value: 'true' }, { Key: 'stickiness.type', Value: 'source_ip' }] }));
    clock.now += (SNAPSHOT_SECONDS + 1) * 1000;
    // List-level reads cannot see attributes.
    expect(await resync(provider, [svc])).toEqual([]);
    clock.now += DEEP_SECONDS * 1000;
    expect(await resync(provider, [svc])).toEqual(['modifyTargetGroupAttributes']);
    const res = await h.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: tg.arn }));
    expect(res.Attributes?.find((a) => a.Key === 'stickiness.enabled')?.Value).toBe('false');
  });

  it('a listener deleted behind our back is restored after the deep cycle, and at once after an event on the Service', async () => {
    const clock = { now: 1_000_000 };
    const provider = await cachedProvider(clock);
    const svc = makeService(h, { name: 'drift' });
    await converge(provider, svc);
    expect(await resync(provider, [svc])).toEqual([]);

    await h.elbv2.send(new DeleteListenerCommand({ ListenerArn: (await listenersOf(svc.ref.uid))[0]!.arn }));
    clock.now += (SNAPSHOT_SECONDS + 1) * 1000;
    // List-level reads cannot see a listener: until the deep cycle, the kept read stands.
    expect(await resync(provider, [svc])).toEqual([]);
    expect(await listenersOf(svc.ref.uid)).toEqual([]);

    clock.now += DEEP_SECONDS * 1000;
    expect(await resync(provider, [svc])).toEqual(['createListener']);
    expect((await listenersOf(svc.ref.uid)).map((l) => l.port)).toEqual([80]);
    // The write made the kept read stale: the next resync reads afresh rather than create it twice.
    expect(await resync(provider, [svc])).toEqual([]);

    // Again, and now a node leaves: the event reads the Service fully at once.
    await h.elbv2.send(new DeleteListenerCommand({ ListenerArn: (await listenersOf(svc.ref.uid))[0]!.arn }));
    clock.now += (SNAPSHOT_SECONDS + 1) * 1000;
    expect(await resync(provider, [svc])).toEqual([]);
    svc.nodes = svc.nodes.slice(1);
    expect((await resync(provider, [svc])).sort()).toEqual(['createListener', 'deregisterTargets']);
    expect((await listenersOf(svc.ref.uid)).map((l) => l.port)).toEqual([80]);
    // What was written is read back, not taken from the read before the write (which lacked the listener).
    expect(await resync(provider, [svc])).toEqual([]);
  });

  it('drift that list-level reads show (a health check changed behind our back) is repaired at the next resync', async () => {
    const clock = { now: 1_000_000 };
    const provider = await cachedProvider(clock);
    const svc = makeService(h, { name: 'listdrift' });
    await converge(provider, svc);
    expect(await resync(provider, [svc])).toEqual([]);

    const tg = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    await h.elbv2.send(new ModifyTargetGroupCommand({ TargetGroupArn: tg.arn, HealthCheckPort: '31999' }));
    clock.now += (SNAPSHOT_SECONDS + 1) * 1000;
    expect(await resync(provider, [svc])).toEqual(['modifyTargetGroup']);
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.healthCheck.port).toBe('traffic-port');
  });
});
