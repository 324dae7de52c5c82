// Dual-stack (issue 16) against moto_server behind the validating proxy: ip-address-type dualstack,
// IPv6 Services with IPv6 ip target groups following their IPv6 EndpointSlices, ipv6-addresses, the
// in-place change of the IP address type, and bad values refused naming the annotation. The proxy
// enforces AWS's documented dual-stack rules that moto does not (test/aws/support/awsRules.ts).
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  CreateLoadBalancerCommand,
  CreateTargetGroupCommand,
  DescribeLoadBalancersCommand,
  DescribeTargetGroupsCommand,
  ModifyListenerCommand,
  RegisterTargetsCommand,
  SetIpAddressTypeCommand,
  SetSubnetsCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceConfigError, type DesiredLoadBalancer, type PodEndpoint } from '../../providers/provider.js';
import { hostIn, MOTO_REGION, motoClients, seedIPv6 } from '../support/moto.js';
import { type AwsHarness, converge, deleteFully, inventory, isSteady, makeService, ownedBy, refusal, startAwsHarness } from './support/awsHarness.js';

const A = 'service.beta.kubernetes.io/aws-load-balancer-';
const ZONE_A = `${MOTO_REGION}a`;
const ZONE_B = `${MOTO_REGION}b`;

let h: AwsHarness;
/** The IPv6 /64 of the public subnets in zones a and b (zone c has none). */
let v6: Record<string, string> = {};
let viaProxy: ReturnType<typeof motoClients>;

beforeAll(async () => {
  h = await startAwsHarness({ clusterName: 'dual-cluster' });
  viaProxy = motoClients(h.proxy.endpoint);
  v6 = await seedIPv6(h.ec2, h.world, [ZONE_A, ZONE_B]);
  h.provider.invalidateNetwork();
});
afterAll(async () => {
  viaProxy?.ec2.destroy();
  viaProxy?.elbv2.destroy();
  await h?.stop();
});

const inTwoZones = () => ({ [`${A}subnets`]: `${h.world.publicSubnets[ZONE_A]},${h.world.publicSubnets[ZONE_B]}` });
const dual = () => ({ ...inTwoZones(), [`${A}ip-address-type`]: 'dualstack' });
const pod = (address: string, ready = true, terminating = false): PodEndpoint => ({ address, ready, terminating, ports: { http: 8080 } });

async function loadBalancerOf(uid: string) {
  const lb = (await inventory(h)).loadBalancers.find(ownedBy(uid))!;
  return (await h.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lb.arn] }))).LoadBalancers![0]!;
}

async function ipv6RulesOf(uid: string): Promise<string[]> {
  const group = (await inventory(h)).securityGroups.find(ownedBy(uid))!;
  const res = await h.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group.id] }));
  return (res.SecurityGroups![0]!.IpPermissions ?? []).flatMap((p) => (p.Ipv6Ranges ?? []).map((r) => `${p.IpProtocol}/${p.FromPort}/${r.CidrIpv6}`)).sort();
}

describe('an IPv6 Service on a dual-stack NLB', () => {
  it('gets a dualstack NLB and an IPv6 ip target group following its IPv6 EndpointSlice, admits ::/0, and reports the hostname', async () => {
    const a = (host: string) => hostIn(v6[ZONE_A]!, host);
    const svc = makeService(h, {
      ipFamilies: ['IPv6'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }],
      annotations: { ...dual(), [`${A}nlb-target-type`]: 'ip' },
      // An IPv4 endpoint (from an IPv4 slice) must not land in the IPv6 group; the unready one neither.
      podEndpoints: [pod(a('a1')), pod(a('a2'), false), pod('10.0.1.9')],
    });
    h.proxy.requests.length = 0;
    const { result } = await converge(h.provider, svc);
    expect(h.proxy.requests.filter((r) => r.refused)).toEqual([]);

    const lb = await loadBalancerOf(svc.ref.uid);
    expect(lb.IpAddressType).toBe('dualstack');
    expect(result.ingress).toEqual([{ hostname: lb.DNSName }]);
    const group = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    const described = (await h.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [group.arn] }))).TargetGroups![0]!;
    expect([described.TargetType, described.IpAddressType]).toEqual(['ip', 'ipv6']);
    expect(group.targets).toEqual([`${a('a1')}:8080`]);
    expect(await ipv6RulesOf(svc.ref.uid)).toEqual(['icmpv6/2/::/0', 'tcp/80/::/0']);
    expect(await isSteady(h.provider, svc)).toBe(true);

    // Pods come and go: membership only, IPv6 in and out.
    svc.podEndpoints = [pod(a('a1'), false, true), pod(a('a2')), pod(a('a3'))];
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.every((x) => x.membershipOnly === true)).toBe(true);
    await converge(h.provider, svc);
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.targets).toEqual([`${a('a2')}:8080`, `${a('a3')}:8080`].sort());
    expect(h.proxy.requests.filter((r) => r.refused)).toEqual([]);
    await deleteFully(h.provider, svc);
  });

  it('IPv6 source ranges are rules of the NLB security group (Ipv6Ranges) next to the IPv4 ones, with ICMPv6 Packet Too Big for path MTU discovery', async () => {
    const svc = makeService(h, { annotations: dual(), sourceRanges: ['203.0.113.0/24', '2001:db8::/32'] });
    await converge(h.provider, svc);
    expect(await ipv6RulesOf(svc.ref.uid)).toEqual(['icmpv6/2/::/0', 'tcp/80/2001:db8::/32']);
    expect((await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!.ingress).toContain('tcp/80/203.0.113.0/24');
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });
});

describe('aws-load-balancer-ip-address-type changes in place', () => {
  it('ipv4 -> dualstack -> ipv4 keeps the NLB (SetIpAddressType), and adds then revokes the IPv6 rules', async () => {
    const svc = makeService(h, { annotations: inTwoZones() });
    await converge(h.provider, svc);
    const before = await loadBalancerOf(svc.ref.uid);
    expect(before.IpAddressType).toBe('ipv4');

    svc.annotations = dual();
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const after = await loadBalancerOf(svc.ref.uid);
    expect(after.LoadBalancerArn).toBe(before.LoadBalancerArn);
    expect(after.IpAddressType).toBe('dualstack');
    expect(h.proxy.requests.filter((r) => r.action === 'SetIpAddressType').map((r) => r.params.get('IpAddressType'))).toEqual(['dualstack']);
    expect(h.proxy.requests.filter((r) => r.action === 'CreateLoadBalancer')).toEqual([]);
    expect(await ipv6RulesOf(svc.ref.uid)).toEqual(['icmpv6/2/::/0', 'tcp/80/::/0']);
    expect(await isSteady(h.provider, svc)).toBe(true);

    svc.annotations = inTwoZones();
    await converge(h.provider, svc);
    expect((await loadBalancerOf(svc.ref.uid)).IpAddressType).toBe('ipv4');
    expect(await ipv6RulesOf(svc.ref.uid)).toEqual([]);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });
});

describe('aws-load-balancer-ipv6-addresses', () => {
  it('puts one IPv6 address per subnet into the subnet mappings, each in its subnet', async () => {
    const wanted = [hostIn(v6[ZONE_B]!, '77'), hostIn(v6[ZONE_A]!, '66')];
    const svc = makeService(h, { annotations: { ...dual(), [`${A}ipv6-addresses`]: wanted.join(', ') } });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const create = h.proxy.requests.find((r) => r.action === 'CreateLoadBalancer' && !r.refused)!;
    const mappings = [1, 2].map((i) => [create.params.get(`SubnetMappings.member.${i}.SubnetId`), create.params.get(`SubnetMappings.member.${i}.IPv6Address`)]);
    expect(mappings).toEqual(
      expect.arrayContaining([
        [h.world.publicSubnets[ZONE_A], wanted[1]],
        [h.world.publicSubnets[ZONE_B], wanted[0]],
      ]),
    );
    expect(create.params.get('IpAddressType')).toBe('dualstack');
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });
});

/** A /80 of a subnet's IPv6 /64 (its fifth group set), as source-nat-ipv6-prefixes takes them. */
function slash80(cidr: string, group: number): string {
  const parts = ipaddr.IPv6.parse(cidr.split('/')[0]!).parts;
  parts[4] = group;
  return `${new ipaddr.IPv6(parts).toString()}/80`;
}

describe('IPv6 source NAT prefixes (enable-prefix-for-ipv6-source-nat, source-nat-ipv6-prefixes)', () => {
  const udp = [{ name: 'dns', port: 53, protocol: 'UDP' as const, nodePort: 30053 }];
  const sourceNat = (value: string) => ({ ...dual(), [`${A}enable-prefix-for-ipv6-source-nat`]: value });

  it('"on" is set in place on a dualstack NLB serving UDP, kept steady, repaired after drift, and "off" turns it off, all on the same NLB', async () => {
    const svc = makeService(h, { ports: udp, annotations: dual() });
    await converge(h.provider, svc);
    const before = await loadBalancerOf(svc.ref.uid);
    expect(before.EnablePrefixForIpv6SourceNat).toBe('off');

    svc.annotations = sourceNat('on');
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const set = h.proxy.requests.filter((r) => r.action === 'SetSubnets' && !r.refused);
    expect(set.map((r) => r.params.get('EnablePrefixForIpv6SourceNat'))).toEqual(['on']);
    expect(set[0]!.params.get('Subnets.member.1')).toBeDefined();
    expect(h.proxy.requests.filter((r) => r.action === 'CreateLoadBalancer')).toEqual([]);
    const on = await loadBalancerOf(svc.ref.uid);
    expect([on.LoadBalancerArn, on.EnablePrefixForIpv6SourceNat]).toEqual([before.LoadBalancerArn, 'on']);
    expect(await isSteady(h.provider, svc)).toBe(true);

    // Turned off behind our back: the NLB's description shows it, and the plan sets it again.
    const subnets = (on.AvailabilityZones ?? []).map((z) => z.SubnetId!);
    await h.elbv2.send(new SetSubnetsCommand({ LoadBalancerArn: on.LoadBalancerArn, Subnets: subnets, EnablePrefixForIpv6SourceNat: 'off' }));
    const repair = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(repair.actions.map((a) => a.kind)).toEqual(['setIpv6SourceNat']);
    await h.provider.apply(repair);
    expect((await loadBalancerOf(svc.ref.uid)).EnablePrefixForIpv6SourceNat).toBe('on');

    svc.annotations = sourceNat('off');
    await converge(h.provider, svc);
    const off = await loadBalancerOf(svc.ref.uid);
    expect([off.LoadBalancerArn, off.EnablePrefixForIpv6SourceNat]).toEqual([before.LoadBalancerArn, 'off']);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it('a new NLB asks for it on create, with a given /80 in its subnet and auto_assigned for the other', async () => {
    const prefix = slash80(v6[ZONE_B]!, 7);
    const svc = makeService(h, { ports: udp, annotations: { ...sourceNat('on'), [`${A}source-nat-ipv6-prefixes`]: `auto_assigned, ${prefix}` } });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const create = h.proxy.requests.find((r) => r.action === 'CreateLoadBalancer' && !r.refused)!;
    expect(create.params.get('EnablePrefixForIpv6SourceNat')).toBe('on');
    const mappings = [1, 2].map((i) => [create.params.get(`SubnetMappings.member.${i}.SubnetId`), create.params.get(`SubnetMappings.member.${i}.SourceNatIpv6Prefix`)]);
    expect(mappings).toEqual(
      expect.arrayContaining([
        [h.world.publicSubnets[ZONE_A], 'auto_assigned'],
        [h.world.publicSubnets[ZONE_B], prefix],
      ]),
    );
    expect((await loadBalancerOf(svc.ref.uid)).EnablePrefixForIpv6SourceNat).toBe('on');
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it.each([
    ['a value other than on or off', () => sourceNat('true'), `${A}enable-prefix-for-ipv6-source-nat`, 'must be "on" or "off"'],
    ['"on" on an IPv4 NLB', () => ({ ...inTwoZones(), [`${A}enable-prefix-for-ipv6-source-nat`]: 'on' }), `${A}enable-prefix-for-ipv6-source-nat`, 'needs a dualstack NLB'],
    ['prefixes without "on"', () => ({ ...dual(), [`${A}source-nat-ipv6-prefixes`]: 'auto_assigned,auto_assigned' }), `${A}source-nat-ipv6-prefixes`, '"on"'],
    ['a /64 instead of a /80', () => ({ ...sourceNat('on'), [`${A}source-nat-ipv6-prefixes`]: `${v6[ZONE_A]!},auto_assigned` }), `${A}source-nat-ipv6-prefixes`, '/80'],
    ['a /80 in no subnet of the NLB', () => ({ ...sourceNat('on'), [`${A}source-nat-ipv6-prefixes`]: '2001:db8:0:0:1::/80,auto_assigned' }), `${A}source-nat-ipv6-prefixes`, 'in no subnet'],
    ['one prefix for two subnets', () => ({ ...sourceNat('on'), [`${A}source-nat-ipv6-prefixes`]: 'auto_assigned' }), `${A}source-nat-ipv6-prefixes`, 'one per subnet'],
    ['two prefixes in one subnet', () => ({ ...sourceNat('on'), [`${A}source-nat-ipv6-prefixes`]: `${slash80(v6[ZONE_A]!, 1)},${slash80(v6[ZONE_A]!, 2)}` }), `${A}source-nat-ipv6-prefixes`, 'both in subnet'],
  ] as const)('%s is refused naming the annotation, before any create', async (_what, annotations, field, says) => {
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, makeService(h, { ports: udp, annotations: annotations() })));
    expect((error as ServiceConfigError).field).toBe(field);
    expect((error as Error).message).toContain(says);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create') || r.action.startsWith('Set'))).toEqual([]);
  });
});

describe('bad dual-stack values are refused naming the annotation, before any create', () => {
  it.each([
    ['an address type NLBs do not take', () => ({ [`${A}ip-address-type`]: 'dualstack-without-public-ipv4' }), {}, `${A}ip-address-type`, 'dualstack-without-public-ipv4'],
    ['ipv6-addresses on an IPv4 NLB', () => ({ ...inTwoZones(), [`${A}ipv6-addresses`]: hostIn(v6[ZONE_A]!, '1') }), {}, `${A}ipv6-addresses`, 'dualstack'],
    ['dualstack where a discovered subnet has no IPv6 block', () => ({ [`${A}ip-address-type`]: 'dualstack' }), {}, `${A}ip-address-type`, 'has none'],
    ['an IPv6 address outside its subnets', () => ({ ...dual(), [`${A}ipv6-addresses`]: `${hostIn(v6[ZONE_A]!, '1')}, 2001:db8::1` }), {}, `${A}ipv6-addresses`, 'no address is in subnet'],
    ['one IPv6 address for two subnets', () => ({ ...dual(), [`${A}ipv6-addresses`]: hostIn(v6[ZONE_A]!, '1') }), {}, `${A}ipv6-addresses`, 'one IPv6 address per subnet'],
    ['an IPv6 Service on an IPv4 NLB', () => ({ ...inTwoZones(), [`${A}nlb-target-type`]: 'ip' }), { ipFamilies: ['IPv6'] }, `${A}ip-address-type`, 'dualstack'],
    ['an IPv6 Service with instance targets', () => dual(), { ipFamilies: ['IPv6'] }, `${A}nlb-target-type`, 'ip targets only'],
  ] as const)('%s', async (_what, annotations, spec, field, says) => {
    const svc = makeService(h, { annotations: annotations(), ...(spec as Partial<DesiredLoadBalancer>) });
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, svc));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe(field);
    expect((error as Error).message).toContain(says);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create') || r.action.startsWith('Set'))).toEqual([]);
  });
});

describe("the proxy enforces AWS's documented dual-stack rules that moto does not", () => {
  const name = (n: string) => `dual-probe-${n}`;
  async function nlb(n: string, type: 'ipv4' | 'dualstack'): Promise<string> {
    const res = await viaProxy.elbv2.send(
      new CreateLoadBalancerCommand({ Name: name(n), Type: 'network', IpAddressType: type, SubnetMappings: [{ SubnetId: h.world.publicSubnets[ZONE_A] }, { SubnetId: h.world.publicSubnets[ZONE_B] }] }),
    );
    return res.LoadBalancers![0]!.LoadBalancerArn!;
  }
  async function ipv6Group(n: string): Promise<string> {
    const res = await viaProxy.elbv2.send(new CreateTargetGroupCommand({ Name: name(n), Protocol: 'TCP', Port: 80, VpcId: h.world.vpcId, TargetType: 'ip', IpAddressType: 'ipv6' }));
    return res.TargetGroups![0]!.TargetGroupArn!;
  }

  it('dualstack needs IPv6 blocks on every subnet (NLB user guide, dualstack requirements), on create and on SetIpAddressType', async () => {
    const zoneC = `${MOTO_REGION}c`;
    const create = await refusal(
      viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('c'), Type: 'network', IpAddressType: 'dualstack', SubnetMappings: [{ SubnetId: h.world.publicSubnets[ZONE_A] }, { SubnetId: h.world.publicSubnets[zoneC] }] })),
    );
    expect((create as Error).name).toMatch(/^InvalidSubnet/);
    const withC = await viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('c4'), Type: 'network', SubnetMappings: [{ SubnetId: h.world.publicSubnets[zoneC] }] }));
    const set = await refusal(viaProxy.elbv2.send(new SetIpAddressTypeCommand({ LoadBalancerArn: withC.LoadBalancers![0]!.LoadBalancerArn!, IpAddressType: 'dualstack' })));
    expect((set as Error).name).toMatch(/^InvalidSubnet/);
    // Both sides: subnets with IPv6 blocks are accepted.
    expect(await nlb('ok', 'dualstack')).toMatch(/^arn:/);
  });

  it('IPv6Address in a subnet mapping needs dualstack and an address in that subnet (LBC annotation guide, ipv6-addresses)', async () => {
    const mapping = (address: string) => [{ SubnetId: h.world.publicSubnets[ZONE_A], IPv6Address: address }];
    const ipv4 = await refusal(viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('m4'), Type: 'network', SubnetMappings: mapping(hostIn(v6[ZONE_A]!, '5')) })));
    expect((ipv4 as Error).name).toMatch(/^ValidationError/);
    const outside = await refusal(viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('m6'), Type: 'network', IpAddressType: 'dualstack', SubnetMappings: mapping(hostIn(v6[ZONE_B]!, '5')) })));
    expect((outside as Error).name).toMatch(/^InvalidConfigurationRequest/);
  });

  it('EnablePrefixForIpv6SourceNat needs dualstack, on create and on SetSubnets; a SourceNatIpv6Prefix is a /80 of its subnet or auto_assigned (ELB API reference)', async () => {
    const mappings = (prefix: string) => [{ SubnetId: h.world.publicSubnets[ZONE_A], SourceNatIpv6Prefix: prefix }, { SubnetId: h.world.publicSubnets[ZONE_B] }];
    const ipv4 = await refusal(viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('s4'), Type: 'network', EnablePrefixForIpv6SourceNat: 'on', SubnetMappings: mappings('auto_assigned') })));
    expect((ipv4 as Error).name).toMatch(/^ValidationError/);
    const wide = await refusal(
      viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('s64'), Type: 'network', IpAddressType: 'dualstack', EnablePrefixForIpv6SourceNat: 'on', SubnetMappings: mappings(v6[ZONE_A]!) })),
    );
    expect((wide as Error).name).toMatch(/^ValidationError/);
    const elsewhere = await refusal(
      viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('sb'), Type: 'network', IpAddressType: 'dualstack', EnablePrefixForIpv6SourceNat: 'on', SubnetMappings: mappings(slash80(v6[ZONE_B]!, 3)) })),
    );
    expect((elsewhere as Error).name).toMatch(/^ValidationError/);
    const ipv4Nlb = await nlb('s4set', 'ipv4');
    const set = await refusal(viaProxy.elbv2.send(new SetSubnetsCommand({ LoadBalancerArn: ipv4Nlb, Subnets: [h.world.publicSubnets[ZONE_A]!, h.world.publicSubnets[ZONE_B]!], EnablePrefixForIpv6SourceNat: 'on' })));
    expect((set as Error).name).toMatch(/^ValidationError/);
    // Both sides: a /80 of its subnet is accepted, and the NLB reports the setting.
    const made = await viaProxy.elbv2.send(new CreateLoadBalancerCommand({ Name: name('sok'), Type: 'network', IpAddressType: 'dualstack', EnablePrefixForIpv6SourceNat: 'on', SubnetMappings: mappings(slash80(v6[ZONE_A]!, 3)) }));
    expect(made.LoadBalancers![0]!.EnablePrefixForIpv6SourceNat).toBe('on');
  });

  it('IPv6 target groups take ip targets only, and IPv6 addresses only (NLB target groups, IP address type)', async () => {
    const instance = await refusal(viaProxy.elbv2.send(new CreateTargetGroupCommand({ Name: name('i6'), Protocol: 'TCP', Port: 80, VpcId: h.world.vpcId, TargetType: 'instance', IpAddressType: 'ipv6' })));
    expect((instance as Error).name).toMatch(/^ValidationError/);
    const group = await ipv6Group('g6');
    const v4 = await refusal(viaProxy.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: group, Targets: [{ Id: '10.0.1.5', Port: 80 }] })));
    expect((v4 as Error).name).toMatch(/^InvalidTarget/);
    await viaProxy.elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: group, Targets: [{ Id: hostIn(v6[ZONE_A]!, '9'), Port: 80 }] }));
  });

  it('IPv6 target groups serve dualstack NLBs only, with TCP or TLS listeners; such an NLB cannot go back to ipv4 under them', async () => {
    const group = await ipv6Group('l6');
    const onIPv4 = await refusal(viaProxy.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: await nlb('l4', 'ipv4'), Protocol: 'TCP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: group }] })));
    expect((onIPv4 as Error).name).toMatch(/^InvalidConfigurationRequest/);
    const dualArn = await nlb('l6', 'dualstack');
    const udp = await refusal(viaProxy.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: dualArn, Protocol: 'UDP', Port: 53, DefaultActions: [{ Type: 'forward', TargetGroupArn: group }] })));
    expect((udp as Error).name).toMatch(/^InvalidConfigurationRequest/);
    const listener = await viaProxy.elbv2.send(new CreateListenerCommand({ LoadBalancerArn: dualArn, Protocol: 'TCP', Port: 80, DefaultActions: [{ Type: 'forward', TargetGroupArn: group }] }));
    const toUdp = await refusal(viaProxy.elbv2.send(new ModifyListenerCommand({ ListenerArn: listener.Listeners![0]!.ListenerArn!, Protocol: 'UDP', DefaultActions: [{ Type: 'forward', TargetGroupArn: group }] })));
    expect((toUdp as Error).name).toMatch(/^InvalidConfigurationRequest/);
    const back = await refusal(viaProxy.elbv2.send(new SetIpAddressTypeCommand({ LoadBalancerArn: dualArn, IpAddressType: 'ipv4' })));
    expect((back as Error).name).toMatch(/^InvalidConfigurationRequest/);
  });
});
