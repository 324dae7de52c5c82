// The AWS Load Balancer Controller's Service annotations this provider honours (issues 16 and 19),
// against moto_server behind the validating proxy: each one applied, kept steady, and refused with a
// ServiceConfigError naming it when its value is bad.
import { AuthorizeSecurityGroupIngressCommand, CreateManagedPrefixListCommand, CreateSecurityGroupCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceConfigError, type DesiredLoadBalancer } from '../../providers/provider.js';
import { motoClients } from '../support/moto.js';
import { converge, inventory, isSteady, makeService, ownedBy, startAwsHarness, type AwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness({ clusterName: 'lbc-cluster' });
});
afterAll(async () => {
  await h?.stop();
});

const A = 'service.beta.kubernetes.io/aws-load-balancer-';

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  return undefined;
}

async function deleteFully(svc: DesiredLoadBalancer): Promise<void> {
  for (let i = 0; i < 10; i++) if ((await h.provider.delete(svc.ref)).state === 'deleted') return;
  throw new Error(`delete of ${svc.ref.name} did not finish`);
}

async function prefixList(maxEntries: number, family: 'IPv4' | 'IPv6' = 'IPv4'): Promise<string> {
  const res = await h.ec2.send(new CreateManagedPrefixListCommand({ PrefixListName: `pl-test-${maxEntries}-${family}`, MaxEntries: maxEntries, AddressFamily: family }));
  h.provider.invalidateNetwork();
  return res.PrefixList!.PrefixListId!;
}

describe('aws-load-balancer-security-group-prefix-lists', () => {
  it('admits the prefix lists instead of everyone, keeps them steady, and goes back to 0.0.0.0/0 when removed', async () => {
    const pl = await prefixList(5);
    const svc = makeService(h, { annotations: { [`${A}security-group-prefix-lists`]: pl } });
    await converge(h.provider, svc);
    const groupOf = async () => (await h.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [(await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!.id] }))).SecurityGroups![0]!;
    const tcp80 = (await groupOf()).IpPermissions!.find((p) => p.IpProtocol === 'tcp' && p.FromPort === 80)!;
    expect(tcp80.PrefixListIds?.map((l) => l.PrefixListId)).toEqual([pl]);
    expect(tcp80.IpRanges ?? []).toEqual([]);
    expect(await isSteady(h.provider, svc)).toBe(true);

    svc.annotations = {};
    await converge(h.provider, svc);
    const after = (await groupOf()).IpPermissions!.find((p) => p.IpProtocol === 'tcp' && p.FromPort === 80)!;
    expect(after.PrefixListIds ?? []).toEqual([]);
    expect(after.IpRanges?.map((r) => r.CidrIp)).toEqual(['0.0.0.0/0']);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(svc);
  });

  it.each([
    ['not-a-list', 'is not a managed prefix list ID'],
    ['pl-0123456789abcdef0', 'no managed prefix list pl-0123456789abcdef0'],
  ])('refuses %s with a ServiceConfigError naming the annotation, before any create', async (value, why) => {
    const svc = makeService(h, { annotations: { [`${A}security-group-prefix-lists`]: value } });
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, svc));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe(`${A}security-group-prefix-lists`);
    expect((error as Error).message).toContain(why);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });

  it('refuses an IPv6 prefix list on the IPv4 NLB', async () => {
    const pl = await prefixList(4, 'IPv6');
    const error = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}security-group-prefix-lists`]: pl } })));
    expect((error as ServiceConfigError).field).toBe(`${A}security-group-prefix-lists`);
    expect((error as Error).message).toContain('IPv6 prefix list');
  });

  it('counts a prefix list as its MaxEntries against the 60-rule quota: refused before any call, naming both fields', async () => {
    const pl = await prefixList(30);
    const svc = makeService(h, {
      ports: [
        { name: 'a', port: 80, protocol: 'TCP', nodePort: 30080 },
        { name: 'b', port: 443, protocol: 'TCP', nodePort: 30443 },
      ],
      annotations: { [`${A}security-group-prefix-lists`]: pl },
    });
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, svc));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toContain(`${A}security-group-prefix-lists`);
    expect((error as Error).message).toContain('61 IPv4 rules');
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });

  it('the proxy counts a referenced prefix list as its MaxEntries, as AWS does (moto counts one)', async () => {
    const pl = await prefixList(61);
    const group = await h.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'pl-probe', Description: 'probe', VpcId: h.world.vpcId }));
    const viaProxy = motoClients(h.proxy.endpoint).ec2;
    const error = await refusal(viaProxy.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group.GroupId!, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, PrefixListIds: [{ PrefixListId: pl }] }] })));
    viaProxy.destroy();
    expect((error as Error).name).toBe('RulesPerSecurityGroupLimitExceeded');
  });
});
