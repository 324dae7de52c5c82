// Dual-stack end to end: the embedded API server with an IPv4 and an IPv6 service range, the real
// kubectl, the controller with the AWS provider, and moto_server behind the validating proxy (which
// refuses what AWS refuses for IPv6 and dual-stack). An IPv6 Service gets a dualstack NLB whose IPv6
// ip target group follows the Service's IPv6 EndpointSlice; a bad value is a Warning Event.
import { DescribeLoadBalancersCommand, DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { RunningController } from '../../src/cli/runController.js';
import { lbService, readService, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { hostIn, MOTO_REGION, motoClients, seedIPv6, seedWorld, startMoto, type Moto, type SeededWorld } from '../support/moto.js';
import { startFaultProxy, type FaultProxy } from './support/faultProxy.js';
import { inventory } from './support/awsHarness.js';
import { createWorldNodes, startAwsController } from './support/awsEndToEnd.js';

const A = 'service.beta.kubernetes.io/aws-load-balancer-';
const ZONES = [`${MOTO_REGION}a`, `${MOTO_REGION}b`];

let moto: Moto;
let proxy: FaultProxy;
let world: SeededWorld;
let v6: Record<string, string>;
let clients: ReturnType<typeof motoClients>;
let api: ApiServerHandle;
let kc: KubeConfig;
let controller: RunningController;

const mine = (uid: string) => (r: { tags: Record<string, string> }) => r.tags['kube-lb-provisioner.io/service-uid'] === uid;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint });
  clients = motoClients(moto.endpoint);
  world = await seedWorld(clients.ec2, { clusterName: 'e2e-dual', nodes: 2 });
  v6 = await seedIPv6(clients.ec2, world, ZONES);
  api = await startApiServer({ port: 0, serviceCIDR: '10.96.0.0/16,fd00:10:96::/112' });
  kc = kubeConfigFor(api);
  await createWorldNodes(kc, world);
  controller = await startAwsController(kc, proxy.endpoint, 'e2e-dual');
});

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
  clients?.ec2.destroy();
  clients?.elbv2.destroy();
  await proxy?.close();
  await moto?.stop();
});

const apply = async (body: unknown) => {
  const r = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(body) });
  expect(r.code, r.stderr).toBe(0);
};

describe('aws dual-stack end to end', () => {
  it('an IPv6 Service with ip targets: a dualstack NLB, an IPv6 target group following its IPv6 EndpointSlice (not its IPv4 one), status by hostname', async () => {
    const subnets = ZONES.map((z) => world.publicSubnets[z]).join(',');
    const annotations = { [`${A}ip-address-type`]: 'dualstack', [`${A}nlb-target-type`]: 'ip', [`${A}subnets`]: subnets };
    await apply(lbService('web6', { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'], allocateLoadBalancerNodePorts: false }, { annotations }));
    const pod = (host: string) => hostIn(v6[ZONES[0]!]!, host);
    const slice = (name: string, addressType: 'IPv4' | 'IPv6', endpoints: { ip: string; ready: boolean; terminating?: boolean }[]) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'web6' } },
      addressType,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready, serving: e.ready || e.terminating === true, terminating: e.terminating === true } })),
    });
    await apply(slice('web6-v6', 'IPv6', [{ ip: pod('a1'), ready: true }, { ip: pod('a2'), ready: false }]));
    await apply(slice('web6-v4', 'IPv4', [{ ip: '10.0.1.50', ready: true }]));

    const ingress = await waitForIngress(kc, 'default', 'web6', { timeoutMs: 30_000 });
    const svc = (await readService(kc, 'default', 'web6'))!;
    expect(svc.spec!.ipFamilies).toEqual(['IPv6']);
    const uid = svc.metadata!.uid!;
    const lb = (await inventory({ ...clients, world })).loadBalancers.find(mine(uid))!;
    expect(ingress).toEqual([{ hostname: lb.dnsName }]);
    expect((await clients.elbv2.send(new DescribeLoadBalancersCommand({ LoadBalancerArns: [lb.arn] }))).LoadBalancers![0]!.IpAddressType).toBe('dualstack');

    const targets = async () => (await inventory({ ...clients, world })).targetGroups.find(mine(uid))?.targets ?? [];
    await waitFor(async () => JSON.stringify(await targets()) === JSON.stringify([`${pod('a1')}:8080`]), { timeoutMs: 30_000, message: 'the ready IPv6 Pod registered, the IPv4 one not' });
    const group = (await inventory({ ...clients, world })).targetGroups.find(mine(uid))!;
    const described = (await clients.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [group.arn] }))).TargetGroups![0]!;
    expect([described.TargetType, described.IpAddressType]).toEqual(['ip', 'ipv6']);

    // One Pod terminates, another becomes ready: the IPv6 group follows.
    await apply(slice('web6-v6', 'IPv6', [{ ip: pod('a1'), ready: false, terminating: true }, { ip: pod('a2'), ready: true }]));
    await waitFor(async () => JSON.stringify(await targets()) === JSON.stringify([`${pod('a2')}:8080`]), { timeoutMs: 30_000, message: 'the terminating Pod deregistered, the ready one registered' });
    expect(proxy.requests.filter((r) => r.refused)).toEqual([]);

    expect((await kubectl(api, ['delete', 'svc', 'web6', '--wait=false'])).code).toBe(0);
    await waitFor(async () => (await readService(kc, 'default', 'web6')) === undefined, { timeoutMs: 30_000, message: 'Service gone' });
    const after = await inventory({ ...clients, world });
    expect(after.loadBalancers.filter(mine(uid))).toEqual([]);
    expect(after.targetGroups.filter(mine(uid))).toEqual([]);
  });

  it('an IPv6 Service without ip-address-type dualstack is a Warning Event naming the annotation, and nothing is created', async () => {
    await apply(lbService('v6only', { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'], allocateLoadBalancerNodePorts: false }, { annotations: { [`${A}nlb-target-type`]: 'ip' } }));
    const event = await waitForEvent(kc, 'default', 'v6only', 'SyncLoadBalancerFailed', /aws-load-balancer-ip-address-type/, { timeoutMs: 30_000 });
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('dualstack');
    const uid = (await readService(kc, 'default', 'v6only'))!.metadata!.uid!;
    const inv = await inventory({ ...clients, world });
    expect(inv.loadBalancers.filter(mine(uid))).toEqual([]);
    expect(inv.securityGroups.filter(mine(uid))).toEqual([]);
    await kubectl(api, ['delete', 'svc', 'v6only', '--wait=false']);
    await waitFor(async () => (await readService(kc, 'default', 'v6only')) === undefined, { timeoutMs: 30_000, message: 'v6only Service gone' });
  });
});
