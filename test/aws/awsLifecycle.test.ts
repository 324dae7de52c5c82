// The AWS provider against moto_server through the real AWS SDK v3: create, update (ports, health
// check, source ranges, node churn), delete, listOwned.
import { DescribeTargetGroupAttributesCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNoop, ServiceConfigError } from '../../providers/provider.js';
import { converge, inventory, isSteady, makeService, startAwsHarness, type AwsHarness, ownedBy } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness();
});
afterAll(async () => {
  await h?.stop();
});


describe('aws provider lifecycle', () => {
  it('creates an NLB with an instance target group on every node NodePort, reports its DNS name, then is a no-op', async () => {
    const svc = makeService(h);
    const first = await h.provider.apply(h.provider.diff(await h.provider.observe(svc.ref), svc));
    // NLB creation is asynchronous: the first apply answers "in progress" instead of waiting.
    expect(first.state).toBe('inProgress');
    const { result } = await converge(h.provider, svc);

    const inv = await inventory(h);
    const lbs = inv.loadBalancers.filter(ownedBy(svc.ref.uid));
    expect(lbs).toHaveLength(1);
    const lb = lbs[0]!;
    expect(result.ingress).toEqual([{ hostname: lb.dnsName }]);
    expect(lb.tags).toMatchObject({ [`kubernetes.io/cluster/${h.clusterName}`]: 'owned', 'kubernetes.io/service-name': `default/${svc.ref.name}` });
    expect(lb.name.length).toBeLessThanOrEqual(32);

    const tgs = inv.targetGroups.filter(ownedBy(svc.ref.uid));
    expect(tgs).toHaveLength(1);
    expect(tgs[0]!.protocol).toBe('TCP');
    expect(tgs[0]!.healthCheck).toEqual({ protocol: 'TCP', port: 'traffic-port' });
    expect(tgs[0]!.targets).toEqual(h.world.nodes.map((n) => `${n.instanceId}:30080`).sort());
    expect(inv.listeners.filter((l) => l.lbName === lb.name)).toEqual([{ lbName: lb.name, port: 80, protocol: 'TCP', targetGroupArn: tgs[0]!.arn }]);

    const sgs = inv.securityGroups.filter(ownedBy(svc.ref.uid));
    expect(sgs).toHaveLength(1);
    expect(inv.backendGroups).toHaveLength(1);
    expect(lb.securityGroups).toEqual([sgs[0]!.id, inv.backendGroups[0]]);
    // The listener's port from the source ranges, and ICMP Fragmentation Needed for path MTU discovery.
    expect(sgs[0]!.ingress).toEqual(['icmp/3/0.0.0.0/0', 'tcp/80/0.0.0.0/0']);
    // The node group admits the NodePort range once, from the cluster's shared backend group.
    expect(inv.nodeRules.filter((r) => r.source === inv.backendGroups[0]).map((r) => r.rule)).toEqual(['tcp/30000-32767']);

    expect(await isSteady(h.provider, svc)).toBe(true);
    expect(await h.provider.listOwned()).toContainEqual(svc.ref);
  });

  it('changes ports: adds a TCP_UDP group, moves a NodePort, removes a port, without touching the rest', async () => {
    const svc = makeService(h, { ports: [{ name: 'a', protocol: 'TCP', port: 80, nodePort: 30081 }, { name: 'b', protocol: 'TCP', port: 81, nodePort: 30082 }] });
    await converge(h.provider, svc);
    const before = await inventory(h);
    const lbArn = before.loadBalancers.find(ownedBy(svc.ref.uid))!.arn;

    // 80 moves to another NodePort, 81 goes away, 53 comes in as TCP+UDP.
    svc.ports = [
      { name: 'a', protocol: 'TCP', port: 80, nodePort: 30090 },
      { name: 'dns', protocol: 'TCP', port: 53, nodePort: 30053 },
      { name: 'dns-udp', protocol: 'UDP', port: 53, nodePort: 30053 },
    ];
    await converge(h.provider, svc);
    const inv = await inventory(h);
    const lb = inv.loadBalancers.find(ownedBy(svc.ref.uid))!;
    expect(lb.arn).toBe(lbArn);
    const listeners = inv.listeners.filter((l) => l.lbName === lb.name).sort((a, b) => a.port - b.port);
    expect(listeners.map((l) => `${l.protocol}:${l.port}`)).toEqual(['TCP_UDP:53', 'TCP:80']);
    const tgs = inv.targetGroups.filter(ownedBy(svc.ref.uid));
    expect(tgs.map((t) => t.protocol).sort()).toEqual(['TCP', 'TCP_UDP']);
    const tg80 = tgs.find((t) => t.protocol === 'TCP')!;
    expect(tg80.arn).toBe(before.targetGroups.find((t) => ownedBy(svc.ref.uid)(t) && t.tags['kube-lb-provisioner.io/service-port'] === '80/TCP')!.arn);
    expect(tg80.targets).toEqual(h.world.nodes.map((n) => `${n.instanceId}:30090`).sort());
    const sg = inv.securityGroups.find(ownedBy(svc.ref.uid))!;
    expect(sg.ingress).toEqual(['icmp/3/0.0.0.0/0', 'tcp/53/0.0.0.0/0', 'tcp/80/0.0.0.0/0', 'udp/53/0.0.0.0/0']);
    expect(inv.nodeRules.filter((r) => r.source === inv.backendGroups[0]).map((r) => r.rule).sort()).toEqual(['tcp/30000-32767', 'udp/30000-32767']);
    expect(await isSteady(h.provider, svc)).toBe(true);
  });

  it('changes health checks in place (ModifyTargetGroup), from annotations and externalTrafficPolicy', async () => {
    const svc = makeService(h);
    await converge(h.provider, svc);
    const arn = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.arn;

    svc.externalTrafficPolicy = 'Local';
    svc.healthCheckNodePort = 32001;
    h.calls.reset();
    await converge(h.provider, svc);
    expect(h.calls.count({ operation: 'ModifyTargetGroup' })).toBe(1);
    expect(h.calls.count({ operation: 'CreateTargetGroup' })).toBe(0);
    let tg = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    expect(tg.arn).toBe(arn);
    expect(tg.healthCheck).toEqual({ protocol: 'HTTP', port: '32001', path: '/healthz' });

    svc.annotations = {
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'http',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port': '8080',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-path': '/ready',
    };
    await converge(h.provider, svc);
    tg = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    expect(tg.arn).toBe(arn);
    expect(tg.healthCheck).toEqual({ protocol: 'HTTP', port: '8080', path: '/ready' });
    // The health check port, outside the NodePort range, is opened to the NLBs in the node group too.
    const inv = await inventory(h);
    expect(inv.nodeRules.filter((r) => r.source === inv.backendGroups[0]).map((r) => r.rule)).toContain('tcp/8080-8080');
    expect(await isSteady(h.provider, svc)).toBe(true);
  });

  it('sessionAffinity ClientIP: source-IP stickiness at creation, switched in place, the attributes annotation wins', async () => {
    const attributesOf = async (arn: string) => {
      const res = await h.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }));
      return Object.fromEntries((res.Attributes ?? []).map((a) => [a.Key!, a.Value!]));
    };
    const svc = makeService(h, { sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 600 });
    h.calls.reset();
    await converge(h.provider, svc);
    expect(h.calls.count({ operation: 'ModifyTargetGroupAttributes' })).toBe(1);
    const arn = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.arn;
    expect(await attributesOf(arn)).toMatchObject({ 'stickiness.enabled': 'true', 'stickiness.type': 'source_ip' });
    expect(await isSteady(h.provider, svc)).toBe(true);

    svc.sessionAffinity = 'None';
    delete svc.sessionAffinityTimeoutSeconds;
    const plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.map((a) => a.description)).toEqual([expect.stringMatching(/target group attributes of .*: stickiness.enabled true -> false$/)]);
    h.calls.reset();
    await converge(h.provider, svc);
    expect(h.calls.count({ operation: 'ModifyTargetGroupAttributes' })).toBe(1);
    expect(h.calls.count({ operation: 'CreateTargetGroup' })).toBe(0);
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.arn).toBe(arn);
    expect((await attributesOf(arn))['stickiness.enabled']).toBe('false');
    expect(await isSteady(h.provider, svc)).toBe(true);

    // An explicit key in the annotation wins over what spec.sessionAffinity implies.
    svc.sessionAffinity = 'ClientIP';
    svc.annotations = { 'service.beta.kubernetes.io/aws-load-balancer-target-group-attributes': 'stickiness.enabled=false,deregistration_delay.timeout_seconds=30' };
    await converge(h.provider, svc);
    expect(await attributesOf(arn)).toMatchObject({ 'stickiness.enabled': 'false', 'stickiness.type': 'source_ip', 'deregistration_delay.timeout_seconds': '30' });
    expect(await isSteady(h.provider, svc)).toBe(true);
  });

  it('answers a target group attribute AWS refuses with a ServiceConfigError naming the annotation', async () => {
    const key = 'service.beta.kubernetes.io/aws-load-balancer-target-group-attributes';
    const svc = makeService(h, { annotations: { [key]: 'deregistration_delay.timeout_seconds=99999' } });
    const error = await converge(h.provider, svc).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe(`metadata.annotations[${key}]`);
    expect((error as ServiceConfigError).message).toMatch(/AWS refused target group attributes deregistration_delay.timeout_seconds=99999/);
    svc.annotations = { [key]: 'deregistration_delay.timeout_seconds=60' };
    await converge(h.provider, svc);
    expect(await isSteady(h.provider, svc)).toBe(true);
  });

  it('a Service without session affinity sets no target group attribute; a read of it still reads them (for drift)', async () => {
    const svc = makeService(h);
    h.calls.reset();
    await converge(h.provider, svc);
    expect(h.calls.count({ operation: 'ModifyTargetGroupAttributes' })).toBe(0);
    // What the create wrote is not read back: a new group has AWS's defaults.
    expect(h.calls.count({ operation: 'DescribeTargetGroupAttributes' })).toBe(0);
    const restarted = await h.newProvider();
    h.calls.reset();
    expect(await isSteady(restarted, svc)).toBe(true);
    expect(h.calls.count({ operation: 'DescribeTargetGroupAttributes' })).toBe(1);
    await restarted.stop?.();
  });

  it('enforces loadBalancerSourceRanges on the NLB security group and follows changes', async () => {
    const svc = makeService(h, { sourceRanges: ['10.1.0.0/16', '192.168.0.0/24'] });
    await converge(h.provider, svc);
    let sg = (await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!;
    expect(sg.ingress).toEqual(['icmp/3/0.0.0.0/0', 'tcp/80/10.1.0.0/16', 'tcp/80/192.168.0.0/24']);

    svc.sourceRanges = ['203.0.113.0/24'];
    await converge(h.provider, svc);
    sg = (await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!;
    expect(sg.ingress).toEqual(['icmp/3/0.0.0.0/0', 'tcp/80/203.0.113.0/24']);

    svc.sourceRanges = [];
    await converge(h.provider, svc);
    sg = (await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!;
    expect(sg.ingress).toEqual(['icmp/3/0.0.0.0/0', 'tcp/80/0.0.0.0/0']);
  });

  it('follows node churn with membership-only register/deregister of just the change', async () => {
    const svc = makeService(h);
    await converge(h.provider, svc);
    const all = svc.nodes;

    svc.nodes = all.slice(1);
    let plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.filter((a) => a.mutating).map((a) => [a.kind, a.membershipOnly])).toEqual([['deregisterTargets', true]]);
    expect(plan.actions.find((a) => a.step.op === 'deregisterTargets')?.step).toMatchObject({ targets: [{ id: h.world.nodes[0]!.instanceId, port: 30080 }] });
    h.calls.reset();
    await h.provider.apply(plan);
    expect(h.calls.count({ mutating: true })).toBe(1);
    let tg = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    expect(tg.targets).toEqual(h.world.nodes.slice(1).map((n) => `${n.instanceId}:30080`).sort());

    svc.nodes = all;
    plan = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(plan.actions.filter((a) => a.mutating).map((a) => [a.kind, a.membershipOnly])).toEqual([['registerTargets', true]]);
    await h.provider.apply(plan);
    tg = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
    expect(tg.targets).toEqual(h.world.nodes.map((n) => `${n.instanceId}:30080`).sort());
  });

  it('adds the user\'s additional tags to what exists when the annotation changes', async () => {
    const svc = makeService(h);
    await converge(h.provider, svc);
    svc.annotations = { 'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags': 'team=payments,env=prod' };
    h.calls.reset();
    await converge(h.provider, svc);
    expect(h.calls.count({ mutating: true })).toBe(2); // AddTags (NLB + target group in one call), CreateTags (security group)
    const inv = await inventory(h);
    for (const r of [inv.loadBalancers.find(ownedBy(svc.ref.uid))!, inv.targetGroups.find(ownedBy(svc.ref.uid))!, inv.securityGroups.find(ownedBy(svc.ref.uid))!]) {
      expect(r.tags).toMatchObject({ team: 'payments', env: 'prod' });
    }
    expect(await isSteady(h.provider, svc)).toBe(true);
  });

  it('skips a node without a usable providerID, with a Warning Event', async () => {
    const svc = makeService(h);
    svc.nodes = [...svc.nodes, { name: 'no-id', providerID: 'kind://docker/x', internalIPs: [], externalIPs: [], labels: {} }];
    await converge(h.provider, svc);
    expect(h.events.some((e) => e.ref.uid === svc.ref.uid && e.type === 'Warning' && e.message.includes('no-id'))).toBe(true);
    expect((await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!.targets).toHaveLength(h.world.nodes.length);
  });

  it('deletes listeners, NLB, target groups, security group rules and the security group; again is a no-op', async () => {
    const svc = makeService(h, { sourceRanges: ['10.0.0.0/8'], ports: [{ name: 'a', protocol: 'TCP', port: 80, nodePort: 30100 }, { name: 'b', protocol: 'UDP', port: 90, nodePort: 30101 }] });
    await converge(h.provider, svc);
    const sgId = (await inventory(h)).securityGroups.find(ownedBy(svc.ref.uid))!.id;
    const sharedRules = (await inventory(h)).nodeRules;
    expect(await h.provider.delete(svc.ref)).toEqual({ state: 'deleted' });
    const inv = await inventory(h);
    expect(inv.loadBalancers.filter(ownedBy(svc.ref.uid))).toEqual([]);
    expect(inv.targetGroups.filter(ownedBy(svc.ref.uid))).toEqual([]);
    expect(inv.securityGroups.filter(ownedBy(svc.ref.uid))).toEqual([]);
    expect(inv.nodeRules.filter((r) => r.source === sgId)).toEqual([]);
    // The shared backend rules serve the other Services and stay.
    expect(inv.nodeRules).toEqual(sharedRules);
    expect(await h.provider.delete(svc.ref)).toEqual({ state: 'deleted' });
    expect((await h.provider.listOwned()).map((r) => r.uid)).not.toContain(svc.ref.uid);
    const after = h.provider.diff(await h.provider.observe(svc.ref), svc);
    expect(isNoop(after)).toBe(false);
  });
});
