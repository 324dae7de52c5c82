// Several providers in one deployment, each reached through its class (one of them the default for
// class-less Services); Services of a class nobody here serves are never touched.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
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
let kc: KubeConfig;
let controller: RunningController;
const clouds = {
  default: new SimulatedCloud({ addressPool: '127.240.0.0/24' }),
  other: new SimulatedCloud({ addressPool: '127.241.0.0/24' }),
};
const names = (cloud: SimulatedCloud) => cloud.snapshot().map((lb) => lb.tags[TAG_SERVICE]).sort();

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  await createNodes(kc.makeApiClient(CoreV1Api), 2);
  const config = e2eConfig(
    [
      { type: 'simulated', default: true, addressPool: '127.240.0.0/24' },
      { type: 'simulated', loadBalancerClass: 'example.com/other', addressPool: '127.241.0.0/24' },
    ],
    { clusterName: 'multi' },
  );
  ({ controller } = await startController({
    kubeConfig: kubeConfigFor(api, 'controller'),
    identity: 'controller',
    config,
    createProvider: (entry, deps) => createSimulatedProvider(entry as never, deps, entry.loadBalancerClass ? clouds.other : clouds.default),
  }));
});

afterAll(async () => {
  await controller?.stop();
  await api?.stop();
});

describe('load balancer classes', () => {
  it('routes class-less Services to the default provider and classed ones to theirs', async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('plain')) });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('other', { loadBalancerClass: 'example.com/other' })) });
    expect((await waitForIngress(kc, 'default', 'plain'))[0]?.ip).toMatch(/^127\.240\.0\./);
    expect((await waitForIngress(kc, 'default', 'other'))[0]?.ip).toMatch(/^127\.241\.0\./);
    expect(names(clouds.default)).toEqual(['default/plain']);
    expect(names(clouds.other)).toEqual(['default/other']);
    // The resync's garbage collection must not see one provider's Services as the other's orphans.
    expect(await controller.resyncNow()).toBe(0);
    expect(names(clouds.default)).toEqual(['default/plain']);
    expect(names(clouds.other)).toEqual(['default/other']);
  });

  it("never touches a Service of someone else's class", async () => {
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('foreign', { loadBalancerClass: 'vendor.example/lb' })) });
    await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(lbService('marker')) });
    await waitForIngress(kc, 'default', 'marker'); // the controller has seen both by now
    await controller.resyncNow();
    await waitFor(() => controller.pendingWork() === 0);
    const svc = await readService(kc, 'default', 'foreign');
    expect(svc?.metadata?.finalizers ?? []).not.toContain(LOAD_BALANCER_CLEANUP_FINALIZER);
    expect(svc?.status?.loadBalancer?.ingress ?? []).toHaveLength(0);
    expect(await eventsFor(kc, 'default', 'foreign')).toHaveLength(0);
    expect([...names(clouds.default), ...names(clouds.other)]).not.toContain('default/foreign');
    expect(writesToServicesNotServed(api, { user: 'controller', identity: 'controller', serves: servesClasses(['example.com/other'], true) })).toEqual([]);
  });
});
