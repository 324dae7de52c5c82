// spec.loadBalancerIP and the Elastic IP annotations. moto ignores SubnetMappings.AllocationId, so
// the fault proxy records the requests and the tests check what was asked of AWS.
import { AllocateAddressCommand, AssociateAddressCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceConfigError } from '../../providers/provider.js';
import { DescribeLoadBalancerAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { converge, inventory, isSteady, makeService, startAwsHarness, type AwsHarness, ownedBy } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** An Elastic IP of its own per test: AWS refuses one that another NLB already holds. */
async function freshEip(): Promise<{ allocationId: string; publicIp: string }> {
  const eip = await h.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  h.provider.invalidateNetwork();
  return { allocationId: eip.AllocationId!, publicIp: eip.PublicIp! };
}

function createRequests() {
  return h.proxy.requests.filter((r) => r.action === 'CreateLoadBalancer' && !r.throttled).map((r) => Object.fromEntries([...r.params.entries()].filter(([k]) => k.startsWith('SubnetMappings') || k === 'Name' || k === 'Scheme')));
}

describe('aws provider addresses', () => {
  it('puts the Elastic IP of spec.loadBalancerIP into SubnetMappings.AllocationId and reports it', async () => {
    const eip = await freshEip();
    const svc = makeService(h, { loadBalancerIP: eip.publicIp });
    h.proxy.requests.length = 0;
    const { result } = await converge(h.provider, svc);
    expect(createRequests()).toEqual([
      expect.objectContaining({ 'SubnetMappings.member.1.AllocationId': eip.allocationId, 'SubnetMappings.member.1.SubnetId': expect.stringMatching(/^subnet-/) }),
    ]);
    const lb = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!;
    expect(result.ingress).toEqual([{ hostname: lb.dnsName }, { ip: eip.publicIp }]);
  });

  it('spec.loadBalancerIP keeps an NLB in every zone, the address in one, and cross-zone load balancing on so that every zone serves it', async () => {
    const eip = await freshEip();
    const svc = makeService(h, { loadBalancerIP: eip.publicIp });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const created = createRequests()[0]!;
    const subnets = Object.entries(created).filter(([k]) => k.endsWith('.SubnetId')).map(([, v]) => v);
    expect(subnets.sort()).toEqual(Object.values(h.world.publicSubnets).sort());
    expect(Object.entries(created).filter(([k]) => k.endsWith('.AllocationId')).map(([, v]) => v)).toEqual([eip.allocationId]);
    const lb = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!;
    const attributes = await h.elbv2.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: lb.arn }));
    expect(attributes.Attributes).toContainEqual({ Key: 'load_balancing.cross_zone.enabled', Value: 'true' });
    expect(await isSteady(h.provider, svc)).toBe(true);
  });

  it('supports aws-load-balancer-eip-allocations (one per subnet) with the subnets annotation', async () => {
    const subnets = Object.values(h.world.publicSubnets).slice(0, 2);
    const eips = [await freshEip(), await freshEip()];
    const allocations = eips.map((e) => e.allocationId);
    const svc = makeService(h, {
      annotations: {
        'service.beta.kubernetes.io/aws-load-balancer-subnets': subnets.join(','),
        'service.beta.kubernetes.io/aws-load-balancer-eip-allocations': allocations.join(','),
      },
    });
    h.proxy.requests.length = 0;
    const { result } = await converge(h.provider, svc);
    expect(createRequests()[0]).toMatchObject({
      'SubnetMappings.member.1.SubnetId': subnets[0],
      'SubnetMappings.member.1.AllocationId': allocations[0],
      'SubnetMappings.member.2.SubnetId': subnets[1],
      'SubnetMappings.member.2.AllocationId': allocations[1],
    });
    expect(result.ingress.filter((i) => i.ip).map((i) => i.ip)).toEqual(eips.map((e) => e.publicIp));
  });

  it('uses PrivateIPv4Address for an internal load balancer in the subnet that holds the address', async () => {
    const zone = Object.keys(h.world.privateSubnets)[1]!;
    const svc = makeService(h, { loadBalancerIP: '10.0.3.77', annotations: { 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' } });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    expect(createRequests()[0]).toMatchObject({
      Scheme: 'internal',
      'SubnetMappings.member.1.SubnetId': h.world.privateSubnets[zone],
      'SubnetMappings.member.1.PrivateIPv4Address': '10.0.3.77',
    });
  });

  it('discovers one tagged subnet per zone, public or internal by scheme', async () => {
    const pub = makeService(h);
    const internal = makeService(h, { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal' } });
    h.proxy.requests.length = 0;
    await converge(h.provider, pub);
    await converge(h.provider, internal);
    const [a, b] = createRequests();
    const subnetsOf = (r: Record<string, string> | undefined) => Object.entries(r ?? {}).filter(([k]) => k.endsWith('.SubnetId')).map(([, v]) => v).sort();
    expect(subnetsOf(a)).toEqual(Object.values(h.world.publicSubnets).sort());
    expect(subnetsOf(b)).toEqual(Object.values(h.world.privateSubnets).sort());
    expect(b).toMatchObject({ Scheme: 'internal' });
  });

  it('rejects an address the account does not hold with a ServiceConfigError on spec.loadBalancerIP and creates nothing', async () => {
    const svc = makeService(h, { loadBalancerIP: '198.51.100.9' });
    h.proxy.requests.length = 0;
    let caught: unknown;
    try {
      await converge(h.provider, svc);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ServiceConfigError);
    expect((caught as ServiceConfigError).field).toBe('spec.loadBalancerIP');
    expect((caught as Error).message).toContain('198.51.100.9');
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
    expect(await h.provider.listOwned()).not.toContainEqual(svc.ref);
  });

  it('sees an Elastic IP allocated after the cached read once a Service asked for it and was refused', async () => {
    await converge(h.provider, makeService(h)); // the environment (with the Elastic IPs) is cached now
    const fresh = await h.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const svc = makeService(h, { loadBalancerIP: fresh.PublicIp! });
    await expect(converge(h.provider, svc)).rejects.toThrow(ServiceConfigError);
    // The refusal dropped the cache: the controller's retry finds the address.
    const { result } = await converge(h.provider, svc);
    expect(result.ingress).toContainEqual({ ip: fresh.PublicIp });
  });

  it('replaces the NLB when the subnets change but the Elastic IP stays: the old one goes first, since it holds the address', async () => {
    const eip = await freshEip();
    const [zoneA, zoneB] = Object.keys(h.world.publicSubnets);
    const svc = makeService(h, { loadBalancerIP: eip.publicIp, annotations: { 'service.beta.kubernetes.io/aws-load-balancer-subnets': h.world.publicSubnets[zoneA!]! } });
    await converge(h.provider, svc);
    const old = (await inventory(h)).loadBalancers.filter(ownedBy(svc.ref.uid));
    expect(old).toHaveLength(1);

    svc.annotations = { 'service.beta.kubernetes.io/aws-load-balancer-subnets': h.world.publicSubnets[zoneB!]! };
    h.events.length = 0;
    h.proxy.requests.length = 0;
    const { result } = await converge(h.provider, svc);
    const order = h.proxy.requests.filter((r) => r.action === 'CreateLoadBalancer' || r.action === 'DeleteLoadBalancer').map((r) => r.action);
    expect(order).toEqual(['DeleteLoadBalancer', 'CreateLoadBalancer']);
    expect(h.events.some((e) => e.ref.uid === svc.ref.uid && e.message.includes('the old one goes first'))).toBe(true);
    expect(createRequests()[0]).toMatchObject({ 'SubnetMappings.member.1.SubnetId': h.world.publicSubnets[zoneB!], 'SubnetMappings.member.1.AllocationId': eip.allocationId });
    const lbs = (await inventory(h)).loadBalancers.filter(ownedBy(svc.ref.uid));
    expect(lbs).toHaveLength(1);
    expect(lbs[0]!.arn).not.toBe(old[0]!.arn);
    expect(result.ingress).toEqual([{ hostname: lbs[0]!.dnsName }, { ip: eip.publicIp }]);
  });

  it('replaces the NLB when the IP changes: announces it, creates the new one, then deletes the old one', async () => {
    const [first, second] = [await freshEip(), await freshEip()];
    const svc = makeService(h, { loadBalancerIP: first!.publicIp });
    await converge(h.provider, svc);
    const oldLb = (await inventory(h)).loadBalancers.filter(ownedBy(svc.ref.uid));
    expect(oldLb).toHaveLength(1);

    svc.loadBalancerIP = second!.publicIp;
    h.events.length = 0;
    h.proxy.requests.length = 0;
    const { result } = await converge(h.provider, svc);
    const order = h.proxy.requests.filter((r) => r.action === 'CreateLoadBalancer' || r.action === 'DeleteLoadBalancer').map((r) => r.action);
    expect(order).toEqual(['CreateLoadBalancer', 'DeleteLoadBalancer']);
    expect(h.events.some((e) => e.ref.uid === svc.ref.uid && e.message.includes('replacing NLB'))).toBe(true);
    const inv = await inventory(h);
    const lbs = inv.loadBalancers.filter(ownedBy(svc.ref.uid));
    expect(lbs).toHaveLength(1);
    expect(lbs[0]!.arn).not.toBe(oldLb[0]!.arn);
    expect(result.ingress).toEqual([{ hostname: lbs[0]!.dnsName }, { ip: second!.publicIp }]);
    expect(inv.securityGroups.filter(ownedBy(svc.ref.uid))).toHaveLength(1);
    expect(inv.targetGroups.filter(ownedBy(svc.ref.uid))).toHaveLength(1);
  });
});

describe('aws provider replacements that keep an address', () => {
  const internal = 'service.beta.kubernetes.io/aws-load-balancer-scheme';
  const subnetsKey = 'service.beta.kubernetes.io/aws-load-balancer-subnets';
  const privateKey = 'service.beta.kubernetes.io/aws-load-balancer-private-ipv4-addresses';

  it('keeps a private address while adding a subnet: the old NLB goes first and the create waits for its interfaces, instead of failing forever', async () => {
    const [zoneA, zoneB] = Object.keys(h.world.privateSubnets);
    const svc = makeService(h, { annotations: { [internal]: 'internal', [subnetsKey]: h.world.privateSubnets[zoneA!]!, [privateKey]: '10.0.1.20' } });
    await converge(h.provider, svc);
    const old = (await inventory(h)).loadBalancers.filter(ownedBy(svc.ref.uid));

    h.proxy.rules.state.releaseAfterRefusals = 3;
    svc.annotations = { [internal]: 'internal', [subnetsKey]: `${h.world.privateSubnets[zoneA!]},${h.world.privateSubnets[zoneB!]}`, [privateKey]: '10.0.1.20,10.0.3.20' };
    h.proxy.requests.length = 0;
    try {
      const { results } = await converge(h.provider, svc);
      // While AWS still holds 10.0.1.20 the Service is in progress, not failed.
      expect(results.filter((r) => r.state === 'inProgress').length).toBeGreaterThan(0);
    } finally {
      h.proxy.rules.state.releaseAfterRefusals = 0;
    }
    const refused = h.proxy.requests.filter((r) => r.refused).map((r) => `${r.action}:${r.refused}`);
    expect(refused).toContain('CreateLoadBalancer:ResourceInUse');
    const order = h.proxy.requests.filter((r) => (r.action === 'CreateLoadBalancer' && !r.refused) || r.action === 'DeleteLoadBalancer').map((r) => r.action);
    expect(order).toEqual(['DeleteLoadBalancer', 'CreateLoadBalancer']);
    const created = createRequests().at(-1)!;
    expect(created).toMatchObject({ 'SubnetMappings.member.1.PrivateIPv4Address': '10.0.1.20', 'SubnetMappings.member.2.PrivateIPv4Address': '10.0.3.20' });
    const inv = await inventory(h);
    const lbs = inv.loadBalancers.filter(ownedBy(svc.ref.uid));
    expect(lbs).toHaveLength(1);
    expect(lbs[0]!.arn).not.toBe(old[0]!.arn);
    expect(inv.securityGroups.filter(ownedBy(svc.ref.uid))).toHaveLength(1);
  });

  it('waits, in progress, while the deleted NLB still holds the Elastic IP, then creates the new one', async () => {
    const eip = await freshEip();
    const [zoneA, zoneB] = Object.keys(h.world.publicSubnets);
    const svc = makeService(h, { loadBalancerIP: eip.publicIp, annotations: { [subnetsKey]: h.world.publicSubnets[zoneA!]! } });
    await converge(h.provider, svc);

    h.proxy.rules.state.releaseAfterRefusals = 3;
    svc.annotations = { [subnetsKey]: h.world.publicSubnets[zoneB!]! };
    h.proxy.requests.length = 0;
    let outcome;
    try {
      outcome = await converge(h.provider, svc);
    } finally {
      h.proxy.rules.state.releaseAfterRefusals = 0;
    }
    expect(outcome.results.some((r) => r.state === 'inProgress' && r.reason.includes(eip.publicIp))).toBe(true);
    expect(h.proxy.requests.filter((r) => r.refused).map((r) => r.action)).toContain('CreateLoadBalancer');
    expect(outcome.result.ingress).toContainEqual({ ip: eip.publicIp });
    const inv = await inventory(h);
    expect(inv.loadBalancers.filter(ownedBy(svc.ref.uid))).toHaveLength(1);
    expect(inv.securityGroups.filter(ownedBy(svc.ref.uid))).toHaveLength(1);
  });

  it('refuses an Elastic IP associated with something else as a ServiceConfigError on spec.loadBalancerIP, before any create', async () => {
    const eip = await freshEip();
    await h.ec2.send(new AssociateAddressCommand({ AllocationId: eip.allocationId, InstanceId: h.world.nodes[0]!.instanceId }));
    h.provider.invalidateNetwork();
    const svc = makeService(h, { loadBalancerIP: eip.publicIp });
    h.proxy.requests.length = 0;
    const error = await converge(h.provider, svc).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe('spec.loadBalancerIP');
    expect((error as Error).message).toContain('already associated');
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });

  it('refuses two private addresses in one subnet, naming the annotation', async () => {
    const svc = makeService(h, { annotations: { [internal]: 'internal', [privateKey]: '10.0.1.30,10.0.1.31' } });
    const error = await converge(h.provider, svc).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe(privateKey);
    expect((error as Error).message).toContain('one private address per subnet');
  });
});
