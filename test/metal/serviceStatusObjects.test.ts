// MetalLB's per-node status objects (ServiceL2Status, ServiceBGPStatus) as the speaker writes them:
// the pure decision, then the writer against the embedded API server with the chart's CRDs applied
// by the real kubectl. Each node's writer creates, updates and deletes its own node's objects and
// never touches another node's, whatever they say.
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { silentLogger } from '../../src/observability/logger.js';
import { bgpStatusBodies, l2StatusBodies, statusChanges, type StatusObject } from '../../src/speaker/serviceStatusObjects.js';
import { StatusObjectWriter } from '../../src/speaker/statusObjectWriter.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

const NS = 'kube-lb-system';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('statusChanges', () => {
  const object = (name: string, node: string, service: string, status?: Partial<StatusObject['status']>): StatusObject => ({
    metadata: { name, labels: { 'metallb.io/node': node, 'metallb.io/service-name': service, 'metallb.io/service-namespace': 'default' } },
    ...(status ? { status } : {}),
  });

  it('creates what is missing, updates what differs, deletes what is gone and duplicates, of this node only', () => {
    const wanted = l2StatusBodies('node-a', new Map([['default/web', ['eth0']], ['default/api', ['eth1', 'eth0', 'eth1']], ['default/db', ['eth0']]]));
    expect(wanted.get('default/api')).toEqual({ node: 'node-a', serviceName: 'api', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }, { name: 'eth1' }] });
    const existing = [
      object('l2-1', 'node-a', 'web', { node: 'node-a', serviceName: 'web', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] }),
      object('l2-2', 'node-a', 'api', { node: 'node-a', serviceName: 'api', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] }),
      object('l2-3', 'node-a', 'api'),
      object('l2-4', 'node-a', 'old', { node: 'node-a', serviceName: 'old', serviceNamespace: 'default' }),
      // Another node's objects, and one with our label but another node in its status: not ours.
      object('l2-5', 'node-b', 'old', { node: 'node-b', serviceName: 'old', serviceNamespace: 'default' }),
      object('l2-6', 'node-a', 'db', { node: 'node-b', serviceName: 'db', serviceNamespace: 'default' }),
    ];
    const changes = statusChanges('node-a', wanted, existing);
    expect(changes.update).toEqual([{ name: 'l2-2', status: wanted.get('default/api') }]);
    expect(changes.remove).toEqual(['l2-3', 'l2-4']);
    expect(changes.create).toEqual([
      { labels: { 'metallb.io/node': 'node-a', 'metallb.io/service-name': 'db', 'metallb.io/service-namespace': 'default' }, status: wanted.get('default/db') },
    ]);
    // Nothing to say: delete ours, leave the rest.
    expect(statusChanges('node-a', new Map(), existing).remove).toEqual(['l2-1', 'l2-2', 'l2-3', 'l2-4']);
  });

  it("adopts this node's objects another Pod owns, and no other node's", () => {
    const owner = { apiVersion: 'v1' as const, kind: 'Pod' as const, name: 'speaker-x2', uid: 'u2' };
    const body = { node: 'node-a', serviceName: 'web', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] };
    const mine = { ...object('l2-1', 'node-a', 'web', body), metadata: { ...object('l2-1', 'node-a', 'web').metadata, ownerReferences: [{ ...owner, name: 'speaker-x1', uid: 'u1' }] } };
    const theirs = object('l2-2', 'node-b', 'web', { ...body, node: 'node-b' });
    const changes = statusChanges('node-a', new Map([['default/web', body]]), [mine, theirs], owner);
    expect(changes).toEqual({ create: [], update: [], adopt: ['l2-1'], remove: [] });
    const adopted = { ...mine, metadata: { ...mine.metadata, ownerReferences: [owner] } };
    expect(statusChanges('node-a', new Map([['default/web', body]]), [adopted], owner).adopt).toEqual([]);
    // Outside a cluster (no Pod to name) nothing is adopted.
    expect(statusChanges('node-a', new Map([['default/web', body]]), [mine]).adopt).toEqual([]);
  });

  it('ServiceBGPStatus names the peers, sorted', () => {
    expect(bgpStatusBodies('node-a', new Map([['shop/web', ['tor2', 'tor1']]])).get('shop/web')).toEqual({ node: 'node-a', serviceName: 'web', serviceNamespace: 'shop', peers: ['tor1', 'tor2'] });
  });
});

describe('StatusObjectWriter against the API server', () => {
  let api: ApiServerHandle;
  let admin: CustomObjectsApi;
  const base = { group: 'metallb.io', version: 'v1beta1', namespace: NS };
  const writers: StatusObjectWriter[] = [];

  const writer = (node: string): StatusObjectWriter => {
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig(`speaker-${node}`));
    const w = new StatusObjectWriter({ kubeConfig: kc, namespace: NS, nodeName: node, logger: silentLogger(), retryDelayMs: 50 });
    writers.push(w);
    return w;
  };
  type Listed = { metadata: { name: string; resourceVersion: string; labels: Record<string, string> }; status?: Record<string, unknown> };
  const list = async (plural: string, node?: string): Promise<Listed[]> =>
    ((await admin.listNamespacedCustomObject({ ...base, plural, ...(node ? { labelSelector: `metallb.io/node=${node}` } : {}) })) as { items: Listed[] }).items;
  const byService = (items: Listed[]) => Object.fromEntries(items.map((i) => [i.metadata.labels['metallb.io/service-name'], i.status]));

  beforeAll(async () => {
    api = await startApiServer({ namespaces: [NS] });
    const r = await kubectl(api, ['apply', '-f', 'charts/kube-lb-provisioner/crds/']);
    expect(r.code, r.stderr).toBe(0);
    const w = await kubectl(api, ['wait', '--for', 'condition=established', '--timeout=10s', 'crd/servicel2statuses.metallb.io', 'crd/servicebgpstatuses.metallb.io']);
    expect(w.code, w.stderr).toBe(0);
    admin = kubeConfigFor(api).makeApiClient(CustomObjectsApi);
  });

  afterAll(async () => {
    for (const w of writers) await w.stop(false);
    await api?.stop();
  });

  it('writes its node\'s objects as MetalLB does, follows changes, and never touches another node\'s', async () => {
    // node-b's object for the same Service, and one labelled node-a whose status says node-b.
    const foreign = [];
    for (const [node, statusNode] of [['node-b', 'node-b'], ['node-a', 'node-b']] as const) {
      const created = (await admin.createNamespacedCustomObject({
        ...base,
        plural: 'servicel2statuses',
        body: { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceL2Status', metadata: { generateName: 'l2-', labels: { 'metallb.io/node': node, 'metallb.io/service-name': 'web', 'metallb.io/service-namespace': 'default' } } },
      })) as Listed;
      const status = { node: statusNode, serviceName: 'web', serviceNamespace: 'default', interfaces: [{ name: 'eth9' }] };
      const patched = (await admin.patchNamespacedCustomObjectStatus({ ...base, plural: 'servicel2statuses', name: created.metadata.name, body: { status } }, mergePatch)) as Listed;
      foreign.push(patched);
    }
    const a = writer('node-a');
    a.set('ServiceL2Status', l2StatusBodies('node-a', new Map([['default/web', ['eth0']], ['shop/api', ['eth0', 'eth1']]])));
    a.set('ServiceBGPStatus', bgpStatusBodies('node-a', new Map([['default/web', ['tor']]])));
    await a.settled();
    const mine = (await list('servicel2statuses', 'node-a')).filter((o) => (o.status as { node?: string } | undefined)?.node === 'node-a');
    expect(mine.map((o) => o.metadata.name).every((n) => n.startsWith('l2-'))).toBe(true);
    expect(byService(mine)).toEqual({
      web: { node: 'node-a', serviceName: 'web', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] },
      api: { node: 'node-a', serviceName: 'api', serviceNamespace: 'shop', interfaces: [{ name: 'eth0' }, { name: 'eth1' }] },
    });
    expect(mine.find((o) => o.status?.serviceName === 'api')!.metadata.labels).toEqual({ 'metallb.io/node': 'node-a', 'metallb.io/service-name': 'api', 'metallb.io/service-namespace': 'shop' });
    const bgp = await list('servicebgpstatuses');
    expect(bgp.map((o) => [o.metadata.name.startsWith('bgp-'), o.status])).toEqual([[true, { node: 'node-a', serviceName: 'web', serviceNamespace: 'default', peers: ['tor'] }]]);

    // A change: the same object, a new status. A Service gone: its object deleted.
    const webName = mine.find((o) => o.status?.serviceName === 'web')!.metadata.name;
    a.set('ServiceL2Status', l2StatusBodies('node-a', new Map([['default/web', ['eth1']]])));
    await a.settled();
    const after = (await list('servicel2statuses', 'node-a')).filter((o) => o.status?.node === 'node-a');
    expect(after.map((o) => [o.metadata.name, o.status?.interfaces])).toEqual([[webName, [{ name: 'eth1' }]]]);

    // A restarted speaker adopts its objects instead of creating more.
    await a.stop(false);
    const creates = () => api.requests.filter((r) => r.user === 'speaker-node-a' && r.verb === 'create').length;
    const before = creates();
    const again = writer('node-a');
    again.set('ServiceL2Status', l2StatusBodies('node-a', new Map([['default/web', ['eth1']]])));
    again.set('ServiceBGPStatus', bgpStatusBodies('node-a', new Map([['default/web', ['tor']]])));
    await again.settled();
    expect(creates()).toBe(before);

    // A graceful stop deletes ours; the others' stay as they were.
    await again.stop(true);
    expect((await list('servicebgpstatuses')).length).toBe(0);
    const left = await list('servicel2statuses');
    expect(left.map((o) => [o.metadata.name, o.metadata.resourceVersion]).sort()).toEqual(foreign.map((o) => [o.metadata.name, o.metadata.resourceVersion]).sort());
    // And not one request of node-a's speaker named another node's object.
    const touched = api.requests.filter((r) => r.user === 'speaker-node-a' && r.name !== undefined).map((r) => r.name);
    for (const o of foreign) expect(touched).not.toContain(o.metadata.name);
    expect(touched.length).toBeGreaterThan(0);
  });

  it('retries on its own while the CRD is missing, and writes once it is there', async () => {
    const other = await startApiServer({ namespaces: [NS] });
    try {
      const kc = new KubeConfig();
      kc.loadFromString(other.kubeconfig());
      const w = new StatusObjectWriter({ kubeConfig: kc, namespace: NS, nodeName: 'node-c', logger: silentLogger(), retryDelayMs: 50 });
      w.set('ServiceL2Status', l2StatusBodies('node-c', new Map([['default/web', ['eth0']]])));
      await w.settled();
      expect((await kubectl(other, ['apply', '-f', 'charts/kube-lb-provisioner/crds/metallb.io_servicel2statuses.yaml'])).code).toBe(0);
      const custom = kubeConfigFor(other).makeApiClient(CustomObjectsApi);
      const deadline = Date.now() + 10_000;
      let items: Listed[] = [];
      while (Date.now() < deadline && items.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
        items = ((await custom.listNamespacedCustomObject({ ...base, plural: 'servicel2statuses' }).catch(() => ({ items: [] }))) as { items: Listed[] }).items.filter((i) => i.status);
      }
      expect(items.map((i) => i.status)).toEqual([{ node: 'node-c', serviceName: 'web', serviceNamespace: 'default', interfaces: [{ name: 'eth0' }] }]);
      await w.stop(false);
    } finally {
      await other.stop();
    }
  });
});
