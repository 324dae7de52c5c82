// Installed beside what it did not write: two controller processes of ours (one the default, one
// serving only example.com/b) and Services set up the way other controllers leave them (EKS's or
// GKE's built-in controller: the shared cleanup finalizer and an ingress; a vendor's class). Each
// controller acts on what is its own and never writes to anything else, not even once.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCloud } from '../../providers/simulated/cloud.js';
import { TAG_SERVICE } from '../../providers/simulated/diff.js';
import { createSimulatedProvider } from '../../providers/simulated/index.js';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { RunningController } from '../../src/cli/runController.js';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../../src/controller/serviceSelection.js';
import { createNodes, e2eConfig, eventsFor, lbService, readService, startController, waitFor, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { servesClasses, writesToServicesNotServed } from '../support/writeAudit.js';

let api: ApiServerHandle;
let admin: KubeConfig;
let core: CoreV1Api;
const merge = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Ours {
  controller: RunningController;
  cloud: SimulatedCloud;
  user: string;
  identity: string;
  classes: string[];
  isDefault: boolean;
}
const ours: Record<'a' | 'b', Ours> = {} as never;
const names = (cloud: SimulatedCloud) => cloud.snapshot().map((lb) => lb.tags[TAG_SERVICE]).sort();

async function startOurs(which: 'a' | 'b', provider: Record<string, unknown>, pool: string): Promise<void> {
  const cloud = new SimulatedCloud({ addressPool: pool });
  const user = `controller-${which}`;
  const identity = `ours-${which}`;
  const { controller } = await startController({
    kubeConfig: kubeConfigFor(api, user),
    identity,
    config: e2eConfig([{ type: 'simulated', addressPool: pool, ...provider }], { clusterName: `cluster-${which}`, resyncPeriodSeconds: 3600 }),
    createProvider: (entry, deps) => createSimulatedProvider(entry as never, deps, cloud),
  });
  const cls = provider.loadBalancerClass as string | undefined;
  ours[which] = { controller, cloud, user, identity, classes: cls ? [cls] : [], isDefault: cls === undefined || provider.default === true };
}

/** A Service as another controller leaves it: the shared finalizer and an ingress it wrote. */
async function foreignService(name: string, spec: Record<string, unknown>, ip: string): Promise<void> {
  await core.createNamespacedService({ namespace: 'default', body: lbService(name, spec, { finalizers: [LOAD_BALANCER_CLEANUP_FINALIZER] }) });
  await core.patchNamespacedServiceStatus({ namespace: 'default', name, body: { status: { loadBalancer: { ingress: [{ ip }] } } } }, merge());
}

function untouched(svc: V1Service | undefined, ip: string): void {
  expect(svc?.metadata?.finalizers).toEqual([LOAD_BALANCER_CLEANUP_FINALIZER]);
  expect(svc?.status?.loadBalancer?.ingress).toEqual([{ ip }]);
}

async function settle(): Promise<void> {
  for (const o of Object.values(ours)) await o.controller.resyncNow();
  await waitFor(() => Object.values(ours).every((o) => o.controller.pendingWork() === 0), { message: 'both queues drained' });
}

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  admin = kubeConfigFor(api);
  core = admin.makeApiClient(CoreV1Api);
  await createNodes(core, 2);
  // Left by other controllers before ours were installed.
  await foreignService('vendor', { loadBalancerClass: 'vendor.example/lb' }, '203.0.113.7');
  await startOurs('a', { default: true }, '127.242.0.0/24');
  await startOurs('b', { loadBalancerClass: 'example.com/b' }, '127.243.0.0/24');
});

afterAll(async () => {
  for (const o of Object.values(ours)) await o.controller.stop();
  await api?.stop();
});

describe('beside other controllers', () => {
  it('each of ours serves its own class; the vendor-class Service keeps its finalizer and address', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('plain')) });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('bee', { loadBalancerClass: 'example.com/b' })) });
    expect((await waitForIngress(admin, 'default', 'plain'))[0]?.ip).toMatch(/^127\.242\./);
    expect((await waitForIngress(admin, 'default', 'bee'))[0]?.ip).toMatch(/^127\.243\./);
    await settle();
    expect(names(ours.a.cloud)).toEqual(['default/plain']);
    expect(names(ours.b.cloud)).toEqual(['default/bee']);
    untouched(await readService(admin, 'default', 'vendor'), '203.0.113.7');
    expect(await eventsFor(admin, 'default', 'vendor')).toHaveLength(0);
  });

  it("a class-only controller leaves a class-less Service another controller provisioned alone", async () => {
    // Ours-b serves only example.com/b. A class-less Service with the shared finalizer, as EKS's
    // controller leaves it, is not its business (ours-a, the default, adopts it as upstream would).
    await foreignService('eks-made', {}, '198.51.100.9');
    await waitForIngress(admin, 'default', 'eks-made');
    await settle();
    expect(names(ours.b.cloud)).not.toContain('default/eks-made');
    expect(writesToServicesNotServed(api, { user: ours.b.user, identity: ours.b.identity, serves: servesClasses(ours.b.classes, false) })).toEqual([]);
  });

  it('deleting a Service of a foreign class leaves its finalizer to its own controller', async () => {
    expect((await kubectl(api, ['delete', 'svc', 'vendor', '--wait=false'])).code).toBe(0);
    await settle();
    const svc = await readService(admin, 'default', 'vendor');
    expect(svc?.metadata?.deletionTimestamp).toBeDefined();
    untouched(svc, '203.0.113.7');
    // Its own controller finishes the job.
    await core.patchNamespacedService({ namespace: 'default', name: 'vendor', body: { metadata: { finalizers: null } } }, merge());
    await waitFor(async () => (await readService(admin, 'default', 'vendor')) === undefined, { message: 'vendor Service gone' });
  });

  it('a Service that stops being a LoadBalancer is cleaned up by the controller whose records hold its load balancer', async () => {
    // The API server drops loadBalancerClass with the type, so only ours-b's cloud records say it was ours-b's.
    await core.patchNamespacedService({ namespace: 'default', name: 'bee', body: { spec: { type: 'ClusterIP', loadBalancerClass: null } } }, merge());
    await waitFor(() => names(ours.b.cloud).length === 0, { message: "ours-b deleted bee's load balancer" });
    await waitFor(async () => {
      const svc = await readService(admin, 'default', 'bee');
      return (svc?.metadata?.finalizers ?? []).length === 0 && (svc?.status?.loadBalancer?.ingress ?? []).length === 0;
    }, { message: 'bee left with neither finalizer nor ingress' });
    expect(names(ours.a.cloud)).toEqual(['default/eks-made', 'default/plain']);
  });

  it('neither of ours wrote to a Service it does not serve', async () => {
    await settle();
    // `bee` lost its class with its type; ours-b served it before and cleaned up after it.
    expect(writesToServicesNotServed(api, { user: ours.a.user, identity: ours.a.identity, serves: servesClasses(ours.a.classes, true), alsoAllowed: [] })).toEqual([]);
    expect(writesToServicesNotServed(api, { user: ours.b.user, identity: ours.b.identity, serves: servesClasses(ours.b.classes, false), alsoAllowed: ['default/bee'] })).toEqual([]);
    // And the audit does see writes: ours-a's to its own Services are recorded.
    expect(api.requests.some((r) => r.user === ours.a.user && r.resource === 'services' && r.name === 'plain' && r.verb === 'patch')).toBe(true);
  });
});
