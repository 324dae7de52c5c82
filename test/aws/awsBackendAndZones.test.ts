// Garbage collection of the cluster's backend security group (and the node rules that reference it)
// once the last NLB is gone, and zones added to an existing NLB in place, against moto_server.
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteTagsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { DescribeLoadBalancersCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendSecurityGroupName } from '../../providers/aws/names.js';
import { planFromStack, subnetsToSet } from '../../providers/aws/planActions.js';
import { buildDesiredStack, legacyPlacementOf, withLoadBalancerName } from '../../providers/aws/desiredStack.js';
import { parseAwsAnnotations } from '../../providers/aws/annotations.js';
import type { DesiredLoadBalancer } from '../../providers/provider.js';
import { type AwsHarness, converge, deleteFully, inventory, isSteady, makeService, startAwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** Every ingress rule anywhere whose source is the given group. */
async function rulesReferencing(groupId: string): Promise<string[]> {
  const rules = (await h.ec2.send(new DescribeSecurityGroupRulesCommand({}))).SecurityGroupRules ?? [];
  return rules.filter((r) => r.ReferencedGroupInfo?.GroupId === groupId).map((r) => `${r.GroupId}:${r.IpProtocol}/${r.FromPort}-${r.ToPort}`);
}

async function groupExists(groupId: string): Promise<boolean> {
  const groups = (await h.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  return groups.some((g) => g.GroupId === groupId);
}

describe('aws backend security group garbage collection', () => {
  it('deletes the backend group and only its node rules after two idle sweeps, leaving a foreign look-alike and its rule alone', async () => {
    // A foreign group with exactly our name (in another VPC, without our tags), admitted into the node group.
    const otherVpc = await h.ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16' }));
    const foreign = await h.ec2.send(new CreateSecurityGroupCommand({ GroupName: backendSecurityGroupName(h.clusterName), Description: 'not ours', VpcId: otherVpc.Vpc!.VpcId! }));
    await h.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: h.world.nodeSecurityGroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 30000, ToPort: 32767, UserIdGroupPairs: [{ GroupId: foreign.GroupId!, Description: 'someone else' }] }],
      }),
    );

    let live: DesiredLoadBalancer[] = [];
    const provider = await h.newProvider({}, {}, () => live);
    const svc = makeService(h);
    live = [svc];
    await converge(provider, svc);
    const before = await inventory(h);
    expect(before.backendGroups).toHaveLength(1);
    const backendId = before.backendGroups[0]!;
    expect(await rulesReferencing(backendId)).toEqual([`${h.world.nodeSecurityGroupId}:tcp/30000-32767`]);

    // Someone else's rule from our backend group (no tags of ours): never revoked by us.
    await h.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: h.world.nodeSecurityGroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, UserIdGroupPairs: [{ GroupId: backendId }] }] }),
    );

    // While the Service exists, sweeping never touches the group, and costs no extra call.
    const lookups = h.calls.count({ operation: 'DescribeLoadBalancers' });
    await provider.sweep();
    await provider.sweep();
    expect(await groupExists(backendId)).toBe(true);
    expect(h.calls.count({ operation: 'DescribeLoadBalancers' })).toBe(lookups);

    live = [];
    await deleteFully(provider, svc);
    // Listing what is owned only reads, however often it runs.
    await provider.listOwned();
    await provider.listOwned();
    expect(await groupExists(backendId)).toBe(true);
    await provider.sweep();
    // First idle sweep only watches.
    expect(await groupExists(backendId)).toBe(true);
    expect(await rulesReferencing(backendId)).toHaveLength(2);
    await provider.sweep();

    expect(await groupExists(backendId)).toBe(false);
    // (moto deletes a group that a rule still references; AWS would answer DependencyViolation, retried next resync.)
    expect(await rulesReferencing(backendId)).toEqual([`${h.world.nodeSecurityGroupId}:tcp/22-22`]);
    const leftover = ((await h.ec2.send(new DescribeSecurityGroupRulesCommand({}))).SecurityGroupRules ?? []).filter((r) => r.ReferencedGroupInfo?.GroupId === backendId);
    await h.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: h.world.nodeSecurityGroupId, SecurityGroupRuleIds: leftover.map((r) => r.SecurityGroupRuleId!) }));
    expect((await inventory(h)).backendGroups).toEqual([]);
    expect(await groupExists(foreign.GroupId!)).toBe(true);
    expect(await rulesReferencing(foreign.GroupId!)).toEqual([`${h.world.nodeSecurityGroupId}:tcp/30000-32767`]);
    // Nothing left to do: further sweeps are quiet.
    await provider.sweep();
    expect(await groupExists(foreign.GroupId!)).toBe(true);
  });

  it('finishes after a crash between revoking the node rules and deleting the group', async () => {
    const svc = makeService(h);
    await converge(h.provider, svc);
    const backendId = (await inventory(h)).backendGroups[0]!;
    await deleteFully(h.provider, svc);
    await h.provider.sweep();
    h.proxy.failWhen = (r) => r.action === 'DeleteSecurityGroup';
    await expect(h.provider.sweep()).rejects.toThrow();
    h.proxy.failWhen = undefined;
    expect(await rulesReferencing(backendId)).toEqual([]);
    expect(await groupExists(backendId)).toBe(true);

    // A restarted controller needs its own two sweeps, then finishes the job.
    const restarted = await h.newProvider();
    await restarted.sweep();
    expect(await groupExists(backendId)).toBe(true);
    await restarted.sweep();
    expect(await groupExists(backendId)).toBe(false);
  });

  it('retries a delete that AWS refuses with DependencyViolation on the next sweep', async () => {
    const svc = makeService(h);
    await converge(h.provider, svc);
    const backendId = (await inventory(h)).backendGroups[0]!;
    await deleteFully(h.provider, svc);
    await h.provider.sweep();
    h.proxy.failCode = 'DependencyViolation';
    h.proxy.failWhen = (r) => r.action === 'DeleteSecurityGroup';
    try {
      await expect(h.provider.sweep()).resolves.toBeUndefined();
    } finally {
      h.proxy.failWhen = undefined;
      h.proxy.failCode = undefined;
    }
    expect(await groupExists(backendId)).toBe(true);
    expect(await rulesReferencing(backendId)).toEqual([]);
    await h.provider.sweep();
    expect(await groupExists(backendId)).toBe(false);
  });

  it('a Service that appears between two sweeps keeps the group, and its create ends with working rules', async () => {
    let live: DesiredLoadBalancer[] = [];
    const provider = await h.newProvider({}, {}, () => live);
    const first = makeService(h);
    live = [first];
    await converge(provider, first);
    live = [];
    await deleteFully(provider, first);
    const backendId = (await inventory(h)).backendGroups[0]!;
    await provider.sweep(); // idle once

    const svc = makeService(h);
    live = [svc];
    // The create starts (its anchor security group exists), then the sweep runs, then it finishes.
    const plan = provider.diff(await provider.observe(svc.ref), svc);
    await expect(provider.apply({ ...plan, actions: plan.actions.slice(0, 1) })).resolves.toMatchObject({ state: 'inProgress' });
    await provider.sweep();
    expect(await groupExists(backendId)).toBe(true);
    await converge(provider, svc);
    expect(await rulesReferencing(backendId)).toEqual([`${h.world.nodeSecurityGroupId}:tcp/30000-32767`]);
    live = [];
    await deleteFully(provider, svc);
  });

  it('a create planned against a backend group the sweep has just deleted makes it again, attaches it and opens the node group from it', async () => {
    // Controller B plans with a cached view that still holds the group; controller A deletes it meanwhile.
    const b = await h.newProvider();
    const warm = makeService(h);
    await converge(b, warm);
    const old = (await inventory(h)).backendGroups[0]!;
    await deleteFully(b, warm);
    const a = await h.newProvider();
    await a.sweep();
    await a.sweep();
    expect(await groupExists(old)).toBe(false);

    const svc = makeService(h);
    await converge(b, svc);
    const inv = await inventory(h);
    expect(inv.backendGroups).toHaveLength(1);
    const fresh = inv.backendGroups[0]!;
    expect(fresh).not.toBe(old);
    const lb = inv.loadBalancers.find((l) => l.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid)!;
    expect(lb.securityGroups).toContain(fresh);
    expect(await rulesReferencing(fresh)).toEqual([`${h.world.nodeSecurityGroupId}:tcp/30000-32767`]);
    b.invalidateNetwork();
    expect(await isSteady(b, svc)).toBe(true);
    await deleteFully(b, svc);
  });
});

describe('aws zones of an existing NLB changed in place', () => {
  it('plans SetSubnets for discovered zones added, moved or removed, keeping a subnet that is still eligible, never with addresses', () => {
    const env = {
      subnets: [
        { id: 'subnet-a', zone: 'z-a', vpcId: 'v', cidr: '10.0.0.0/24', tags: {} },
        { id: 'subnet-a2', zone: 'z-a', vpcId: 'v', cidr: '10.0.1.0/24', tags: {} },
        { id: 'subnet-b', zone: 'z-b', vpcId: 'v', cidr: '10.0.2.0/24', tags: {} },
      ],
    };
    const zones = [{ zone: 'z-a', subnetId: 'subnet-a', pinned: false }];
    const all = ['subnet-a', 'subnet-a2', 'subnet-b'];
    expect(subnetsToSet(zones, { subnetMappings: [{ SubnetId: 'subnet-a' }, { SubnetId: 'subnet-b' }], subnetCandidates: all }, env)).toEqual({
      subnetIds: ['subnet-a', 'subnet-b'],
      changes: ['enable z-b (subnet-b)'],
    });
    // Discovery would pick subnet-a2 for a new NLB, but subnet-a is still eligible: it stays.
    expect(subnetsToSet(zones, { subnetMappings: [{ SubnetId: 'subnet-a2' }], subnetCandidates: all }, env)).toBeUndefined();
    // subnet-a lost its tags: the zone moves in place.
    expect(subnetsToSet(zones, { subnetMappings: [{ SubnetId: 'subnet-a2' }], subnetCandidates: ['subnet-a2'] }, env)?.changes).toEqual(['move z-a from subnet-a to subnet-a2']);
    // A zone that lost every eligible subnet is removed.
    const two = [...zones, { zone: 'z-b', subnetId: 'subnet-b', pinned: false }];
    expect(subnetsToSet(two, { subnetMappings: [{ SubnetId: 'subnet-a' }], subnetCandidates: ['subnet-a'] }, env)).toEqual({ subnetIds: ['subnet-a'], changes: ['remove z-b (subnet-b)'] });
    expect(subnetsToSet([{ ...zones[0]!, pinned: true }], { subnetMappings: [{ SubnetId: 'subnet-a' }, { SubnetId: 'subnet-b' }], subnetCandidates: all }, env)).toBeUndefined();
    expect(subnetsToSet(zones, { subnetMappings: [{ SubnetId: 'subnet-b', AllocationId: 'eipalloc-1' }], subnetCandidates: all }, env)).toBeUndefined();
    // Subnets from the annotation (no candidates): set in place too, keeping only listed ones.
    expect(subnetsToSet(zones, { subnetMappings: [{ SubnetId: 'subnet-a' }, { SubnetId: 'subnet-b' }] }, env)?.changes).toEqual(['enable z-b (subnet-b)']);
    expect(subnetsToSet(zones, { subnetMappings: [{ SubnetId: 'subnet-a2' }] }, env)?.changes).toEqual(['move z-a from subnet-a to subnet-a2']);
  });

  it('enables a newly tagged subnet on the existing NLB with SetSubnets, and removes it again when untagged, keeping its ARN', async () => {
    const zones = Object.keys(h.world.publicSubnets).sort();
    const lateZone = zones[2]!;
    const late = h.world.publicSubnets[lateZone]!;
    const roleTag = { Key: 'kubernetes.io/role/elb', Value: '1' };
    await h.ec2.send(new DeleteTagsCommand({ Resources: [late], Tags: [roleTag] }));
    try {
      h.provider.invalidateNetwork();
      const svc = makeService(h);
      await converge(h.provider, svc);
      const arn = (await inventory(h)).loadBalancers.find((l) => l.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid)!.arn;
      const zonesOf = async () =>
        ((await h.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }))).LoadBalancers![0]!.AvailabilityZones ?? []).map((z) => z.ZoneName).sort();
      expect(await zonesOf()).toEqual(zones.slice(0, 2));

      await h.ec2.send(new CreateTagsCommand({ Resources: [late], Tags: [roleTag] }));
      h.provider.invalidateNetwork();
      const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
      expect(plan.actions.map((a) => a.kind)).toEqual(['setSubnets']);
      expect(plan.actions[0]!.description).toContain(`enable ${lateZone} (${late})`);
      await converge(h.provider, svc);
      expect(await zonesOf()).toEqual(zones);
      expect((await inventory(h)).loadBalancers.some((l) => l.arn === arn)).toBe(true);
      expect(h.proxy.requests.some((r) => r.action === 'SetSubnets')).toBe(true);
      expect(h.events.some((e) => e.ref.uid === svc.ref.uid && e.message.includes('now serves from subnets'))).toBe(true);
      expect(await isSteady(h.provider, svc)).toBe(true);

      // A zone that loses its tag is removed in place too (SetSubnets removes subnets from an NLB), same ARN.
      await h.ec2.send(new DeleteTagsCommand({ Resources: [late], Tags: [roleTag] }));
      h.provider.invalidateNetwork();
      const removal = h.provider.diff(await h.provider.observe(svc.ref), svc);
      expect(removal.actions.map((a) => a.description)).toEqual([expect.stringContaining(`remove ${lateZone} (${late})`)]);
      await converge(h.provider, svc);
      expect(await zonesOf()).toEqual(zones.slice(0, 2));
      expect((await inventory(h)).loadBalancers.some((l) => l.arn === arn)).toBe(true);
      expect(await isSteady(h.provider, svc)).toBe(true);
      await deleteFully(h.provider, svc);
    } finally {
      await h.ec2.send(new CreateTagsCommand({ Resources: [late], Tags: [roleTag] }));
      h.provider.invalidateNetwork();
    }
  });

  it('applies a changed aws-load-balancer-subnets annotation in place with SetSubnets (same ARN): zones added, then removed', async () => {
    const zones = Object.keys(h.world.publicSubnets).sort();
    const subnets = zones.map((z) => h.world.publicSubnets[z]!);
    const annotation = 'service.beta.kubernetes.io/aws-load-balancer-subnets';
    const svc = makeService(h, { annotations: { [annotation]: subnets.slice(0, 2).join(',') } });
    await converge(h.provider, svc);
    const mine = async () => (await inventory(h)).loadBalancers.filter((l) => l.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid);
    const [old] = await mine();
    const subnetsOf = async (arn: string) =>
      ((await h.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [arn] }))).LoadBalancers![0]!.AvailabilityZones ?? []).map((z) => z.SubnetId).sort();

    svc.annotations = { [annotation]: subnets.join(',') };
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.map((a) => a.kind)).toEqual(['setSubnets']);
    await converge(h.provider, svc);
    expect((await mine()).map((l) => l.arn)).toEqual([old!.arn]);
    expect(await subnetsOf(old!.arn)).toEqual([...subnets].sort());
    expect(h.events.some((e) => e.ref.uid === svc.ref.uid && e.message.includes('replacing NLB'))).toBe(false);
    expect(await isSteady(h.provider, svc)).toBe(true);

    // A listed subnet taken out: its zone is removed in place. (moto refuses SetSubnets with one zone,
    // the ALB rule; for NLBs AWS says "one or more Availability Zones".)
    svc.annotations = { [annotation]: subnets.slice(1).join(',') };
    await converge(h.provider, svc);
    expect((await mine()).map((l) => l.arn)).toEqual([old!.arn]);
    expect(await subnetsOf(old!.arn)).toEqual(subnets.slice(1).sort());
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it('adopts an NLB named by the subnets annotation (as before in-place subnet changes) instead of replacing it, then changes its subnets in place', async () => {
    const zones = Object.keys(h.world.publicSubnets).sort();
    const subnets = zones.map((z) => h.world.publicSubnets[z]!);
    const annotation = 'service.beta.kubernetes.io/aws-load-balancer-subnets';
    const svc = makeService(h, { annotations: { [annotation]: subnets.slice(0, 2).join(',') } });
    // What an earlier release made: the NLB (and its groups) named after the placement with the subnets in it.
    const observed = (await h.provider.observe(svc.ref))!;
    const fresh = buildDesiredStack({ ...svc, clusterName: h.clusterName }, observed.network);
    expect(fresh.legacyLbName).toBeDefined();
    const legacy = { ...withLoadBalancerName(fresh, fresh.legacyLbName!), placement: legacyPlacementOf(svc, parseAwsAnnotations(svc.annotations)) };
    for (let i = 0; i < 8; i++) {
      const result = await h.provider.apply(planFromStack((await h.provider.observe(svc.ref))!, legacy, 100));
      if (result.state === 'ready') break;
    }
    const [made] = (await inventory(h)).loadBalancers.filter((l) => l.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid);
    expect(made!.name).toBe(fresh.legacyLbName);

    // This release: adopted under its name, the placement recorded, nothing replaced.
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.map((a) => a.kind)).toEqual(['tagResources']);
    await converge(h.provider, svc);
    expect(await isSteady(h.provider, svc)).toBe(true);
    svc.annotations = { [annotation]: subnets.join(',') };
    expect(h.provider.diff(await h.provider.observe(svc.ref), svc).actions.map((a) => a.kind)).toEqual(['setSubnets']);
    await converge(h.provider, svc);
    const now = (await inventory(h)).loadBalancers.filter((l) => l.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid);
    expect(now.map((l) => l.arn)).toEqual([made!.arn]);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
    expect((await inventory(h)).targetGroups.filter((g) => g.tags['kube-lb-provisioner.io/service-uid'] === svc.ref.uid)).toEqual([]);
  });
});
