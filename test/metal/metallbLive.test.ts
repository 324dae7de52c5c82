// MetalLB's resources as the live metal configuration, end to end with the real kubectl against the
// embedded API server: the chart's CRDs applied, MetalLB-shaped objects applied to them, a bad
// object warned about on itself while the rest serves, a grown pool serving a pending Service at
// once, a shrunk pool keeping addresses with a Warning, pool status and the pool annotation, and
// a pool deletion held while in use. No network namespaces: the speakers are not involved.
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import type { RunningController } from '../../src/cli/runController.js';
import { e2eConfig, lbService, readService, startController, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

const NS = 'metallb-system';

describe('metal configured by MetalLB resources, reconfigured live', () => {
  let api: ApiServerHandle;
  let kc: KubeConfig;
  let controller: RunningController | undefined;

  const ok = async (args: string[], input?: string) => {
    const r = await kubectl(api, args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  };
  const pool = (name: string, addresses: string[]) => `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: ${name}, namespace: ${NS}}\nspec:\n  addresses: ${JSON.stringify(addresses)}\n`;
  const service = (name: string) => ok(['apply', '-f', '-'], JSON.stringify(lbService(name, { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] })));
  const ip = async (name: string) => (await readService(kc, 'default', name))?.status?.loadBalancer?.ingress?.[0]?.ip;
  const objectEvents = async (kind: string, name: string) =>
    (await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: NS })).items.filter((e) => e.involvedObject.kind === kind && e.involvedObject.name === name);
  const readPool = (name: string) =>
    kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: NS, plural: 'ipaddresspools', name }) as Promise<{
      metadata: { finalizers?: string[]; deletionTimestamp?: string };
      status?: Record<string, number>;
    }>;

  beforeAll(async () => {
    api = await startApiServer({ namespaces: [NS] });
    kc = kubeConfigFor(api);
    await ok(['apply', '-f', 'charts/kube-lb-provisioner/crds/']);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/ipaddresspools.metallb.io', 'crd/l2advertisements.metallb.io', 'crd/bgppeers.metallb.io', 'crd/bgpadvertisements.metallb.io', 'crd/bfdprofiles.metallb.io', 'crd/communities.metallb.io']);
    await ok(
      ['apply', '-f', '-'],
      [
        pool('small', ['192.0.2.0/31']),
        pool('broken', ['192.0.2.300/32']),
        `apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2, namespace: ${NS}}\nspec: {ipAddressPools: [small, missing]}\n`,
        `apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata: {name: router, namespace: ${NS}}\nspec: {myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.1, bfdProfile: nope}\n`,
      ].join('---\n'),
    );
    // A long backoff: a pending Service served within seconds was served by the pool change.
    const config = e2eConfig([{ type: 'metal' }], { backoff: { initialSeconds: 30, maxSeconds: 60 } });
    ({ controller } = await startController({ kubeConfig: kc, config, tuning: { resyncPeriodMs: 0 } }));
  });

  afterAll(async () => {
    await controller?.stop();
    await api?.stop();
  });

  it('serves from an IPAddressPool, annotates the pool on the Service, and warns on bad objects naming the field', async () => {
    await service('a');
    await service('b');
    expect((await waitForIngress(kc, 'default', 'a'))[0]?.ip).toMatch(/^192\.0\.2\.[01]$/);
    expect((await waitForIngress(kc, 'default', 'b'))[0]?.ip).toMatch(/^192\.0\.2\.[01]$/);
    expect(new Set([await ip('a'), await ip('b')]).size).toBe(2);
    await waitFor(async () => (await readService(kc, 'default', 'a'))?.metadata?.annotations?.['metallb.io/ip-allocated-from-pool'] === 'small', { message: 'pool annotation' });
    const broken = await waitFor(async () => (await objectEvents('IPAddressPool', 'broken'))[0], { message: 'Warning on the broken pool' });
    expect(broken).toMatchObject({ type: 'Warning', reason: 'InvalidConfiguration' });
    expect(broken.message).toMatch(/^spec\.addresses\[0\]: "192\.0\.2\.300\/32" is not a valid CIDR/);
    const l2 = await waitFor(async () => (await objectEvents('L2Advertisement', 'l2'))[0], { message: 'Warning on the advertisement' });
    expect(l2.message).toMatch(/^spec\.ipAddressPools\[1\]: there is no pool "missing"/);
    const peer = await waitFor(async () => (await objectEvents('BGPPeer', 'router'))[0], { message: 'Warning on the peer' });
    expect(peer.message).toMatch(/^spec\.bfdProfile: there is no BFDProfile "nope"/);
  });

  it('writes IPAddressPool.status and holds the pool with a finalizer while in use', async () => {
    await waitFor(async () => (await readPool('small')).status?.assignedIPv4 === 2, { message: 'pool status' });
    expect((await readPool('small')).status).toEqual({ assignedIPv4: 2, assignedIPv6: 0, availableIPv4: 0, availableIPv6: 0 });
    await waitFor(async () => (await readPool('small')).metadata.finalizers?.includes('kube-lb-provisioner.io/pool-in-use'), { message: 'the in-use finalizer' });
    expect((await readPool('small')).metadata.finalizers).toEqual(['kube-lb-provisioner.io/pool-in-use']);
  });

  it('a grown pool serves a pending Service at once, without moving anyone', async () => {
    const before = { a: await ip('a'), b: await ip('b') };
    await service('c');
    await waitForEvent(kc, 'default', 'c', 'SyncLoadBalancerFailed', /pool "small" is exhausted/);
    await ok(['apply', '-f', '-'], pool('small', ['192.0.2.0/30']));
    // Well inside the 30 s backoff: the reconfiguration requeued it.
    expect((await waitForIngress(kc, 'default', 'c', { timeoutMs: 10_000 }))[0]?.ip).toBe('192.0.2.2');
    expect({ a: await ip('a'), b: await ip('b') }).toEqual(before);
  });

  it('a shrunk pool keeps the addresses that left it, with a Warning on the Service', async () => {
    const a = (await ip('a'))!;
    await ok(['apply', '-f', '-'], pool('small', ['192.0.2.2/31']));
    const warning = await waitForEvent(kc, 'default', 'a', 'AddressKept', /is in no pool any more/);
    expect(warning.message).toContain(a);
    expect(await ip('a')).toBe(a);
    expect(await ip('c')).toBe('192.0.2.2');
    await ok(['apply', '-f', '-'], pool('small', ['192.0.2.0/30']));
  });

  it('deleting a pool in use is held, says why, and completes when its Services go', async () => {
    await ok(['delete', 'ipaddresspool', 'small', '-n', NS, '--wait=false']);
    const held = await waitFor(async () => (await objectEvents('IPAddressPool', 'small')).find((e) => e.reason === 'DeletionHeld'), { message: 'DeletionHeld' });
    expect(held.message).toMatch(/held by 3 Service\(s\): default\/a, default\/b, default\/c/);
    expect((await readPool('small')).metadata.deletionTimestamp).toBeDefined();
    // A new Service is not given an address of a pool being deleted.
    await service('d');
    await waitForEvent(kc, 'default', 'd', 'SyncLoadBalancerFailed');
    for (const name of ['a', 'b', 'c', 'd']) await ok(['delete', 'service', name]);
    await waitFor(async () => (await kubectl(api, ['get', 'ipaddresspool', 'small', '-n', NS])).code !== 0, { message: 'the pool gone' });
  });
});
