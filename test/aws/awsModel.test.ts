// The pure parts of the AWS provider: annotations, names, the desired stack and the diff.
import { describe, expect, it } from 'vitest';
import { parseAwsAnnotations } from '../../providers/aws/annotations.js';
import { classifyAwsError, elbRateFamily } from '../../providers/aws/awsApi.js';
import { awsConfigSchema } from '../../providers/aws/config.js';
import type { AwsNetwork, AwsObserved, ObservedStack } from '../../providers/aws/awsTypes.js';
import { buildDesiredStack } from '../../providers/aws/desiredStack.js';
import { loadBalancerName, targetGroupName } from '../../providers/aws/names.js';
import { ingressRules } from '../../providers/aws/observe.js';
import { AWS_DEFAULT_QUOTAS, checkQuotas } from '../../providers/aws/quotas.js';
import { planActions } from '../../providers/aws/planActions.js';
import { instanceIdFromProviderID } from '../../providers/aws/providerID.js';
import type { DesiredLoadBalancer } from '../../providers/provider.js';
import { desiredFixture } from '../support/desiredFixture.js';
import { thrownConfigError } from '../support/configError.js';

const env: AwsNetwork = {
  subnets: [
    { id: 'subnet-b2', zone: 'us-east-1b', vpcId: 'vpc-1', cidr: '10.0.2.0/24', tags: { 'kubernetes.io/role/elb': '1', 'kubernetes.io/cluster/c1': 'owned' } },
    { id: 'subnet-a1', zone: 'us-east-1a', vpcId: 'vpc-1', cidr: '10.0.1.0/24', tags: { 'kubernetes.io/role/elb': '1', 'kubernetes.io/cluster/c1': 'shared' } },
    { id: 'subnet-a0', zone: 'us-east-1a', vpcId: 'vpc-1', cidr: '10.0.0.0/24', tags: { 'kubernetes.io/role/elb': '1', 'kubernetes.io/cluster/c1': 'owned' } },
    { id: 'subnet-x', zone: 'us-east-1c', vpcId: 'vpc-1', cidr: '10.0.9.0/24', tags: { 'kubernetes.io/role/elb': '1', 'kubernetes.io/cluster/other': 'owned' } },
    { id: 'subnet-i', zone: 'us-east-1a', vpcId: 'vpc-1', cidr: '10.0.5.0/24', tags: { 'kubernetes.io/role/internal-elb': '1', 'kubernetes.io/cluster/c1': 'owned', Name: 'private-a' } },
  ],
  addresses: [{ allocationId: 'eipalloc-1', publicIp: '203.0.113.10', associated: false }],
  nodeSecurityGroupIds: ['sg-nodes'],
  nodePortRange: { from: 30000, to: 32767 },
  backend: {
    id: 'sg-backend',
    nodeRules: [
      { groupId: 'sg-nodes', protocol: 'tcp', fromPort: 30000, toPort: 32767 },
      { groupId: 'sg-nodes', protocol: 'udp', fromPort: 30000, toPort: 32767 },
      { groupId: 'sg-nodes', protocol: 'tcp', fromPort: 10256, toPort: 10256 },
    ],
  },
};

function desired(overrides: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  return desiredFixture({
    ref: { namespace: 'ns', name: 'web', uid: '0b8f2a1c-1111-2222-3333-444455556666' },
    nodes: [
      { name: 'n1', providerID: 'aws:///us-east-1a/i-0123456789abcdef0', internalIPs: [], externalIPs: [], labels: {} },
      { name: 'n2', providerID: 'aws:///us-east-1b/i-0fedcba9876543210', internalIPs: [], externalIPs: [], labels: {} },
    ],
    ...overrides,
  });
}

describe('aws annotations', () => {
  it('parses scheme, subnets, EIPs, tags and health check overrides', () => {
    const o = parseAwsAnnotations({
      'service.beta.kubernetes.io/aws-load-balancer-subnets': 'subnet-a, subnet-b',
      'service.beta.kubernetes.io/aws-load-balancer-eip-allocations': 'eipalloc-1,eipalloc-2',
      'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags': 'team=web, cost=42',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'http',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port': '8080',
      'service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval': '10',
    });
    expect(o).toEqual({
      scheme: 'internet-facing',
      ipAddressType: 'ipv4',
      targetType: 'instance',
      proxyProtocol: false,
      manageBackendRules: true,
      subnets: ['subnet-a', 'subnet-b'],
      eipAllocations: ['eipalloc-1', 'eipalloc-2'],
      additionalTags: { team: 'web', cost: '42' },
      healthCheck: { protocol: 'HTTP', port: 8080, intervalSeconds: 10 },
    });
    expect(parseAwsAnnotations({ 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true' }).scheme).toBe('internal');
    // The scheme annotation wins over the older internal one, which must still be well formed.
    expect(parseAwsAnnotations({ 'service.beta.kubernetes.io/aws-load-balancer-internal': 'true', 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing' }).scheme).toBe('internet-facing');
    // Your own security groups leave the backend rules to you unless asked for, as LBC.
    const sg = 'service.beta.kubernetes.io/aws-load-balancer-security-groups';
    expect(parseAwsAnnotations({ [sg]: 'sg-0abc, sg-0abc' })).toMatchObject({ securityGroups: ['sg-0abc'], manageBackendRules: false });
    expect(parseAwsAnnotations({ [sg]: 'sg-0abc', 'service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules': 'true' }).manageBackendRules).toBe(true);
    expect(parseAwsAnnotations({}).manageBackendRules).toBe(true);
  });

  it.each([
    ['service.beta.kubernetes.io/aws-load-balancer-type', 'classic'],
    ['service.beta.kubernetes.io/aws-load-balancer-scheme', 'public'],
    ['service.beta.kubernetes.io/aws-load-balancer-internal', 'yes'],
    ['service.beta.kubernetes.io/aws-load-balancer-eip-allocations', '1.2.3.4'],
    ['service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval', '1'],
    ['service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol', 'UDP'],
    ['service.beta.kubernetes.io/aws-load-balancer-healthcheck-path', 'healthz'],
    ['service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags', 'kubernetes.io/cluster/x=owned'],
    ['service.beta.kubernetes.io/aws-load-balancer-security-groups', 'sg-0abc,web'],
    ['service.beta.kubernetes.io/aws-load-balancer-security-groups', ' , '],
    ['service.beta.kubernetes.io/aws-load-balancer-manage-backend-security-group-rules', 'yes'],
    ['service.beta.kubernetes.io/aws-load-balancer-security-group-prefix-lists', 'pl-12,prefix'],
    ['service.beta.kubernetes.io/aws-load-balancer-target-node-labels', 'bad key=x'],
    ['service.beta.kubernetes.io/aws-load-balancer-load-balancer-name', 'internal-web'],
    ['service.beta.kubernetes.io/aws-load-balancer-name', 'internal-web'],
    ['service.beta.kubernetes.io/aws-load-balancer-proxy-protocol-per-target-group', 'http'],
    ['service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled', 'yes'],
    ['service.beta.kubernetes.io/aws-load-balancer-access-log-enabled', 'on'],
    ['service.beta.kubernetes.io/aws-load-balancer-enable-prefix-for-ipv6-source-nat', 'true'],
    ['service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.http', 'stickiness.enabled=true'],
    ['service.beta.kubernetes.io/aws-load-balancer-target-group-attributes.0x1bb', 'stickiness.enabled=true'],
    ['service.beta.kubernetes.io/aws-load-balancer-listener-attributes.HTTP-80', 'tcp.idle_timeout.seconds=400'],
    ['service.beta.kubernetes.io/aws-load-balancer-healthcheck-success-codes', '2xx'],
  ])('rejects %s=%s naming the annotation', (key, value) => {
    expect(thrownConfigError(() => parseAwsAnnotations({ [key]: value })).field).toBe(key);
  });
});

describe('aws error classification', () => {
  it('retries throttling and 5xx, not client errors', () => {
    const err = (name: string, status: number, fault: 'client' | 'server' = 'client') => Object.assign(new Error(name), { name, $fault: fault, $metadata: { httpStatusCode: status } });
    expect(classifyAwsError(err('Throttling', 400))).toBe('throttled');
    expect(classifyAwsError(err('RequestLimitExceeded', 503, 'server'))).toBe('throttled');
    expect(classifyAwsError(err('InternalFailure', 500, 'server'))).toBe('transient');
    expect(classifyAwsError(err('LoadBalancerNotFoundException', 400))).toBe('fatal');
    expect(classifyAwsError(err('ValidationError', 400))).toBe('fatal');
  });
});

describe('aws names and provider IDs', () => {
  it('derives names within 32 characters, stable, different per placement', () => {
    const a = loadBalancerName('c1', 'uid', 'p1');
    expect(a).toMatch(/^k8s-[0-9a-f]{28}$/);
    expect(loadBalancerName('c1', 'uid', 'p1')).toBe(a);
    expect(loadBalancerName('c1', 'uid', 'p2')).not.toBe(a);
    expect(loadBalancerName('c2', 'uid', 'p1')).not.toBe(a);
    expect(targetGroupName(a, 65535, 'TCP_UDP').length).toBeLessThanOrEqual(32);
  });

  it('reads instance IDs from providerID', () => {
    expect(instanceIdFromProviderID('aws:///us-east-1a/i-0123456789abcdef0')).toBe('i-0123456789abcdef0');
    expect(instanceIdFromProviderID('aws:////i-0123456789abcdef0')).toBe('i-0123456789abcdef0');
    expect(instanceIdFromProviderID('gce://p/z/n')).toBeUndefined();
    expect(instanceIdFromProviderID(undefined)).toBeUndefined();
  });
});

describe('aws desired stack', () => {
  it('discovers one subnet per zone tagged for this cluster, sorted by zone then ID', () => {
    expect(buildDesiredStack(desired(), env).subnetMappings).toEqual([{ SubnetId: 'subnet-a0' }, { SubnetId: 'subnet-b2' }]);
  });

  it('discovers role-tagged subnets without any cluster tag (as the AWS Load Balancer Controller does), preferring this cluster\'s in a zone, never another cluster\'s, never one too full', () => {
    const open = { 'kubernetes.io/role/elb': '1' };
    const more: AwsNetwork = {
      ...env,
      subnets: [
        ...env.subnets,
        { id: 'subnet-c1', zone: 'us-east-1c', vpcId: 'vpc-1', cidr: '10.0.10.0/24', tags: open },
        { id: 'subnet-a-untagged', zone: 'us-east-1a', vpcId: 'vpc-1', cidr: '10.0.11.0/24', tags: open },
        { id: 'subnet-d-full', zone: 'us-east-1d', vpcId: 'vpc-1', cidr: '10.0.12.0/28', tags: open, freeIps: 7 },
      ],
    };
    expect(buildDesiredStack(desired(), more).subnetMappings).toEqual([{ SubnetId: 'subnet-a0' }, { SubnetId: 'subnet-b2' }, { SubnetId: 'subnet-c1' }]);
  });

  it('refuses two listed subnets in one zone, and a listed subnet with fewer than 8 free addresses, naming the annotation', () => {
    const subnets = 'service.beta.kubernetes.io/aws-load-balancer-subnets';
    expect(thrownConfigError(() => buildDesiredStack(desired({ annotations: { [subnets]: 'subnet-a0,subnet-a1' } }), env)).message).toContain('one subnet per zone');
    const full: AwsNetwork = { ...env, subnets: env.subnets.map((s) => (s.id === 'subnet-b2' ? { ...s, freeIps: 3 } : s)) };
    const error = thrownConfigError(() => buildDesiredStack(desired({ annotations: { [subnets]: 'subnet-b2' } }), full));
    expect(error.field).toBe(subnets);
    expect(error.message).toContain('at least 8');
  });

  it('refuses IPv6 source ranges on an IPv4 NLB, naming spec.loadBalancerSourceRanges', () => {
    const error = thrownConfigError(() => buildDesiredStack(desired({ sourceRanges: ['203.0.113.0/24', '2001:db8::/32'] }), env));
    expect(error.field).toBe('spec.loadBalancerSourceRanges');
    expect(error.message).toContain('2001:db8::/32');
  });

  it('opens TCP on the NodePort for a UDP group health-checked on its traffic port', () => {
    const udp = desired({
      ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 }],
      annotations: { 'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'TCP', 'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port': 'traffic-port' },
    });
    expect(buildDesiredStack(udp, env).nodeAccess).toContainEqual({ protocol: 'tcp', fromPort: 30000, toPort: 32767 });
  });

  it('maps spec.loadBalancerIP to its Elastic IP allocation, and refuses one the account does not hold', () => {
    const s = buildDesiredStack(desired({ loadBalancerIP: '203.0.113.10' }), env);
    // Every zone keeps a subnet (so every zone's nodes serve); the address goes on the first one.
    expect(s.subnetMappings).toEqual([{ SubnetId: 'subnet-a0', AllocationId: 'eipalloc-1' }, { SubnetId: 'subnet-b2' }]);
    expect(s.crossZone).toBe(true);
    expect(s.addresses).toEqual(['203.0.113.10']);
    expect(thrownConfigError(() => buildDesiredStack(desired({ loadBalancerIP: '203.0.113.99' }), env)).field).toBe('spec.loadBalancerIP');
  });

  it('uses PrivateIPv4Address for internal load balancers and resolves subnets by Name', () => {
    const s = buildDesiredStack(
      desired({ loadBalancerIP: '10.0.5.20', annotations: { 'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal', 'service.beta.kubernetes.io/aws-load-balancer-subnets': 'private-a' } }),
      env,
    );
    expect(s.subnetMappings).toEqual([{ SubnetId: 'subnet-i', PrivateIPv4Address: '10.0.5.20' }]);
  });

  it('health checks: Local -> HTTP healthCheckNodePort /healthz; Cluster -> TCP traffic-port; UDP -> kube-proxy', () => {
    expect(buildDesiredStack(desired({ externalTrafficPolicy: 'Local', healthCheckNodePort: 31000 }), env).groups[0]!.healthCheck).toEqual({ protocol: 'HTTP', port: '31000', path: '/healthz' });
    expect(buildDesiredStack(desired(), env).groups[0]!.healthCheck).toEqual({ protocol: 'TCP', port: 'traffic-port' });
    expect(buildDesiredStack(desired({ ports: [{ name: 'u', protocol: 'UDP', port: 53, nodePort: 30053 }] }), env).groups[0]!.healthCheck).toEqual({ protocol: 'HTTP', port: '10256', path: '/healthz' });
  });

  it('merges TCP and UDP on one port into TCP_UDP, rejects SCTP and differing NodePorts', () => {
    const both = desired({ ports: [{ name: 'a', protocol: 'TCP', port: 53, nodePort: 30053 }, { name: 'b', protocol: 'UDP', port: 53, nodePort: 30053 }] });
    expect(buildDesiredStack(both, env).groups.map((g) => g.protocol)).toEqual(['TCP_UDP']);
    expect(thrownConfigError(() => buildDesiredStack(desired({ ports: [{ name: 's', protocol: 'SCTP', port: 1, nodePort: 30001 }] }), env)).field).toBe('spec.ports[0].protocol');
    const differ = desired({ ports: [{ name: 'a', protocol: 'TCP', port: 53, nodePort: 30053 }, { name: 'b', protocol: 'UDP', port: 53, nodePort: 30054 }] });
    expect(thrownConfigError(() => buildDesiredStack(differ, env)).field).toBe('spec.ports[1].nodePort');
  });

  it('refuses IPv6-first and RequireDualStack Services on an IPv4 NLB, naming ip-address-type; serves PreferDualStack [IPv4, IPv6] with IPv4', () => {
    const type = 'service.beta.kubernetes.io/aws-load-balancer-ip-address-type';
    const v6 = thrownConfigError(() => buildDesiredStack(desired({ ipFamilies: ['IPv6'] }), env));
    expect(v6.field).toBe(type);
    expect(v6.message).toContain('dualstack');
    expect(thrownConfigError(() => buildDesiredStack(desired({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }), env)).field).toBe(type);
    expect(buildDesiredStack(desired({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' }), env).ipAddressType).toBe('ipv4');
  });

  it('skips nodes without a usable providerID', () => {
    const d = desired();
    d.nodes.push({ name: 'bad', providerID: 'kind://x', internalIPs: [], externalIPs: [], labels: {} });
    const s = buildDesiredStack(d, env);
    expect(s.instanceIds).toEqual(['i-0123456789abcdef0', 'i-0fedcba9876543210']);
    expect(s.skippedNodes.map((n) => n.name)).toEqual(['bad']);
  });
});

describe('aws diff', () => {
  function steadyObserved(d: DesiredLoadBalancer, targets: string[]): AwsObserved {
    const s = buildDesiredStack(d, env);
    const g = s.groups[0]!;
    const stack: ObservedStack = {
      lbName: s.lbName,
      placement: s.placement,
      securityGroup: { id: 'sg-lb', ingress: s.ingress, tags: s.tags },
      holds: [],
      loadBalancer: {
        arn: 'arn:lb',
        dnsName: 'x.elb.amazonaws.com',
        state: 'active',
        owned: true,
        tags: s.tags,
        addresses: [],
        zones: s.subnetMappings.map((m) => ({ zone: env.subnets.find((x) => x.id === m.SubnetId)!.zone, subnetId: m.SubnetId, pinned: m.AllocationId !== undefined })),
      },
      listeners: [{ arn: 'arn:l', port: g.port, protocol: g.protocol, targetGroupArn: 'arn:tg' }],
      targetGroups: [{ arn: 'arn:tg', name: g.targetGroupName, protocol: g.protocol, port: g.nodePort, owned: true, tags: s.tags, healthCheck: g.healthCheck, targets: targets.map((id) => ({ id, port: g.nodePort })) }],
    };
    return { ref: d.ref, stacks: [stack], network: env };
  }

  it('is a no-op in steady state and reports the DNS name', () => {
    const d = desired();
    const plan = planActions(steadyObserved(d, ['i-0123456789abcdef0', 'i-0fedcba9876543210']), d);
    expect(plan.actions).toEqual([]);
    expect(plan.ingress).toEqual([{ hostname: 'x.elb.amazonaws.com' }]);
  });

  it('plans a create in crash-safe order; the first Service of a cluster also sets up the backend group', () => {
    let plan = planActions({ ref: desired().ref, stacks: [], network: env }, desired());
    expect(plan.actions.map((a) => a.kind)).toEqual(['createSecurityGroup', 'authorizeIngress', 'createTargetGroup', 'createLoadBalancer', 'createListener', 'registerTargets']);
    const bare = { ...env, backend: undefined };
    plan = planActions({ ref: desired().ref, stacks: [], network: bare }, desired({ externalTrafficPolicy: 'Local', healthCheckNodePort: 31000 }));
    expect(plan.actions.map((a) => a.kind)).toEqual(['createSecurityGroup', 'authorizeIngress', 'createTargetGroup', 'ensureBackendSecurityGroup', 'createLoadBalancer', 'createListener', 'registerTargets', 'authorizeNodeRules']);
    // One range rule covers every NodePort and health check port inside it.
    expect(plan.actions.at(-1)!.step).toEqual({ op: 'authorizeNodeRules', groupId: 'sg-nodes', rules: [{ protocol: 'tcp', fromPort: 30000, toPort: 32767 }] });
    expect(plan.actions.every((a) => a.description.length > 0)).toBe(true);
  });

  it('node churn produces only membership actions, chunked', () => {
    const d = desired();
    d.nodes = Array.from({ length: 250 }, (_, i) => ({ name: `n${i}`, providerID: `aws:///z/i-${(0x10000000 + i).toString(16)}`, internalIPs: [], externalIPs: [], labels: {} }));
    const plan = planActions(steadyObserved(d, ['i-0123456789abcdef0']), d, 100);
    expect(plan.actions.map((a) => [a.kind, a.membershipOnly])).toEqual([
      ['deregisterTargets', true],
      ['registerTargets', true],
      ['registerTargets', true],
      ['registerTargets', true],
    ]);
  });

  it('refuses to adopt a load balancer without this cluster\'s ownership tag', () => {
    const d = desired();
    const observed = steadyObserved(d, []);
    observed.stacks[0]!.loadBalancer!.owned = false;
    expect(() => planActions(observed, d)).toThrow(/left alone/);
  });
});

describe('aws session affinity (target group stickiness)', () => {
  const affinity = (overrides: Partial<DesiredLoadBalancer> = {}) => desired(overrides);
  function observedWith(d: DesiredLoadBalancer, attributes: Record<string, string> | undefined): AwsObserved {
    const s = buildDesiredStack(d, env);
    const g = s.groups[0]!;
    const tg = { arn: 'arn:tg', name: g.targetGroupName, protocol: g.protocol, port: g.nodePort, owned: true, tags: s.tags, healthCheck: g.healthCheck, targets: [] };
    const stack: ObservedStack = {
      lbName: s.lbName,
      placement: s.placement,
      securityGroup: { id: 'sg-lb', ingress: s.ingress, tags: s.tags },
      holds: [],
      listeners: [],
      targetGroups: [attributes ? { ...tg, attributes } : tg],
    };
    return { ref: d.ref, stacks: [stack], network: env };
  }
  const attributeSteps = (o: AwsObserved, d: DesiredLoadBalancer) => planActions(o, d).actions.filter((a) => a.kind === 'modifyTargetGroupAttributes');

  it('maps ClientIP to source_ip stickiness and None to stickiness off; the annotation wins per key', () => {
    expect(buildDesiredStack(affinity({ sessionAffinity: 'ClientIP' }), env).groups[0]!.attributes).toEqual({ 'stickiness.enabled': 'true', 'stickiness.type': 'source_ip', 'proxy_protocol_v2.enabled': 'false' });
    expect(buildDesiredStack(affinity(), env).groups[0]!.attributes).toEqual({ 'stickiness.enabled': 'false', 'proxy_protocol_v2.enabled': 'false' });
    const annotated = affinity({
      sessionAffinity: 'ClientIP',
      annotations: { 'service.beta.kubernetes.io/aws-load-balancer-target-group-attributes': 'stickiness.enabled=false, deregistration_delay.timeout_seconds=30' },
    });
    expect(buildDesiredStack(annotated, env).groups[0]!.attributes).toEqual({ 'stickiness.enabled': 'false', 'stickiness.type': 'source_ip', 'proxy_protocol_v2.enabled': 'false', 'deregistration_delay.timeout_seconds': '30' });
    expect(thrownConfigError(() => parseAwsAnnotations({ 'service.beta.kubernetes.io/aws-load-balancer-target-group-attributes': 'stickiness.enabled' })).field).toBe(
      'service.beta.kubernetes.io/aws-load-balancer-target-group-attributes',
    );
  });

  it('sets stickiness right after creating a target group, before the listener, and nothing for None', () => {
    const d = affinity({ sessionAffinity: 'ClientIP' });
    const kinds = planActions({ ref: d.ref, stacks: [], network: env }, d).actions.map((a) => a.kind);
    expect(kinds.indexOf('modifyTargetGroupAttributes')).toBe(kinds.indexOf('createTargetGroup') + 1);
    expect(kinds.indexOf('modifyTargetGroupAttributes')).toBeLessThan(kinds.indexOf('createListener'));
    expect(planActions({ ref: d.ref, stacks: [], network: env }, affinity()).actions.some((a) => a.kind === 'modifyTargetGroupAttributes')).toBe(false);
  });

  it('changes only the attributes that differ, in place, and is steady once they match', () => {
    const on = affinity({ sessionAffinity: 'ClientIP' });
    const steps = attributeSteps(observedWith(on, { 'stickiness.enabled': 'false', 'stickiness.type': 'source_ip', 'deregistration_delay.timeout_seconds': '300' }), on);
    expect(steps.map((a) => [a.step, a.mutating, a.membershipOnly])).toEqual([
      [{ op: 'modifyTargetGroupAttributes', targetGroupName: buildDesiredStack(on, env).groups[0]!.targetGroupName, attributes: { 'stickiness.enabled': 'true' } }, true, undefined],
    ]);
    expect(steps[0]!.description).toMatch(/stickiness.enabled false -> true/);
    expect(attributeSteps(observedWith(on, { 'stickiness.enabled': 'true', 'stickiness.type': 'source_ip' }), on)).toEqual([]);
    const off = affinity();
    expect(attributeSteps(observedWith(off, { 'stickiness.enabled': 'true', 'stickiness.type': 'source_ip' }), off).map((a) => a.step)).toEqual([
      expect.objectContaining({ attributes: { 'stickiness.enabled': 'false' } }),
    ]);
    expect(attributeSteps(observedWith(off, undefined), off)).toEqual([]);
  });
});

describe('aws client-side rate limits', () => {
  it('takes ELB tokens per action family, as ELBv2 limits them', () => {
    expect(['DescribeLoadBalancers', 'DescribeTargetHealth', 'ModifyListener', 'ModifyTargetGroupAttributes', 'RegisterTargets', 'DeregisterTargets', 'CreateLoadBalancer', 'SetSubnets'].map(elbRateFamily)).toEqual([
      'describe',
      'describe',
      'modify',
      'modify',
      'registration',
      'registration',
      'other',
      'other',
    ]);
  });

  it("defaults to the AWS Load Balancer Controller's per-action limits", () => {
    const { rateLimits } = awsConfigSchema.parse({ type: 'aws', region: 'us-east-1' });
    expect(rateLimits).toMatchObject({
      describe: { ratePerSecond: 50, burst: 200 },
      modify: { ratePerSecond: 3, burst: 20 },
      registration: { ratePerSecond: 4, burst: 20 },
    });
  });
});

describe('aws placement and ip targets (pure)', () => {
  const subnets = { 'service.beta.kubernetes.io/aws-load-balancer-subnets': 'subnet-a0' };
  it('the subnets annotation leaves the NLB name unless the mappings carry addresses; the old name is kept as legacyLbName', () => {
    const plain = buildDesiredStack({ ...desired(), clusterName: 'c1' }, env);
    const listed = buildDesiredStack({ ...desired({ annotations: subnets }), clusterName: 'c1' }, env);
    expect(listed.lbName).toBe(plain.lbName);
    expect(listed.legacyLbName).toBeDefined();
    expect(listed.legacyLbName).not.toBe(listed.lbName);
    const pinned = buildDesiredStack({ ...desired({ annotations: subnets, loadBalancerIP: '203.0.113.10' }), clusterName: 'c1' }, env);
    const pinnedOther = buildDesiredStack({ ...desired({ annotations: { 'service.beta.kubernetes.io/aws-load-balancer-subnets': 'subnet-b2' }, loadBalancerIP: '203.0.113.10' }), clusterName: 'c1' }, env);
    expect(pinned.lbName).not.toBe(pinnedOther.lbName);
    expect(pinned.legacyLbName).toBeUndefined();
  });

  it('ip targets: ready, not terminating IPv4 endpoints on the port of the same name; none known means no membership steps', () => {
    const ip = { 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip' };
    const ep = (address: string, ready: boolean, terminating: boolean, port = 8080) => ({ address, ready, terminating, ports: { http: port } });
    const d = desired({ annotations: ip, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }], podEndpoints: [ep('10.0.1.5', true, false), ep('10.0.1.6', false, false), ep('10.0.1.7', true, true), ep('fd00::1', true, false), ep('10.0.1.8', true, false, 9090)] });
    const stack = buildDesiredStack({ ...d, clusterName: 'c1' }, env);
    expect(stack.groups[0]).toMatchObject({ targetType: 'ip', targets: [{ id: '10.0.1.5', port: 8080 }, { id: '10.0.1.8', port: 9090 }] });
    expect(stack.groups[0]!.targetGroupName).toMatch(/-80ti$/);
    expect(stack.instanceIds).toEqual([]);
    expect(stack.nodeAccess).toEqual(expect.arrayContaining([{ protocol: 'tcp', fromPort: 8080, toPort: 8080 }, { protocol: 'tcp', fromPort: 9090, toPort: 9090 }]));
    const unknown = buildDesiredStack({ ...desired({ annotations: ip, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }] }), clusterName: 'c1' }, env);
    expect(unknown.groups[0]!.targets).toBeUndefined();
  });
});

describe('aws dual-stack (ip-address-type, ipv6-addresses, IPv6 Services)', () => {
  const P = 'service.beta.kubernetes.io/aws-load-balancer-';
  const dual = { [`${P}ip-address-type`]: 'dualstack' };
  // Two zones with IPv6 blocks (one per subnet, as AWS gives them), one without.
  const dualEnv: AwsNetwork = {
    ...env,
    subnets: env.subnets.map((s) =>
      s.id === 'subnet-a0' ? { ...s, ipv6Cidrs: ['2600:1f18:aa:100::/64'] } : s.id === 'subnet-b2' ? { ...s, ipv6Cidrs: ['2600:1f18:aa:200::/64'] } : s,
    ),
  };
  const pod = (address: string) => ({ address, ready: true, terminating: false, ports: { http: 8080 } });
  const ipv6Service = (extra: Partial<DesiredLoadBalancer> = {}) =>
    desired({ ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', annotations: { ...dual, [`${P}nlb-target-type`]: 'ip' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 0 }], ...extra });

  it('parses ipv4 and dualstack as the AWS Load Balancer Controller does, and refuses anything else naming the annotation', () => {
    expect(parseAwsAnnotations({}).ipAddressType).toBe('ipv4');
    expect(parseAwsAnnotations(dual).ipAddressType).toBe('dualstack');
    for (const bad of ['dualstack-without-public-ipv4', 'ipv6', 'DualStack']) {
      const error = thrownConfigError(() => parseAwsAnnotations({ [`${P}ip-address-type`]: bad }));
      expect(error.field).toBe(`${P}ip-address-type`);
      expect(error.message).toContain(bad);
    }
  });

  it('ipv6-addresses needs dualstack and IPv6 addresses, and is kept in RFC 5952 form', () => {
    const error = thrownConfigError(() => parseAwsAnnotations({ [`${P}ipv6-addresses`]: '2600:1f18:aa:100::10' }));
    expect(error.field).toBe(`${P}ipv6-addresses`);
    expect(error.message).toContain('dualstack');
    expect(thrownConfigError(() => parseAwsAnnotations({ ...dual, [`${P}ipv6-addresses`]: '10.0.0.5' })).field).toBe(`${P}ipv6-addresses`);
    expect(parseAwsAnnotations({ ...dual, [`${P}ipv6-addresses`]: '2600:1F18:00AA:0100:0:0:0:10' }).ipv6Addresses).toEqual(['2600:1f18:aa:100::10']);
  });

  it('a dualstack NLB needs an IPv6 block on each of its subnets: refused naming ip-address-type and the subnet', () => {
    const error = thrownConfigError(() => buildDesiredStack(desired({ annotations: dual }), env));
    expect(error.field).toBe(`${P}ip-address-type`);
    expect(error.message).toContain('subnet-a0');
    const stack = buildDesiredStack(desired({ annotations: dual }), dualEnv);
    expect(stack.ipAddressType).toBe('dualstack');
    // Everyone of both families when no source ranges are given (as the controller does).
    expect(stack.ingress.filter((r) => r.port === 80).map((r) => r.source)).toEqual(['0.0.0.0/0', '::/0']);
    expect(buildDesiredStack(desired({ annotations: dual, sourceRanges: ['2001:db8::/32'] }), dualEnv).ingress.filter((r) => r.port === 80).map((r) => r.source)).toEqual(['2001:db8::/32']);
  });

  it('discovery for a dualstack NLB prefers, in each zone, a subnet with an IPv6 block', () => {
    // subnet-a0 (this cluster's tag) and subnet-a1 (shared) are both in zone a; only a1 has IPv6 here.
    const a1v6: AwsNetwork = { ...env, subnets: env.subnets.map((s) => (s.id === 'subnet-a1' ? { ...s, ipv6Cidrs: ['2600:1f18:aa:300::/64'] } : s.id === 'subnet-b2' ? { ...s, ipv6Cidrs: ['2600:1f18:aa:200::/64'] } : s)) };
    expect(buildDesiredStack(desired({ annotations: dual }), a1v6).subnetMappings.map((m) => m.SubnetId)).toEqual(['subnet-a1', 'subnet-b2']);
    // An IPv4 NLB keeps the usual order (this cluster's subnet first).
    expect(buildDesiredStack(desired(), a1v6).subnetMappings.map((m) => m.SubnetId)).toEqual(['subnet-a0', 'subnet-b2']);

    // An IPv4 NLB in subnet-a0 going dual-stack moves zone a to subnet-a1 first, then changes its type.
    const svc = desired({ annotations: dual });
    const stack = buildDesiredStack(svc, a1v6);
    const zones = [{ zone: 'us-east-1a', subnetId: 'subnet-a0', pinned: false }, { zone: 'us-east-1b', subnetId: 'subnet-b2', pinned: false }];
    const lb: NonNullable<ObservedStack['loadBalancer']> = { arn: 'arn:lb', dnsName: 'x', state: 'active', owned: true, tags: {}, addresses: [], ipAddressType: 'ipv4', zones };
    const current: ObservedStack = { lbName: stack.lbName, placement: stack.placement, securityGroup: { id: 'sg-1', ingress: stack.ingress, tags: {} }, holds: [], loadBalancer: lb, listeners: [], targetGroups: [] };
    const steps = planActions({ ref: svc.ref, stacks: [current], network: a1v6 }, svc).actions.map((a) => a.step).filter((x) => x.op === 'setSubnets' || x.op === 'setIpAddressType');
    expect(steps).toEqual([
      { op: 'setSubnets', arn: 'arn:lb', subnetIds: ['subnet-a1', 'subnet-b2'] },
      { op: 'setIpAddressType', arn: 'arn:lb', ipAddressType: 'dualstack' },
    ]);
  });

  it('ipv6-addresses: one per subnet, each in that subnet\'s IPv6 range, and part of the placement (a new address is a new NLB)', () => {
    const with6 = (addresses: string) => desired({ annotations: { ...dual, [`${P}ipv6-addresses`]: addresses } });
    const stack = buildDesiredStack(with6('2600:1f18:aa:200::7, 2600:1f18:aa:100::5'), dualEnv);
    expect(stack.subnetMappings).toEqual([
      { SubnetId: 'subnet-a0', IPv6Address: '2600:1f18:aa:100::5' },
      { SubnetId: 'subnet-b2', IPv6Address: '2600:1f18:aa:200::7' },
    ]);
    expect(stack.heldAddresses).toEqual(['2600:1f18:aa:100::5', '2600:1f18:aa:200::7']);
    expect(buildDesiredStack(with6('2600:1f18:aa:200::8, 2600:1f18:aa:100::5'), dualEnv).lbName).not.toBe(stack.lbName);
    // Without the annotation the name is what it was before IPv6 addresses existed.
    expect(buildDesiredStack(desired({ annotations: dual }), dualEnv).lbName).toBe(buildDesiredStack(desired(), env).lbName);
    for (const [addresses, why] of [
      ['2600:1f18:aa:100::5', '1 address(es) for 2 subnets'],
      ['2600:1f18:aa:100::5, 2600:1f18:aa:100::6', 'subnet-a0'],
      ['2600:1f18:aa:100::5, 2600:1f18:bb::6', 'no address is in subnet subnet-b2'],
    ] as const) {
      const error = thrownConfigError(() => buildDesiredStack(with6(addresses), dualEnv));
      expect(error.field).toBe(`${P}ipv6-addresses`);
      expect(error.message).toContain(why);
    }
  });

  it('an IPv6 Service gets IPv6 ip target groups with the IPv6 endpoints only', () => {
    const stack = buildDesiredStack(ipv6Service({ podEndpoints: [pod('10.0.1.5'), pod('2600:1f18:aa:100:0:0:0:a'), pod('2600:1f18:aa:200::b')] }), dualEnv);
    expect(stack.groups[0]).toMatchObject({ targetType: 'ip', ipAddressType: 'ipv6', targets: [{ id: '2600:1f18:aa:100::a', port: 8080 }, { id: '2600:1f18:aa:200::b', port: 8080 }] });
    expect(stack.groups[0]!.targetGroupName).toMatch(/-80tv$/);
    // An IPv4-first dual-stack Service keeps IPv4 targets.
    const v4first = buildDesiredStack(ipv6Service({ ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack', podEndpoints: [pod('10.0.1.5'), pod('2600:1f18:aa:100::a')] }), dualEnv);
    expect(v4first.groups[0]).toMatchObject({ ipAddressType: 'ipv4', targets: [{ id: '10.0.1.5', port: 8080 }] });
  });

  it('an IPv6 Service is refused with instance targets (naming nlb-target-type) and with UDP ports (naming the port)', () => {
    const instance = thrownConfigError(() => buildDesiredStack(desired({ ipFamilies: ['IPv6'], annotations: dual }), dualEnv));
    expect(instance.field).toBe(`${P}nlb-target-type`);
    expect(instance.message).toContain('ip targets only');
    const udp = thrownConfigError(() => buildDesiredStack(ipv6Service({ ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 0 }] }), dualEnv));
    expect(udp.field).toBe('spec.ports[0].protocol');
  });

  it('reads ICMPv6 rules back whether AWS names the protocol or numbers it (58), so the Packet Too Big rule stays steady', () => {
    const permission = (IpProtocol: string) => ({ IpProtocol, FromPort: 2, ToPort: 0, Ipv6Ranges: [{ CidrIpv6: '::/0' }] });
    for (const protocol of ['icmpv6', '58']) expect(ingressRules([permission(protocol)])).toEqual([{ protocol: 'icmpv6', port: 2, icmpCode: 0, source: '::/0' }]);
    expect(buildDesiredStack(desired({ annotations: dual }), dualEnv).ingress).toContainEqual({ protocol: 'icmpv6', port: 2, icmpCode: 0, source: '::/0' });
    expect(buildDesiredStack(desired(), env).ingress.some((r) => r.protocol === 'icmpv6')).toBe(false);
  });

  it('accepts an IPv6 prefix list on a dualstack NLB and counts its entries against the IPv6 rule quota, not the IPv4 one', () => {
    const lists: AwsNetwork = { ...dualEnv, prefixLists: [{ id: 'pl-4', family: 'IPv4', maxEntries: 40 }, { id: 'pl-6', family: 'IPv6', maxEntries: 40 }, { id: 'pl-4b', family: 'IPv4', maxEntries: 40 }] };
    const withLists = (ids: string, extra: Record<string, string> = dual) => desired({ annotations: { ...extra, [`${P}security-group-prefix-lists`]: ids } });
    expect(thrownConfigError(() => buildDesiredStack(withLists('pl-6', {}), lists)).field).toBe(`${P}security-group-prefix-lists`);
    const stack = buildDesiredStack(withLists('pl-4,pl-6'), lists);
    expect(stack.ipv6PrefixLists).toEqual(['pl-6']);
    expect(() => checkQuotas(stack, AWS_DEFAULT_QUOTAS)).not.toThrow();
    expect(() => checkQuotas(buildDesiredStack(withLists('pl-4,pl-4b'), lists), AWS_DEFAULT_QUOTAS)).toThrow(/IPv4 rules/);
  });

  it('plans SetIpAddressType in place when the annotation changes on an existing NLB', () => {
    const svc = desired({ annotations: dual });
    const stack = buildDesiredStack(svc, dualEnv);
    const lb: NonNullable<ObservedStack['loadBalancer']> = { arn: 'arn:lb', dnsName: 'x', state: 'active', owned: true, tags: {}, addresses: [], ipAddressType: 'ipv4', zones: [] };
    const observedStack: ObservedStack = { lbName: stack.lbName, placement: stack.placement, securityGroup: { id: 'sg-1', ingress: stack.ingress, tags: {} }, holds: [], loadBalancer: lb, listeners: [], targetGroups: [] };
    const plan = planActions({ ref: svc.ref, stacks: [observedStack], network: dualEnv }, svc);
    expect(plan.actions.filter((a) => a.kind === 'setIpAddressType').map((a) => a.step)).toEqual([{ op: 'setIpAddressType', arn: 'arn:lb', ipAddressType: 'dualstack' }]);
    expect(plan.actions.map((a) => a.kind)).not.toContain('createLoadBalancer');
    const back = planActions({ ref: svc.ref, stacks: [{ ...observedStack, loadBalancer: { ...lb, ipAddressType: 'dualstack' } }], network: dualEnv }, desired());
    expect(back.actions.filter((a) => a.kind === 'setIpAddressType').map((a) => a.step)).toEqual([{ op: 'setIpAddressType', arn: 'arn:lb', ipAddressType: 'ipv4' }]);
  });
});
