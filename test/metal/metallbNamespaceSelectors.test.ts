// IPAddressPool serviceAllocation.namespaceSelectors match the Namespace's real labels (not only
// kubernetes.io/metadata.name): the controller watches Namespaces while some pool selects them by
// label, and a relabelled Namespace is taken at once. Real kubectl against the embedded API server.
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { RunningController } from '../../src/cli/runController.js';
import { e2eConfig, lbService, startController, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectlOk } from '../support/kube.js';

const NS = 'metallb-system';

describe('metal: IPAddressPool namespaceSelectors on Namespace labels', () => {
  let api: ApiServerHandle;
  let kc: KubeConfig;
  let controller: RunningController | undefined;
  const ok = (args: string[], input?: string) => kubectlOk(api, args, input);
  const service = (namespace: string, name: string) => ok(['apply', '-f', '-'], JSON.stringify(lbService(name, {}, { namespace })));
  const ip = async (namespace: string, name: string) => (await waitForIngress(kc, namespace, name))[0]?.ip;

  beforeAll(async () => {
    api = await startApiServer({ namespaces: [NS, 'team-a', 'team-b'] });
    kc = kubeConfigFor(api);
    await ok(['apply', '-f', 'charts/kube-lb-provisioner/crds/']);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd', '--all']);
    await ok(['label', 'namespace', 'team-a', 'team=x']);
    await ok(
      ['apply', '-f', '-'],
      [
        `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: teams, namespace: ${NS}}\nspec:\n  addresses: ["192.0.2.10/31"]\n  serviceAllocation: {namespaceSelectors: [{matchLabels: {team: x}}]}\n`,
        `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: general, namespace: ${NS}}\nspec:\n  addresses: ["192.0.2.20/30"]\n`,
      ].join('---\n'),
    );
    ({ controller } = await startController({ kubeConfig: kc, config: e2eConfig([{ type: 'metal' }], { backoff: { initialSeconds: 30, maxSeconds: 60 } }), tuning: { resyncPeriodMs: 0 } }));
  });

  afterAll(async () => {
    await controller?.stop();
    await api?.stop();
  });

  it('a Service in a Namespace labelled as the selector asks gets the selecting pool; one in another Namespace does not', async () => {
    await service('team-a', 'a1');
    await service('team-b', 'b1');
    expect(await ip('team-a', 'a1')).toBe('192.0.2.10');
    expect(await ip('team-b', 'b1')).toBe('192.0.2.20');
  });

  it('a Namespace labelled later is taken at once: its Service waiting for the pool gets it, and nobody moves', async () => {
    await ok(['apply', '-f', '-'], JSON.stringify(lbService('b2', {}, { namespace: 'team-b', annotations: { 'metallb.io/address-pool': 'teams' } })));
    await waitForEvent(kc, 'team-b', 'b2', 'SyncLoadBalancerFailed', /pool "teams" serves only namespaces labelled team=x/);
    await ok(['label', 'namespace', 'team-b', 'team=x']);
    // Well inside the 30 s backoff: the relabelled Namespace requeued it.
    expect((await waitForIngress(kc, 'team-b', 'b2', { timeoutMs: 10_000 }))[0]?.ip).toBe('192.0.2.11');
    expect(await ip('team-b', 'b1')).toBe('192.0.2.20');
    expect(await ip('team-a', 'a1')).toBe('192.0.2.10');
  });
});
