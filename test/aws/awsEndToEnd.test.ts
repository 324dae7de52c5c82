// End to end: the embedded API server, the real kubectl, the controller (runController) with the
// AWS provider, and moto_server behind the real AWS SDK v3.
import { randomUUID } from 'node:crypto';
import { RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DescribeTargetGroupsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsProvider } from '../../providers/aws/index.js';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { RunningController } from '../../src/cli/runController.js';
import { silentLogger } from '../../src/observability/logger.js';
import { lbService, readService, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { MOTO_REGION, motoClients, seedWorld, startMoto, type Moto, type SeededWorld } from '../support/moto.js';
import { awsConfigSchema } from '../../providers/aws/config.js';
import { converge, inventory, makeService } from './support/awsHarness.js';
import { createWorldNodes, startAwsController } from './support/awsEndToEnd.js';

let moto: Moto;
let world: SeededWorld;
let clients: ReturnType<typeof motoClients>;
let api: ApiServerHandle;
let kc: KubeConfig;
let core: CoreV1Api;
let controller: RunningController;

const mine = (uid: string) => (r: { tags: Record<string, string> }) => r.tags['kube-lb-provisioner.io/service-uid'] === uid;

beforeAll(async () => {
  moto = await startMoto();
  clients = motoClients(moto.endpoint);
  world = await seedWorld(clients.ec2, { clusterName: 'e2e', nodes: 3 });
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  core = kc.makeApiClient(CoreV1Api);
  await createWorldNodes(kc, world, true);
  controller = await startAwsController(kc, moto.endpoint, 'e2e');
});

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
  clients?.ec2.destroy();
  clients?.elbv2.destroy();
  await moto?.stop();
});

describe('aws end to end', () => {
  it('kubectl apply gives the Service the NLB DNS name as EXTERNAL-IP, every node on the NodePort; delete leaves nothing', async () => {
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('web')) });
    expect(applied.code, applied.stderr).toBe(0);
    const ingress = await waitForIngress(kc, 'default', 'web', { timeoutMs: 30_000 });
    const svc = (await readService(kc, 'default', 'web'))!;
    const uid = svc.metadata!.uid!;
    const nodePort = svc.spec!.ports![0]!.nodePort!;

    const inv = await inventory({ ...clients, world });
    const lbs = inv.loadBalancers.filter(mine(uid));
    expect(lbs).toHaveLength(1);
    expect(ingress).toEqual([{ hostname: lbs[0]!.dnsName }]);
    const table = await kubectl(api, ['get', 'svc', 'web']);
    expect(table.stdout).toContain(lbs[0]!.dnsName);
    const tgs = inv.targetGroups.filter(mine(uid));
    expect(tgs).toHaveLength(1);
    expect(tgs[0]!.targets).toEqual(world.nodes.map((n) => `${n.instanceId}:${nodePort}`).sort());
    await waitForEvent(kc, 'default', 'web', 'EnsuredLoadBalancer');

    // A node joins: it is registered on the NodePort, and nothing else about the NLB changes.
    const run = await clients.ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, SubnetId: world.privateSubnets[world.nodes[0]!.zone] }));
    const instanceId = run.Instances![0]!.InstanceId!;
    await core.createNode({ body: { metadata: { name: 'node-new' }, spec: { providerID: `aws:///${world.nodes[0]!.zone}/${instanceId}` }, status: { addresses: [{ type: 'InternalIP', address: '10.0.1.99' }] } } });
    await waitFor(async () => (await inventory({ ...clients, world })).targetGroups.find(mine(uid))?.targets.includes(`${instanceId}:${nodePort}`), {
      timeoutMs: 30_000,
      message: 'the new node registered on the NodePort',
    });
    expect((await inventory({ ...clients, world })).loadBalancers.filter(mine(uid)).map((l) => l.arn)).toEqual(lbs.map((l) => l.arn));

    const deleted = await kubectl(api, ['delete', 'svc', 'web', '--wait=false']);
    expect(deleted.code, deleted.stderr).toBe(0);
    await waitFor(async () => (await readService(kc, 'default', 'web')) === undefined, { timeoutMs: 30_000, message: 'Service gone (finalizer removed)' });
    const after = await inventory({ ...clients, world });
    expect(after.loadBalancers.filter(mine(uid))).toEqual([]);
    expect(after.targetGroups.filter(mine(uid))).toEqual([]);
    expect(after.securityGroups.filter(mine(uid))).toEqual([]);
    expect(after.listeners).toEqual([]);
  });

  it('nlb-target-type: ip without NodePorts: targets are the ready Pod IPs of the EndpointSlices, following them as Pods come, go and terminate', async () => {
    const manifest = lbService('pods', { allocateLoadBalancerNodePorts: false }, { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip' } });
    expect((await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(manifest) })).code).toBe(0);
    const slice = (endpoints: { ip: string; ready: boolean; terminating?: boolean }[]) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'pods-a1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'pods' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: endpoints.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready, serving: e.ready || e.terminating === true, terminating: e.terminating === true } })),
    });
    const apply = async (body: unknown) => expect((await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(body) })).code).toBe(0);
    await apply(slice([{ ip: '10.0.1.50', ready: true }, { ip: '10.0.1.51', ready: true }, { ip: '10.0.1.52', ready: false }]));
    await waitForIngress(kc, 'default', 'pods', { timeoutMs: 30_000 });
    const svc = (await readService(kc, 'default', 'pods'))!;
    expect(svc.spec!.ports![0]!.nodePort).toBeUndefined();
    const uid = svc.metadata!.uid!;
    const targets = async () => (await inventory({ ...clients, world })).targetGroups.find(mine(uid))?.targets ?? [];
    await waitFor(async () => JSON.stringify(await targets()) === JSON.stringify(['10.0.1.50:8080', '10.0.1.51:8080']), { timeoutMs: 30_000, message: 'the ready Pod IPs registered' });
    const tg = (await clients.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [(await inventory({ ...clients, world })).targetGroups.find(mine(uid))!.arn] }))).TargetGroups![0]!;
    expect(tg.TargetType).toBe('ip');

    // One Pod terminates, a new one is ready: only membership changes.
    await apply(slice([{ ip: '10.0.1.50', ready: false, terminating: true }, { ip: '10.0.1.51', ready: true }, { ip: '10.0.1.53', ready: true }]));
    await waitFor(async () => JSON.stringify(await targets()) === JSON.stringify(['10.0.1.51:8080', '10.0.1.53:8080']), { timeoutMs: 30_000, message: 'the terminating Pod deregistered, the new one registered' });

    expect((await kubectl(api, ['delete', 'svc', 'pods', '--wait=false'])).code).toBe(0);
    await waitFor(async () => (await readService(kc, 'default', 'pods')) === undefined, { timeoutMs: 30_000, message: 'Service gone' });
    expect((await inventory({ ...clients, world })).targetGroups.filter(mine(uid))).toEqual([]);
  });

  it('the resync garbage-collects an NLB this cluster owns for a Service that does not exist', async () => {
    // Made by "an earlier controller" for a Service that has since disappeared without cleanup.
    const entry = awsConfigSchema.parse({ type: 'aws', region: MOTO_REGION, endpoint: moto.endpoint });
    const earlier = await createAwsProvider(entry, { clusterName: 'e2e', logger: silentLogger(), record: () => undefined }, { credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const ghost = makeService({ world, clusterName: 'e2e' }, { name: 'ghost' });
    ghost.ref.uid = randomUUID();
    await converge(earlier, ghost);
    await earlier.stop?.();
    expect((await inventory({ ...clients, world })).loadBalancers.filter(mine(ghost.ref.uid))).toHaveLength(1);

    await controller.resyncNow();
    const inv = await inventory({ ...clients, world });
    expect(inv.loadBalancers.filter(mine(ghost.ref.uid))).toEqual([]);
    expect(inv.targetGroups.filter(mine(ghost.ref.uid))).toEqual([]);
    expect(inv.securityGroups.filter(mine(ghost.ref.uid))).toEqual([]);
  });

  it('a loadBalancerIP the account does not hold becomes a Warning Event naming spec.loadBalancerIP, and nothing is created', async () => {
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('pinned', { loadBalancerIP: '198.51.100.7' })) });
    expect(applied.code, applied.stderr).toBe(0);
    const event = await waitForEvent(kc, 'default', 'pinned', 'SyncLoadBalancerFailed', /spec\.loadBalancerIP/, { timeoutMs: 30_000 });
    expect(event.type).toBe('Warning');
    expect(event.message).toContain('198.51.100.7');
    const uid = (await readService(kc, 'default', 'pinned'))!.metadata!.uid!;
    const inv = await inventory({ ...clients, world });
    expect(inv.loadBalancers.filter(mine(uid))).toEqual([]);
    expect(inv.securityGroups.filter(mine(uid))).toEqual([]);
    await kubectl(api, ['delete', 'svc', 'pinned', '--wait=false']);
    await waitFor(async () => (await readService(kc, 'default', 'pinned')) === undefined, { timeoutMs: 30_000, message: 'pinned Service gone' });
  });
});
