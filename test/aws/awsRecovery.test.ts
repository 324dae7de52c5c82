// Crash safety and ownership: a crash before any step of create or delete leaves something the next
// run (a fresh provider, as after a restart) finishes with exactly one of each resource and no
// leak; a foreign NLB with our name is never touched.
import { DeleteSecurityGroupCommand, DescribeSecurityGroupRulesCommand, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { CreateLoadBalancerCommand, CreateTargetGroupCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAwsAnnotations } from '../../providers/aws/annotations.js';
import { placementOf } from '../../providers/aws/desiredStack.js';
import { AwsOwnershipConflictError } from '../../providers/aws/index.js';
import { loadBalancerName } from '../../providers/aws/names.js';
import { ServiceConfigError, type DesiredLoadBalancer } from '../../providers/provider.js';
import { converge, inventory, isSteady, makeService, startAwsHarness, type AwsHarness, type Inventory, ownedBy } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness();
});
afterAll(async () => {
  await h?.stop();
});


function holdings(inv: Inventory, uid: string) {
  const sgs = inv.securityGroups.filter(ownedBy(uid));
  const lbs = inv.loadBalancers.filter(ownedBy(uid));
  return {
    loadBalancers: lbs.length,
    targetGroups: inv.targetGroups.filter(ownedBy(uid)).length,
    listeners: inv.listeners.filter((l) => lbs.some((lb) => lb.name === l.lbName)).length,
    securityGroups: sgs.length,
    backendGroups: inv.backendGroups.length,
  };
}

const twoPorts = (): Partial<DesiredLoadBalancer> => ({
  sourceRanges: ['10.0.0.0/8'],
  ports: [
    { name: 'a', protocol: 'TCP', port: 80, nodePort: 30200 },
    { name: 'b', protocol: 'UDP', port: 90, nodePort: 30201 },
  ],
});

/** Removes the cluster's shared backend group, so the next create is a cluster's first (longest plan). */
async function removeBackend(): Promise<void> {
  for (const id of (await inventory(h)).backendGroups) {
    const rules = await h.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [h.world.nodeSecurityGroupId] }] }));
    const ids = (rules.SecurityGroupRules ?? []).filter((r) => r.ReferencedGroupInfo?.GroupId === id).map((r) => r.SecurityGroupRuleId!);
    if (ids.length > 0) await h.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: h.world.nodeSecurityGroupId, SecurityGroupRuleIds: ids }));
    await h.ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
  }
}

describe('aws provider crash safety', () => {
  it('finishes a create interrupted before any step, with exactly one of each resource', async () => {
    let steps = 0;
    for (let k = 0; k === 0 || k < steps; k++) {
      await removeBackend();
      const svc = makeService(h, twoPorts());
      const provider = await h.newProvider();
      steps = provider.diff(await provider.observe(svc.ref), svc).actions.length;
      await provider.stop?.();
      // security group, its rules, 2 target groups, backend group, NLB, 2 listeners, 2 registrations, node rules.
      expect(steps).toBe(11);
      const crashing = await h.newProvider({
        beforeStep: (index) => {
          if (index === k) throw new Error(`crash before step ${k}`);
        },
      });
      await expect(crashing.apply(crashing.diff(await crashing.observe(svc.ref), svc))).rejects.toThrow(`crash before step ${k}`);
      await crashing.stop?.();

      const restarted = await h.newProvider();
      const { result } = await converge(restarted, svc);
      expect(result.state).toBe('ready');
      expect(await isSteady(restarted, svc)).toBe(true);
      const held = holdings(await inventory(h), svc.ref.uid);
      // UDP on 90 and TCP on 80 -> two groups and listeners; one shared backend group for the cluster.
      expect(held, `crash before step ${k}`).toEqual({ loadBalancers: 1, targetGroups: 2, listeners: 2, securityGroups: 1, backendGroups: 1 });

      expect(await restarted.delete(svc.ref)).toEqual({ state: 'deleted' });
      expect(holdings(await inventory(h), svc.ref.uid)).toEqual({ loadBalancers: 0, targetGroups: 0, listeners: 0, securityGroups: 0, backendGroups: 1 });
      await restarted.stop?.();
    }
  });

  it('finishes a delete interrupted at each mutating call, and listOwned keeps reporting it until then', async () => {
    const mutating = /^(Delete|Revoke|Deregister)/;
    for (let k = 0; ; k++) {
      const svc = makeService(h, twoPorts());
      await converge(h.provider, svc);
      let seen = 0;
      h.proxy.failWhen = (r) => mutating.test(r.action) && seen++ === k;
      const outcome = await h.provider.delete(svc.ref).then(
        () => 'finished',
        () => 'crashed',
      );
      h.proxy.failWhen = undefined;
      if (outcome === 'finished') {
        expect(k).toBeGreaterThanOrEqual(4);
        break;
      }
      expect((await h.provider.listOwned()).map((r) => r.uid)).toContain(svc.ref.uid);
      const restarted = await h.newProvider();
      expect(await restarted.delete(svc.ref)).toEqual({ state: 'deleted' });
      expect(holdings(await inventory(h), svc.ref.uid), `crash at mutating call ${k}`).toEqual({ loadBalancers: 0, targetGroups: 0, listeners: 0, securityGroups: 0, backendGroups: 1 });
      expect((await restarted.listOwned()).map((r) => r.uid)).not.toContain(svc.ref.uid);
      await restarted.stop?.();
    }
  });

  it('the resync sweeps an owned target group no listener uses and no Service wants (after two sightings); wanted and foreign ones stay', async () => {
    const svc = makeService(h, { ports: [{ name: 'dns', protocol: 'TCP', port: 53, nodePort: 30353 }] });
    await converge(h.provider, svc);
    // What an interrupted protocol switch leaves: an owned group of the Service that nothing uses.
    // (Made directly: moto neither accepts ModifyListener to UDP/TCP_UDP nor clears a group's
    // LoadBalancerArns when a listener stops using it, so the switch itself cannot leave one here.)
    const tags = [
      { Key: `kubernetes.io/cluster/${h.clusterName}`, Value: 'owned' },
      { Key: 'kube-lb-provisioner.io/service-uid', Value: svc.ref.uid },
    ];
    await h.elbv2.send(new CreateTargetGroupCommand({ Name: 'k8s-left-over-53b', Protocol: 'TCP_UDP', Port: 30353, VpcId: h.world.vpcId, TargetType: 'instance', Tags: tags }));
    await h.elbv2.send(new CreateTargetGroupCommand({ Name: 'someone-elses', Protocol: 'TCP', Port: 80, VpcId: h.world.vpcId, TargetType: 'instance' }));
    // Another Service crashed mid-create: its group exists, no listener uses it yet, but it is wanted.
    const creating = makeService(h, { ports: [{ name: 'web', protocol: 'TCP', port: 8080, nodePort: 30808 }] });
    const crashed = await h.newProvider({
      beforeStep: (_, kind) => {
        if (kind === 'createLoadBalancer') throw new Error('crash before the NLB');
      },
    });
    await expect(converge(crashed, creating)).rejects.toThrow('crash before the NLB');
    await crashed.stop?.();

    const names = async () => (await inventory(h)).targetGroups.map((g) => g.name);
    const groupsOf = async (uid: string) => (await inventory(h)).targetGroups.filter(ownedBy(uid)).map((g) => g.name).sort();
    const svcGroups = (await groupsOf(svc.ref.uid)).filter((n) => n !== 'k8s-left-over-53b');
    const creatingGroups = await groupsOf(creating.ref.uid);
    expect(svcGroups).toHaveLength(1);
    expect(creatingGroups).toHaveLength(1);

    const sweeping = await h.newProvider({}, { targetGroupSweepAgeSeconds: 0 }, () => [svc, creating]);
    await sweeping.sweep(); // first sighting: only noted
    expect(await names()).toContain('k8s-left-over-53b');
    await sweeping.sweep();
    expect(await names()).not.toContain('k8s-left-over-53b');
    expect(await names()).toContain('someone-elses');
    expect(await groupsOf(svc.ref.uid)).toEqual(svcGroups);
    expect(await groupsOf(creating.ref.uid)).toEqual(creatingGroups);

    await converge(sweeping, creating);
    expect(await groupsOf(creating.ref.uid)).toEqual(creatingGroups);
    for (const s of [svc, creating]) expect(await sweeping.delete(s.ref)).toEqual({ state: 'deleted' });
    await sweeping.stop?.();
  });

  it('leaves a foreign, untagged NLB with the same name alone, and says why', async () => {
    const svc = makeService(h);
    const name = loadBalancerName(h.clusterName, svc.ref.uid, placementOf(svc, parseAwsAnnotations(svc.annotations)));
    const foreign = await h.elbv2.send(new CreateLoadBalancerCommand({ Name: name, Type: 'network', Subnets: Object.values(h.world.publicSubnets) }));
    const foreignArn = foreign.LoadBalancers![0]!.LoadBalancerArn!;

    await expect(converge(h.provider, svc)).rejects.toThrow(AwsOwnershipConflictError);
    // Only the user can fix it: a config error (Warning Event, slow end of the backoff), not a cloud error.
    await expect(converge(h.provider, svc)).rejects.toThrow(ServiceConfigError);
    await expect(converge(h.provider, svc)).rejects.toThrow(/metadata\.uid: .*left alone/);
    let inv = await inventory(h);
    const lb = inv.loadBalancers.find((l) => l.arn === foreignArn)!;
    expect(lb.tags).toEqual({});
    expect(inv.listeners.filter((l) => l.lbName === name)).toEqual([]);

    expect(await h.provider.delete(svc.ref)).toEqual({ state: 'deleted' });
    inv = await inventory(h);
    expect(inv.loadBalancers.map((l) => l.arn)).toContain(foreignArn);
    expect(holdings(inv, svc.ref.uid)).toEqual({ loadBalancers: 0, targetGroups: 0, listeners: 0, securityGroups: 0, backendGroups: 1 });
  });
});
