// Metal in the playground, without root: the metal provider on a loopback pool, one real speaker
// per node announcing on a loopback segment. The address answers as its announcing node, a
// NodePort-less Service is served, and deleting the announcing node moves the address.
import type { V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlayground, type Playground } from '../../src/cli/playgroundCommand.js';
import { silentLogger } from '../../src/observability/logger.js';
import { readService, waitFor, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectlOk } from '../support/kube.js';
import { bodyOf, httpFrom, UdpClient } from '../support/loopbackClients.js';

const ANNOUNCING = 'kube-lb-provisioner.io/announcing-node';
let pg: Playground;
const service = async (name: string) => (await readService(kubeConfigFor(pg.api), 'default', name)) as V1Service;
const announcer = async (name: string) => (await service(name)).metadata?.annotations?.[ANNOUNCING];

beforeAll(async () => {
  pg = await startPlayground({ instance: 3, logger: silentLogger(), provider: 'metal' });
});
afterAll(async () => {
  await pg?.stop();
});

describe('metal playground', () => {
  it('gives the walk-through Service a pool address answered by the announcing node, and moves it when that node is deleted', async () => {
    await kubectlOk(pg.api, ['apply', '-f', pg.exampleServicePath]);
    const ip = (await waitForIngress(kubeConfigFor(pg.api), 'default', 'hello', { timeoutMs: 10_000 }))[0]?.ip ?? '';
    expect(ip).toMatch(/^127\.250\.3\./);
    const owner = await waitFor(() => announcer('hello'), { message: 'an announcing node' });
    await waitFor(async () => bodyOf(await httpFrom(ip, 8080)) === `served by ${owner}`, { message: `answered by ${owner}` });

    await kubectlOk(pg.api, ['delete', 'node', owner]);
    const next = await waitFor(async () => {
      const now = await announcer('hello');
      return now !== owner && now;
    }, { message: 'another announcing node' });
    await waitFor(async () => bodyOf(await httpFrom(ip, 8080)) === `served by ${next}`, { message: `answered by ${next}` });
    for (let i = 0; i < 5; i++) expect(bodyOf(await httpFrom(ip, 8080))).toBe(`served by ${next}`);
  });

  it('moves the address off a killed node (NotReady: its speaker dies silently) once its Lease lapses', async () => {
    const ip = (await waitForIngress(kubeConfigFor(pg.api), 'default', 'hello'))[0]?.ip ?? '';
    const owner = await waitFor(() => announcer('hello'), { message: 'an announcing node' });
    await kubectlOk(pg.api, ['patch', 'node', owner, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Killed', message: 'test' }] } })]);
    const next = await waitFor(async () => {
      const now = await announcer('hello');
      return now !== owner && now;
    }, { message: 'another announcing node', timeoutMs: 20_000 });
    await waitFor(async () => bodyOf(await httpFrom(ip, 8080)) === `served by ${next}`, { message: `answered by ${next}` });
    await kubectlOk(pg.api, ['patch', 'node', owner, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'back' }] } })]);
  });

  it('serves a NodePort-less Service (TCP and UDP) on its address', async () => {
    await kubectlOk(
      pg.api,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'no-nodeports' },
        spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, selector: { app: 'x' }, ports: [{ name: 'web', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }] },
      }),
    );
    const ip = (await waitForIngress(kubeConfigFor(pg.api), 'default', 'no-nodeports'))[0]?.ip ?? '';
    expect((await service('no-nodeports')).spec?.ports?.map((p) => p.nodePort)).toEqual([undefined, undefined]);
    const owner = await waitFor(() => announcer('no-nodeports'), { message: 'an announcing node' });
    await waitFor(async () => bodyOf(await httpFrom(ip, 80)) === `served by ${owner}`, { message: 'TCP on the address' });
    const client = new UdpClient();
    try {
      expect(await waitFor(() => client.ask(ip, 53), { message: 'UDP on the address' })).toBe(`served by ${owner}`);
    } finally {
      client.close();
    }
  });

  it('announces a Local Service only from a node with an endpoint', async () => {
    const nodes = (await kubectlOk(pg.api, ['get', 'nodes', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').sort();
    const chosen = nodes[nodes.length - 1] ?? '';
    await kubectlOk(
      pg.api,
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'local', annotations: { 'playground.kube-lb-provisioner.io/endpoints': chosen } },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', selector: { app: 'local' }, ports: [{ port: 80 }] },
      }),
    );
    const ip = (await waitForIngress(kubeConfigFor(pg.api), 'default', 'local'))[0]?.ip ?? '';
    await waitFor(async () => (await announcer('local')) === chosen, { message: `${chosen} announcing` });
    await waitFor(async () => bodyOf(await httpFrom(ip, 80)) === `served by ${chosen}`, { message: `answered by ${chosen}` });
  });
});
