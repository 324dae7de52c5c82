// The AWS Load Balancer Controller's Service annotations this provider honours (issues 16 and 19),
// against moto_server behind the validating proxy: each one applied, kept steady, and refused with a
// ServiceConfigError naming it when its value is bad.
import { AuthorizeSecurityGroupIngressCommand, CreateManagedPrefixListCommand, CreateSecurityGroupCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  CreateListenerCommand,
  DescribeListenerAttributesCommand,
  DescribeListenerCertificatesCommand,
  DescribeListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeTargetGroupAttributesCommand,
  ModifyLoadBalancerAttributesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceConfigError, type PodEndpoint } from '../../providers/provider.js';
import { motoClients } from '../support/moto.js';
import { type AwsHarness, converge, deleteFully, inventory, isSteady, makeService, ownedBy, refusal, startAwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness({ clusterName: 'lbc-cluster' });
});
afterAll(async () => {
  await h?.stop();
});

const A = 'service.beta.kubernetes.io/aws-load-balancer-';

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
    await deleteFully(h.provider, svc);
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

describe('aws-load-balancer-nlb-target-type: ip', () => {
  const ip = { [`${A}nlb-target-type`]: 'ip' };
  const endpoint = (address: string, ready = true, terminating = false): PodEndpoint => ({ address, ready, terminating, ports: { http: 8080 } });
  const targetsOf = async (uid: string) => (await inventory(h)).targetGroups.find(ownedBy(uid))?.targets ?? [];

  it('needs no NodePort, registers ready Pod IPs only, and an endpoint change plans membership only', async () => {
    const svc = makeService(h, { ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }], annotations: ip, podEndpoints: [endpoint('10.0.1.50'), endpoint('10.0.1.51', false)] });
    await converge(h.provider, svc);
    expect(await targetsOf(svc.ref.uid)).toEqual(['10.0.1.50:8080']);
    expect(await isSteady(h.provider, svc)).toBe(true);

    svc.podEndpoints = [endpoint('10.0.1.50', false, true), endpoint('10.0.1.51'), endpoint('10.0.1.52')];
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.every((a) => a.membershipOnly === true)).toBe(true);
    expect(plan.actions.map((a) => a.kind)).toEqual(['deregisterTargets', 'registerTargets']);
    await converge(h.provider, svc);
    expect(await targetsOf(svc.ref.uid)).toEqual(['10.0.1.51:8080', '10.0.1.52:8080']);

    // Endpoints not read yet (the controller's cache not synced): nothing is deregistered.
    delete svc.podEndpoints;
    expect(h.provider.diff(await h.provider.observe(svc.ref), svc).actions).toEqual([]);
    await deleteFully(h.provider, svc);
  });

  it('switching instance -> ip moves the listener to a new ip target group and deletes the instance one', async () => {
    const svc = makeService(h, { podEndpoints: [endpoint('10.0.1.60')] });
    await converge(h.provider, svc);
    const before = (await inventory(h)).targetGroups.filter(ownedBy(svc.ref.uid));
    expect(before.map((g) => g.targets.length)).toEqual([h.world.nodes.length]);
    svc.annotations = ip;
    await converge(h.provider, svc);
    const after = (await inventory(h)).targetGroups.filter(ownedBy(svc.ref.uid));
    expect(after).toHaveLength(1);
    expect(after[0]!.arn).not.toBe(before[0]!.arn);
    expect(after[0]!.targets).toEqual(['10.0.1.60:8080']);
    expect((await inventory(h)).listeners.find((l) => l.targetGroupArn === after[0]!.arn)).toBeDefined();
    expect(h.provider.diff(await h.provider.observe(svc.ref), svc).actions.map((x) => x.description)).toEqual([]);
    await deleteFully(h.provider, svc);
  });

  it('instance targets stay the default, and without a NodePort they are refused naming the field and the way out', async () => {
    const error = await refusal(converge(h.provider, makeService(h, { ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }] })));
    expect((error as ServiceConfigError).field).toBe('spec.ports[0].nodePort');
    expect((error as Error).message).toContain(`${A}nlb-target-type: ip`);
  });

  it('a bad value is a ServiceConfigError naming the annotation', async () => {
    const error = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}nlb-target-type`]: 'pod' } })));
    expect((error as ServiceConfigError).field).toBe(`${A}nlb-target-type`);
    expect(h.provider.wantsPodEndpoints?.({ annotations: { [`${A}nlb-target-type`]: 'pod' } })).toBe(false);
    expect(h.provider.wantsPodEndpoints?.({ annotations: ip })).toBe(true);
    expect(h.provider.wantsPodEndpoints?.({ annotations: {} })).toBe(false);
  });
});

describe('aws-load-balancer-proxy-protocol', () => {
  const proxy = { [`${A}proxy-protocol`]: '*' };
  const proxyOn = async (uid: string) => {
    const arn = (await inventory(h)).targetGroups.find(ownedBy(uid))!.arn;
    const res = await h.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
    return res.Attributes?.find((a) => a.Key === 'proxy_protocol_v2.enabled')?.Value;
  };

  it('"*" turns proxy_protocol_v2 on in place, Elastic IPs are reported with ipMode Proxy, and removing it turns it off', async () => {
    const eip = h.world.eips[0]!;
    const svc = makeService(h, { loadBalancerIP: eip.publicIp });
    await converge(h.provider, svc);
    expect(await proxyOn(svc.ref.uid)).not.toBe('true');

    svc.annotations = proxy;
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.map((a) => a.kind)).toEqual(['modifyTargetGroupAttributes']);
    await converge(h.provider, svc);
    expect(await proxyOn(svc.ref.uid)).toBe('true');
    const { result } = await converge(h.provider, svc);
    expect(result.ingress.filter((i) => i.hostname)).toEqual([{ hostname: expect.any(String) }]);
    expect(result.ingress.filter((i) => i.ip)).toEqual([{ ip: eip.publicIp, ipMode: 'Proxy' }]);
    expect(await isSteady(h.provider, svc)).toBe(true);

    svc.annotations = {};
    await converge(h.provider, svc);
    expect(await proxyOn(svc.ref.uid)).toBe('false');
    const { result: plain } = await converge(h.provider, svc);
    expect(plain.ingress.filter((i) => i.ip)).toEqual([{ ip: eip.publicIp }]);
    await deleteFully(h.provider, svc);
  });

  it('a value other than "*" is a ServiceConfigError naming the annotation', async () => {
    const error = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}proxy-protocol`]: 'true' } })));
    expect((error as ServiceConfigError).field).toBe(`${A}proxy-protocol`);
  });
});

/** An ACM certificate in moto (moto's CreateListener wants it to exist). No ACM client in the project: the JSON protocol by hand. */
async function acmCertificate(domain: string): Promise<string> {
  const res = await fetch(h.moto.endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': 'CertificateManager.RequestCertificate',
      // moto routes by the credential scope's service; it checks no signature.
      Authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/acm/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify({ DomainName: domain }),
  });
  const body = (await res.json()) as { CertificateArn?: string };
  if (!body.CertificateArn) throw new Error(`moto ACM gave no certificate: ${JSON.stringify(body)}`);
  return body.CertificateArn;
}

describe('TLS: ssl-cert, ssl-ports, ssl-negotiation-policy, alpn-policy, backend-protocol', () => {
  const twoPorts = [
    { name: 'http', port: 80, protocol: 'TCP' as const, nodePort: 30080 },
    { name: 'https', port: 443, protocol: 'TCP' as const, nodePort: 30443 },
  ];

  it('a TLS listener on the named ssl-port next to a TCP one, with the certificates and policies; steady', async () => {
    const [cert, extra] = [await acmCertificate('a.example.com'), await acmCertificate('b.example.com')];
    const svc = makeService(h, {
      ports: twoPorts,
      annotations: {
        [`${A}ssl-cert`]: `${cert},${extra}`,
        [`${A}ssl-ports`]: 'https',
        [`${A}ssl-negotiation-policy`]: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
        [`${A}alpn-policy`]: 'HTTP2Preferred',
      },
    });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const lbArn = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.arn;
    const listeners = (await h.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners!;
    const byPort = new Map(listeners.map((l) => [l.Port, l]));
    expect(byPort.get(80)!.Protocol).toBe('TCP');
    expect(byPort.get(443)!.Protocol).toBe('TLS');
    expect(byPort.get(443)!.Certificates?.[0]?.CertificateArn).toBe(cert);
    expect(byPort.get(443)!.SslPolicy).toBe('ELBSecurityPolicy-TLS13-1-2-2021-06');
    expect(byPort.get(443)!.AlpnPolicy).toEqual(['HTTP2Preferred']);
    const added = h.proxy.requests.filter((r) => r.action === 'AddListenerCertificates');
    expect(added.map((r) => r.params.get('Certificates.member.1.CertificateArn'))).toEqual([extra]);
    // The target groups stay TCP (TLS ends at the NLB).
    expect((await inventory(h)).targetGroups.filter(ownedBy(svc.ref.uid)).map((g) => g.protocol)).toEqual(['TCP', 'TCP']);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it('SNI certificates follow the list in place: one added, one removed, the default kept; steady', async () => {
    const [a, b, c] = [await acmCertificate('d.example.com'), await acmCertificate('e.example.com'), await acmCertificate('f.example.com')];
    const svc = makeService(h, { ports: twoPorts, annotations: { [`${A}ssl-cert`]: `${a},${b}`, [`${A}ssl-ports`]: '443' } });
    await converge(h.provider, svc);
    const lbArn = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.arn;
    const tlsListener = async () => (await h.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners!.find((l) => l.Port === 443)!;
    const certificates = async (arn: string) =>
      (await h.elbv2.send(new DescribeListenerCertificatesCommand({ ListenerArn: arn }))).Certificates!.map((x) => `${x.CertificateArn}${x.IsDefault ? ' (default)' : ''}`).sort();
    const before = await tlsListener();
    expect(await certificates(before.ListenerArn!)).toEqual([`${a} (default)`, b].sort());

    svc.annotations = { [`${A}ssl-cert`]: `${a},${c}`, [`${A}ssl-ports`]: '443' };
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    expect(h.proxy.requests.filter((r) => r.action === 'RemoveListenerCertificates').map((r) => r.params.get('Certificates.member.1.CertificateArn'))).toEqual([b]);
    expect(h.proxy.requests.filter((r) => r.action === 'AddListenerCertificates').map((r) => r.params.get('Certificates.member.1.CertificateArn'))).toEqual([c]);
    expect(h.proxy.requests.filter((r) => ['ModifyListener', 'DeleteListener', 'CreateListener'].includes(r.action))).toEqual([]);
    const after = await tlsListener();
    expect(after.ListenerArn).toBe(before.ListenerArn);
    expect(await certificates(after.ListenerArn!)).toEqual([`${a} (default)`, c].sort());
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it('backend-protocol: ssl makes TLS target groups; ssl-ports defaults to every TCP port', async () => {
    const cert = await acmCertificate('c.example.com');
    const svc = makeService(h, { ports: twoPorts, annotations: { [`${A}ssl-cert`]: cert, [`${A}backend-protocol`]: 'ssl' } });
    await converge(h.provider, svc);
    const inv = await inventory(h);
    expect(inv.targetGroups.filter(ownedBy(svc.ref.uid)).map((g) => g.protocol)).toEqual(['TLS', 'TLS']);
    const lbArn = inv.loadBalancers.find(ownedBy(svc.ref.uid))!.arn;
    expect((await h.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners!.map((l) => l.Protocol)).toEqual(['TLS', 'TLS']);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it.each([
    [{ [`${A}ssl-cert`]: 'not-an-arn' }, `${A}ssl-cert`],
    [{ [`${A}ssl-cert`]: 'arn:aws:acm:us-east-1:123456789012:certificate/x', [`${A}ssl-ports`]: 'nope' }, `${A}ssl-ports`],
    [{ [`${A}ssl-ports`]: '443' }, `${A}ssl-ports`],
    [{ [`${A}ssl-cert`]: 'arn:aws:acm:us-east-1:123456789012:certificate/x', [`${A}alpn-policy`]: 'h2' }, `${A}alpn-policy`],
    [{ [`${A}ssl-cert`]: 'arn:aws:acm:us-east-1:123456789012:certificate/x', [`${A}ssl-negotiation-policy`]: 'modern' }, `${A}ssl-negotiation-policy`],
    [{ [`${A}backend-protocol`]: 'ssl' }, `${A}backend-protocol`],
    [{ [`${A}backend-protocol`]: 'http' }, `${A}backend-protocol`],
  ])('refuses %o naming %s, before any create', async (annotations, field) => {
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, makeService(h, { ports: twoPorts, annotations })));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe(field);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });

  it('the proxy refuses a TLS listener without exactly one certificate, as AWS does', async () => {
    const viaProxy = motoClients(h.proxy.endpoint).elbv2;
    const error = await refusal(viaProxy.send(new CreateListenerCommand({ LoadBalancerArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/x/1', Protocol: 'TLS', Port: 443, DefaultActions: [] })));
    viaProxy.destroy();
    expect((error as Error).name).toBe('ValidationError');
  });
});

describe('target-node-labels and aws-load-balancer-name', () => {
  it('target-node-labels registers only matching nodes; a label change follows as membership only', async () => {
    const svc = makeService(h, { annotations: { [`${A}target-node-labels`]: 'role=edge,ingress' } });
    const labels: Record<string, string>[] = [{ role: 'edge', ingress: '' }, { role: 'edge' }, {}];
    svc.nodes = svc.nodes.map((n, i) => ({ ...n, labels: labels[i] ?? {} }));
    await converge(h.provider, svc);
    const instance = (i: number) => `${h.world.nodes[i]!.instanceId}:30080`;
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.targets).toEqual([instance(0)]);
    svc.nodes[1]!.labels = { role: 'edge', ingress: 'yes' };
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.every((a) => a.membershipOnly)).toBe(true);
    await converge(h.provider, svc);
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.targets).toEqual([instance(0), instance(1)].sort());
    await deleteFully(h.provider, svc);
  });

  it('aws-load-balancer-name names the NLB; a bad name is refused naming the annotation', async () => {
    const svc = makeService(h, { annotations: { [`${A}name`]: 'team-a-web' } });
    await converge(h.provider, svc);
    expect((await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.name).toBe('team-a-web');
    expect(await isSteady(h.provider, svc)).toBe(true);
    // The scheme cannot change under the same name: the user is told to rename.
    svc.annotations = { ...svc.annotations, [`${A}scheme`]: 'internal' };
    const error = await refusal(converge(h.provider, svc));
    expect((error as ServiceConfigError).field).toBe(`${A}name`);
    svc.annotations = { [`${A}name`]: 'team-a-web-internal', [`${A}scheme`]: 'internal' };
    await converge(h.provider, svc);
    expect((await inventory(h)).loadBalancers.filter(ownedBy(svc.ref.uid)).map((l) => l.name)).toEqual(['team-a-web-internal']);
    await deleteFully(h.provider, svc);

    for (const bad of ['-x', 'internal-web', 'a'.repeat(33), 'under_score']) {
      const refused = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}name`]: bad } })));
      expect((refused as ServiceConfigError).field).toBe(`${A}name`);
    }
  });

  it('the key earlier releases read (aws-load-balancer-load-balancer-name) still names the NLB; both with different names are refused', async () => {
    const svc = makeService(h, { annotations: { [`${A}load-balancer-name`]: 'team-b-web' } });
    await converge(h.provider, svc);
    expect((await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.name).toBe('team-b-web');
    // Moving to the controller's key with the same name changes nothing.
    svc.annotations = { [`${A}name`]: 'team-b-web' };
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
    const both = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}name`]: 'one', [`${A}load-balancer-name`]: 'two' } })));
    expect((both as ServiceConfigError).field).toBe(`${A}load-balancer-name`);
  });
});

describe('aws-load-balancer-attributes', () => {
  it('sets the load balancer attributes on create, tags the NLB so that they are read, and changes them in place', async () => {
    const svc = makeService(h, { annotations: { [`${A}attributes`]: 'load_balancing.cross_zone.enabled=true' } });
    await converge(h.provider, svc);
    const arn = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.arn;
    const attrs = async () => Object.fromEntries(((await h.elbv2.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }))).Attributes ?? []).map((a) => [a.Key, a.Value]));
    expect((await attrs())['load_balancing.cross_zone.enabled']).toBe('true');
    expect(await isSteady(h.provider, svc)).toBe(true);

    // Drift (someone turned it off) is repaired; a new value is applied in place.
    await h.elbv2.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: arn, Attributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'false' }] }));
    expect(h.provider.diff(await h.provider.observe(svc.ref), svc).actions.map((a) => a.kind)).toEqual(['modifyLoadBalancerAttributes']);
    await converge(h.provider, svc);
    expect((await attrs())['load_balancing.cross_zone.enabled']).toBe('true');
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it('an attribute AWS refuses, or a malformed pair, is a ServiceConfigError naming the annotation', async () => {
    const svc = makeService(h, { annotations: { [`${A}attributes`]: 'bogus.key=1' } });
    const error = await refusal(converge(h.provider, svc));
    expect((error as ServiceConfigError).field).toBe(`${A}attributes`);
    delete svc.annotations[`${A}attributes`];
    await converge(h.provider, svc);
    await deleteFully(h.provider, svc);
    const malformed = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}attributes`]: 'cross-zone' } })));
    expect((malformed as ServiceConfigError).field).toBe(`${A}attributes`);
  });
});

describe('aws-load-balancer-manage-backend-security-group-rules', () => {
  it('"false" leaves the node security groups alone; a bad value names the annotation', async () => {
    const ep: PodEndpoint = { address: '10.0.1.70', ready: true, terminating: false, ports: { http: 7070 } };
    const svc = makeService(h, { annotations: { [`${A}nlb-target-type`]: 'ip', [`${A}manage-backend-security-group-rules`]: 'false' }, podEndpoints: [ep] });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const nodeGroupWrites = () => h.proxy.requests.filter((r) => r.action === 'AuthorizeSecurityGroupIngress' && r.params.get('GroupId') === h.world.nodeSecurityGroupId);
    expect(nodeGroupWrites()).toEqual([]);
    expect(await isSteady(h.provider, svc)).toBe(true);
    // Managed (the default): the Pod port is opened from the backend group.
    svc.annotations = { [`${A}nlb-target-type`]: 'ip' };
    await converge(h.provider, svc);
    expect(nodeGroupWrites().map((r) => r.params.get('IpPermissions.1.FromPort'))).toEqual(['7070']);
    await deleteFully(h.provider, svc);
    const error = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}manage-backend-security-group-rules`]: 'no' } })));
    expect((error as ServiceConfigError).field).toBe(`${A}manage-backend-security-group-rules`);
  });
});

describe('aws-load-balancer-security-groups (bring your own)', () => {
  it('puts your groups on the NLB instead of the managed one, touches no node group, and changes them in place', async () => {
    const mk = async (name: string) => (await h.ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: 'mine', VpcId: h.world.vpcId }))).GroupId!;
    const [one, two] = [await mk('byo-one'), await mk('byo-two')];
    const svc = makeService(h, { annotations: { [`${A}security-groups`]: one } });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const lbOf = async () => (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!;
    const first = await lbOf();
    expect(first.securityGroups).toEqual([one]);
    expect((await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!.ingress).toEqual([]);
    expect(h.proxy.requests.filter((r) => r.action === 'AuthorizeSecurityGroupIngress')).toEqual([]);
    expect(await isSteady(h.provider, svc)).toBe(true);

    svc.annotations = { [`${A}security-groups`]: `${one},${two}` };
    expect(h.provider.diff(await h.provider.observe(svc.ref), svc).actions.map((a) => a.kind)).toEqual(['setSecurityGroups']);
    await converge(h.provider, svc);
    expect((await lbOf()).securityGroups.sort()).toEqual([one, two].sort());
    expect((await lbOf()).arn).toBe(first.arn);

    // Back to the managed group: it goes on the NLB with the source ranges and the backend group.
    svc.annotations = {};
    await converge(h.provider, svc);
    const managed = (await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!;
    expect((await lbOf()).securityGroups).toContain(managed.id);
    expect(managed.ingress).toContain('tcp/80/0.0.0.0/0');
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it('refuses source ranges next to your own groups, and anything but IDs, naming the annotation', async () => {
    const ranges = await refusal(converge(h.provider, makeService(h, { sourceRanges: ['10.0.0.0/8'], annotations: { [`${A}security-groups`]: 'sg-0123abcd' } })));
    expect((ranges as ServiceConfigError).field).toBe(`${A}security-groups`);
    const named = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}security-groups`]: 'my-group' } })));
    expect((named as ServiceConfigError).field).toBe(`${A}security-groups`);
  });
});

describe('aws-load-balancer-listener-attributes.<PROTOCOL>-<port>', () => {
  const key = `${A}listener-attributes.TCP-80`;
  it('sets a listener attribute, keeps it steady (read back for tagged NLBs), and changes it in place', async () => {
    const svc = makeService(h, { annotations: { [key]: 'tcp.idle_timeout.seconds=400' } });
    await converge(h.provider, svc);
    const lbArn = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.arn;
    const listenerArn = (await h.elbv2.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn }))).Listeners![0]!.ListenerArn!;
    const value = async () => (await h.elbv2.send(new DescribeListenerAttributesCommand({ ListenerArn: listenerArn }))).Attributes?.find((a) => a.Key === 'tcp.idle_timeout.seconds')?.Value;
    expect(await value()).toBe('400');
    expect(await isSteady(h.provider, svc)).toBe(true);
    svc.annotations = { [key]: 'tcp.idle_timeout.seconds=900' };
    expect(h.provider.diff(await h.provider.observe(svc.ref), svc).actions.map((a) => a.kind)).toEqual(['modifyListenerAttributes']);
    await converge(h.provider, svc);
    expect(await value()).toBe('900');
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it.each([
    [{ [key]: 'tcp.idle_timeout.seconds=5' }, key],
    [{ [`${A}listener-attributes.TCP-81`]: 'tcp.idle_timeout.seconds=400' }, `${A}listener-attributes.TCP-81`],
    [{ [`${A}listener-attributes.tcp80`]: 'tcp.idle_timeout.seconds=400' }, `${A}listener-attributes.tcp80`],
  ])('refuses %o naming %s', async (annotations, field) => {
    const svc = makeService(h, { annotations });
    const error = await refusal(converge(h.provider, svc));
    expect((error as ServiceConfigError).field).toBe(field);
    svc.annotations = {};
    await converge(h.provider, svc);
    await deleteFully(h.provider, svc);
  });
});

describe('per-port PROXY protocol and target group attributes', () => {
  const twoPorts = [
    { name: 'http', port: 80, protocol: 'TCP' as const, nodePort: 30080 },
    { name: 'https', port: 443, protocol: 'TCP' as const, nodePort: 30443 },
  ];
  /** The attributes of the group behind each listener port. */
  const byPort = async (uid: string): Promise<Record<number, Record<string, string | undefined>>> => {
    const inv = await inventory(h);
    const lbName = inv.loadBalancers.find(ownedBy(uid))!.name;
    const out: Record<number, Record<string, string | undefined>> = {};
    for (const l of inv.listeners.filter((x) => x.lbName === lbName)) {
      const res = await h.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: l.targetGroupArn }));
      out[l.port] = Object.fromEntries((res.Attributes ?? []).map((a) => [a.Key!, a.Value]));
    }
    return out;
  };

  it('proxy-protocol-per-target-group turns PROXY v2 on for the listed ports only, target-group-attributes.<port> sets one group; steady, and "*" wins', async () => {
    const svc = makeService(h, {
      ports: twoPorts,
      annotations: { [`${A}proxy-protocol-per-target-group`]: '443', [`${A}target-group-attributes.80`]: 'deregistration_delay.timeout_seconds=30' },
    });
    await converge(h.provider, svc);
    let attrs = await byPort(svc.ref.uid);
    expect(attrs[443]!['proxy_protocol_v2.enabled']).toBe('true');
    expect(attrs[80]!['proxy_protocol_v2.enabled']).not.toBe('true');
    expect(attrs[80]!['deregistration_delay.timeout_seconds']).toBe('30');
    expect(attrs[443]!['deregistration_delay.timeout_seconds']).toBe('300');
    expect(await isSteady(h.provider, svc)).toBe(true);

    // As the AWS Load Balancer Controller: proxy-protocol "*" is applied last, over the per-group list
    // and over a proxy_protocol_v2.enabled key in target-group-attributes.
    svc.annotations = { ...svc.annotations, [`${A}proxy-protocol`]: '*', [`${A}target-group-attributes`]: 'proxy_protocol_v2.enabled=false' };
    await converge(h.provider, svc);
    attrs = await byPort(svc.ref.uid);
    expect([attrs[80]!['proxy_protocol_v2.enabled'], attrs[443]!['proxy_protocol_v2.enabled']]).toEqual(['true', 'true']);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });

  it.each([
    [`${A}proxy-protocol-per-target-group`, 'https', 'is not a port number'],
    [`${A}proxy-protocol-per-target-group`, '80,8443', '8443 is not a port of the Service'],
    [`${A}target-group-attributes.8443`, 'deregistration_delay.timeout_seconds=30', '8443 is not a port of the Service'],
    [`${A}target-group-attributes.http`, 'deregistration_delay.timeout_seconds=30', 'is not a port'],
  ])('%s: %s is refused naming the annotation, before any create', async (key, value, why) => {
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, makeService(h, { ports: twoPorts, annotations: { [key]: value } })));
    expect((error as ServiceConfigError).field).toBe(key);
    expect((error as Error).message).toContain(why);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });
});

describe("the AWS Load Balancer Controller's deprecated and older spellings", () => {
  it('cross-zone-load-balancing-enabled and access-log-* become load balancer attributes, winning over aws-load-balancer-attributes; drift is repaired', async () => {
    const svc = makeService(h, {
      annotations: {
        [`${A}cross-zone-load-balancing-enabled`]: 'true',
        [`${A}attributes`]: 'load_balancing.cross_zone.enabled=false,deletion_protection.enabled=false',
        [`${A}access-log-enabled`]: 'false',
        [`${A}access-log-s3-bucket-name`]: 'ignored-while-disabled',
      },
    });
    await converge(h.provider, svc);
    const arn = (await inventory(h)).loadBalancers.find(ownedBy(svc.ref.uid))!.arn;
    const attrs = async () => Object.fromEntries(((await h.elbv2.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerArn: arn }))).Attributes ?? []).map((a) => [a.Key, a.Value]));
    expect((await attrs())['load_balancing.cross_zone.enabled']).toBe('true');
    expect((await attrs())['access_logs.s3.bucket']).toBe('');
    expect(await isSteady(h.provider, svc)).toBe(true);

    await h.elbv2.send(new ModifyLoadBalancerAttributesCommand({ LoadBalancerArn: arn, Attributes: [{ Key: 'load_balancing.cross_zone.enabled', Value: 'false' }] }));
    const repair = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(repair.actions.map((a) => a.description)).toEqual([expect.stringContaining('load_balancing.cross_zone.enabled=true')]);
    await h.provider.apply(repair);
    expect((await attrs())['load_balancing.cross_zone.enabled']).toBe('true');

    // Enabled access logs carry the bucket and prefix given.
    svc.annotations = { [`${A}access-log-enabled`]: 'True', [`${A}access-log-s3-bucket-name`]: 'my-logs', [`${A}access-log-s3-bucket-prefix`]: 'nlb' };
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.map((a) => a.description).join('\n')).toContain('access_logs.s3.enabled=true, access_logs.s3.bucket=my-logs, access_logs.s3.prefix=nlb');
    await deleteFully(h.provider, svc);
  });

  it('a value Go would not parse as a boolean is refused naming the deprecated annotation', async () => {
    const error = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}cross-zone-load-balancing-enabled`]: 'yes' } })));
    expect((error as ServiceConfigError).field).toBe(`${A}cross-zone-load-balancing-enabled`);
  });

  it('aws-load-balancer-type: nlb-ip makes ip target groups with the Pod IPs', async () => {
    const svc = makeService(h, {
      ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }],
      annotations: { [`${A}type`]: 'nlb-ip' },
      podEndpoints: [{ address: '10.0.1.70', ready: true, terminating: false, ports: { http: 8080 } }],
    });
    await converge(h.provider, svc);
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.targets).toEqual(['10.0.1.70:8080']);
    expect(h.provider.wantsPodEndpoints?.({ annotations: { [`${A}type`]: 'nlb-ip' } })).toBe(true);
    await deleteFully(h.provider, svc);
  });
});

describe("the AWS Load Balancer Controller's annotations this provider does not serve", () => {
  it.each([
    ['disable-nlb-sg', 'true', 'false'],
    ['multi-cluster-target-group', 'true', 'false'],
    ['inbound-sg-rules-on-private-link-traffic', 'off', 'on'],
    ['enable-icmp-for-path-mtu-discovery', 'off', 'on'],
    ['enable-tcp-udp-listener', 'false', 'true'],
    ['minimum-load-balancer-capacity', 'CapacityUnits=1000', undefined],
    ['eip-allocations-discovery-tags', 'team=web', undefined],
    ['quic-enabled-ports', '443', undefined],
  ])('%s: "%s" is refused naming it, before any create; the value that asks for what is built anyway is served', async (suffix, refused, served) => {
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, makeService(h, { annotations: { [`${A}${suffix}`]: refused } })));
    expect((error as ServiceConfigError).field).toBe(`${A}${suffix}`);
    expect((error as Error).message).toContain('not supported by this provider');
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
    if (served === undefined) return;
    const svc = makeService(h, { annotations: { [`${A}${suffix}`]: served } });
    await converge(h.provider, svc);
    expect(await isSteady(h.provider, svc)).toBe(true);
    await deleteFully(h.provider, svc);
  });
});
