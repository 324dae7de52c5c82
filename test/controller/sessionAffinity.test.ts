// spec.sessionAffinity from a Service applied with kubectl, through the real client-node and the
// controller's builder, to the simulated cloud's record; a patch switches it in place.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { TAG_SERVICE } from '../../providers/simulated/diff.js';
import { createNodes, lbService, startSimulatedController, testConfig, waitFor, waitForIngress, type SimulatedController } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

let api: ApiServerHandle;
let kc: KubeConfig;
let sim: SimulatedController;

beforeAll(async () => {
  api = await startApiServer({ port: 0 });
  kc = kubeConfigFor(api);
  await createNodes(kc.makeApiClient(CoreV1Api), 2);
  sim = await startSimulatedController({ kubeConfig: kc, config: testConfig() });
});

afterAll(async () => {
  await sim?.controller.stop();
  await api?.stop();
});

const lbFor = (name: string) => sim.cloud.snapshot().find((lb) => lb.tags[TAG_SERVICE] === `default/${name}`);

describe('Service sessionAffinity', () => {
  it('reaches the load balancer at creation and follows a patch to None and back, on the same load balancer', async () => {
    const svc = lbService('sticky', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } });
    const applied = await kubectl(api, ['apply', '-f', '-'], { input: JSON.stringify(svc) });
    expect(applied.code, applied.stderr).toBe(0);
    await waitForIngress(kc, 'default', 'sticky');
    const created = lbFor('sticky')!;
    expect(created.sessionAffinity).toEqual({ type: 'ClientIP', timeoutSeconds: 600 });

    const off = await kubectl(api, ['patch', 'service', 'sticky', '--type=merge', '-p', JSON.stringify({ spec: { sessionAffinity: 'None', sessionAffinityConfig: null } })]);
    expect(off.code, off.stderr).toBe(0);
    await waitFor(() => lbFor('sticky')?.sessionAffinity?.type === 'None');

    const on = await kubectl(api, ['patch', 'service', 'sticky', '--type=merge', '-p', JSON.stringify({ spec: { sessionAffinity: 'ClientIP' } })]);
    expect(on.code, on.stderr).toBe(0);
    // No timeout given: the API default (10800 s), whether the API server or the builder fills it in.
    const back = await waitFor(() => (lbFor('sticky')?.sessionAffinity?.type === 'ClientIP' ? lbFor('sticky') : undefined));
    expect(back.sessionAffinity).toEqual({ type: 'ClientIP', timeoutSeconds: 10800 });
    expect(back.id).toBe(created.id);
  });
});
