// @kubernetes/client-node (typed clients and makeInformer) against a freshly started server.
import { CoreV1Api, CoordinationV1Api, DiscoveryV1Api, EventsV1Api, makeInformer, PatchStrategy, setHeaderOptions, type V1Node, type V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubeConfigFor } from '../support/kube.js';

let api: ApiServerHandle;
let core: CoreV1Api;

beforeAll(async () => {
  api = await startApiServer({ bookmarkIntervalMs: 200 });
  core = kubeConfigFor(api).makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await api.stop();
});

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

function lb(name: string, extra: Partial<V1Service['spec']> = {}): V1Service {
  return { metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }], ...extra } };
}

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as { code: number }).code;
  }
}

describe('client-node informers', () => {
  it('list+watch sees adds, updates and deletes; a relabelled object leaves a selected informer', async () => {
    const kc = kubeConfigFor(api);
    const all = makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
    const selected = makeInformer(kc, '/api/v1/namespaces/default/services', () => core.listNamespacedService({ namespace: 'default', labelSelector: 'watch=me' }), 'watch=me');
    const log: string[] = [];
    const selectedLog: string[] = [];
    all.on('add', (s) => log.push(`add ${s.metadata!.name}`));
    all.on('update', (s) => log.push(`update ${s.metadata!.name} ${s.status?.loadBalancer?.ingress?.[0]?.ip ?? '-'}`));
    all.on('delete', (s) => log.push(`delete ${s.metadata!.name}`));
    selected.on('add', (s) => selectedLog.push(`add ${s.metadata!.name}`));
    selected.on('delete', (s) => selectedLog.push(`delete ${s.metadata!.name}`));
    await all.start();
    await selected.start();
    try {
      await core.createNamespacedService({ namespace: 'default', body: { ...lb('inf-a'), metadata: { name: 'inf-a', labels: { watch: 'me' } } } });
      await core.patchNamespacedServiceStatus({ namespace: 'default', name: 'inf-a', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } } }, merge);
      await core.patchNamespacedService({ namespace: 'default', name: 'inf-a', body: { metadata: { labels: { watch: 'no' } } } }, merge);
      await core.deleteNamespacedService({ namespace: 'default', name: 'inf-a' });
      await until('delete seen', () => log.includes('delete inf-a'));
      expect(log).toEqual(['add inf-a', 'update inf-a 192.0.2.1', 'update inf-a 192.0.2.1', 'delete inf-a']);
      await until('relabel seen', () => selectedLog.length === 2);
      expect(selectedLog).toEqual(['add inf-a', 'delete inf-a']);
    } finally {
      await all.stop();
      await selected.stop();
    }
  });

  it('after dropWatches({compact}) the informer gets 410 Expired, relists and converges', async () => {
    const kc = kubeConfigFor(api);
    const informer = makeInformer(kc, '/api/v1/nodes', () => core.listNode());
    const seen = new Set<string>();
    informer.on('add', (n) => seen.add(n.metadata!.name!));
    informer.on('delete', (n) => seen.delete(n.metadata!.name!));
    await informer.start();
    try {
      await core.createNode({ body: { metadata: { name: 'before-drop' } } });
      await until('first node', () => seen.has('before-drop'));
      const listsBefore = api.requests.filter((r) => r.resource === 'nodes' && r.verb === 'list').length;
      api.dropWatches({ compact: true });
      await core.createNode({ body: { metadata: { name: 'after-drop' } } });
      await core.deleteNode({ name: 'before-drop' });
      await until('relist converges', () => seen.has('after-drop') && !seen.has('before-drop'));
      expect(api.requests.filter((r) => r.resource === 'nodes' && r.verb === 'list').length).toBeGreaterThan(listsBefore);
    } finally {
      await informer.stop();
    }
  });
});

describe('object semantics through typed clients', () => {
  it('update with a stale resourceVersion gets 409 Conflict', async () => {
    const created = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cas' }, data: { v: '1' } } });
    await core.replaceNamespacedConfigMap({ namespace: 'default', name: 'cas', body: { ...created, data: { v: '2' } } });
    let status: { code: number; body: string } | undefined;
    try {
      await core.replaceNamespacedConfigMap({ namespace: 'default', name: 'cas', body: { ...created, data: { v: '3' } } });
    } catch (e) {
      status = e as { code: number; body: string };
    }
    expect(status?.code).toBe(409);
    expect(JSON.parse(status!.body)).toMatchObject({ kind: 'Status', reason: 'Conflict', message: 'Operation cannot be fulfilled on configmaps "cas": the object has been modified; please apply your changes to the latest version and try again' });
    expect((await core.readNamespacedConfigMap({ namespace: 'default', name: 'cas' })).data).toEqual({ v: '2' });
  });

  it('separates status from spec and bumps generation only on spec changes', async () => {
    const created = await core.createNamespacedService({ namespace: 'default', body: { ...lb('split'), status: { loadBalancer: { ingress: [{ ip: '192.0.2.99' }] } } } });
    expect(created.status).toEqual({ loadBalancer: {} });
    expect(created.metadata!.generation).toBe(1);
    expect(created.metadata!.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata!.creationTimestamp).toBeInstanceOf(Date);
    // The main endpoint ignores status.
    const viaMain = await core.replaceNamespacedService({ namespace: 'default', name: 'split', body: { ...created, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } } });
    expect(viaMain.status).toEqual({ loadBalancer: {} });
    expect(viaMain.metadata!.generation).toBe(1);
    // /status ignores spec (and labels).
    const viaStatus = await core.replaceNamespacedServiceStatus({
      namespace: 'default',
      name: 'split',
      body: { ...viaMain, metadata: { ...viaMain.metadata, labels: { sneaky: 'yes' } }, spec: { ...viaMain.spec, type: 'NodePort' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.2' }] } } },
    });
    expect(viaStatus.spec!.type).toBe('LoadBalancer');
    expect(viaStatus.metadata!.labels).toBeUndefined();
    expect(viaStatus.status!.loadBalancer!.ingress).toEqual([{ ip: '192.0.2.2' }]);
    expect(viaStatus.metadata!.generation).toBe(1);
    const specChange = await core.patchNamespacedService({ namespace: 'default', name: 'split', body: { spec: { sessionAffinity: 'ClientIP' } } }, merge);
    expect(specChange.metadata!.generation).toBe(2);
    expect(specChange.spec!.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
    const bad = await codeOf(core.patchNamespacedServiceStatus({ namespace: 'default', name: 'split', body: { status: { loadBalancer: { ingress: [{ ip: 'not-ip' }] } } } }, merge));
    expect(bad).toBe(422);
  });

  it('default JSON patch from client-node works on finalizers; deletion waits for them', async () => {
    await core.createNamespacedService({ namespace: 'default', body: lb('fin') });
    await core.patchNamespacedService({ namespace: 'default', name: 'fin', body: [{ op: 'add', path: '/metadata/finalizers', value: ['service.kubernetes.io/load-balancer-cleanup'] }] });
    const deleting = (await core.deleteNamespacedService({ namespace: 'default', name: 'fin' })) as V1Service;
    expect(deleting.metadata!.deletionTimestamp).toBeInstanceOf(Date);
    const still = await core.readNamespacedService({ namespace: 'default', name: 'fin' });
    expect(still.metadata!.finalizers).toEqual(['service.kubernetes.io/load-balancer-cleanup']);
    const nodePort = still.spec!.ports![0]!.nodePort!;
    await core.patchNamespacedService({ namespace: 'default', name: 'fin', body: { metadata: { finalizers: null } } }, merge);
    expect(await codeOf(core.readNamespacedService({ namespace: 'default', name: 'fin' }))).toBe(404);
    // Its NodePort was released: another Service may take it.
    const reuse = await core.createNamespacedService({ namespace: 'default', body: lb('fin-reuse', { ports: [{ name: 'http', port: 80, nodePort }] }) });
    expect(reuse.spec!.ports![0]!.nodePort).toBe(nodePort);
  });

  it('strategic merge patch keys Service ports by port', async () => {
    await core.createNamespacedService({ namespace: 'default', body: lb('smp', { ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] }) });
    const out = await core.patchNamespacedService({ namespace: 'default', name: 'smp', body: { spec: { ports: [{ port: 443, targetPort: 8443 }] } } }, strategic);
    expect(out.spec!.ports!.map((p) => [p.name, p.port, p.targetPort])).toEqual([
      ['http', 80, 80],
      ['https', 443, 8443],
    ]);
  });

  it('allocates healthCheckNodePort for Local LoadBalancers and releases NodePorts on type change', async () => {
    const local = await core.createNamespacedService({ namespace: 'default', body: lb('hc', { externalTrafficPolicy: 'Local' }) });
    const hc = local.spec!.healthCheckNodePort!;
    expect(hc).toBeGreaterThanOrEqual(30000);
    expect(hc).toBeLessThanOrEqual(32767);
    const cluster = await core.patchNamespacedService({ namespace: 'default', name: 'hc', body: { spec: { externalTrafficPolicy: 'Cluster' } } }, merge);
    expect(cluster.spec!.healthCheckNodePort).toBeUndefined();
    const nodePort = cluster.spec!.ports![0]!.nodePort!;
    const clusterIp = await core.patchNamespacedService({ namespace: 'default', name: 'hc', body: { spec: { type: 'ClusterIP' } } }, merge);
    expect(clusterIp.spec!.ports![0]!.nodePort).toBeUndefined();
    expect(clusterIp.spec!.externalTrafficPolicy).toBeUndefined();
    const taker = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'hc-taker' }, spec: { type: 'NodePort', ports: [{ name: 'a', port: 1, nodePort }, { name: 'b', port: 2, nodePort: hc }] } } });
    expect(taker.spec!.ports!.map((p) => p.nodePort)).toEqual([nodePort, hc]);
  });

  it('rejects loadBalancerClass changes and explicit clusterIPs outside the range', async () => {
    await core.createNamespacedService({ namespace: 'default', body: lb('cls', { loadBalancerClass: 'example.com/one' }) });
    const err = await core.patchNamespacedService({ namespace: 'default', name: 'cls', body: { spec: { loadBalancerClass: 'example.com/two' } } }, merge).catch((e: { code: number; body: string }) => e);
    expect((err as { code: number }).code).toBe(422);
    expect(JSON.parse((err as { body: string }).body).details.causes[0]).toEqual({ reason: 'FieldValueInvalid', field: 'spec.loadBalancerClass', message: 'Invalid value: "example.com/two": may not change once set' });
    const outside = await core.createNamespacedService({ namespace: 'default', body: lb('outside', { clusterIP: '192.168.0.1' }) }).catch((e: { code: number; body: string }) => e);
    expect(JSON.parse((outside as { body: string }).body).message).toBe(
      'Service "outside" is invalid: spec.clusterIPs: Invalid value: ["192.168.0.1"]: failed to allocate IP 192.168.0.1: the provided IP (192.168.0.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    );
  });

  it('nodes with status, leases, endpointslices and events.k8s.io events', async () => {
    const kc = kubeConfigFor(api);
    const node: V1Node = { metadata: { name: 'n-status' }, status: { addresses: [{ type: 'InternalIP', address: '10.0.0.5' }], conditions: [{ type: 'Ready', status: 'True' }] } };
    const created = await core.createNode({ body: node });
    expect(created.status!.addresses).toEqual([{ type: 'InternalIP', address: '10.0.0.5' }]);
    const patched = await core.patchNodeStatus({ name: 'n-status', body: { status: { addresses: [{ type: 'ExternalIP', address: '203.0.113.5' }] } } }, strategic);
    expect(patched.status!.addresses!.map((a) => a.type)).toEqual(['InternalIP', 'ExternalIP']);

    const leases = kc.makeApiClient(CoordinationV1Api);
    const renew = new Date();
    const lease = await leases.createNamespacedLease({ namespace: 'kube-system', body: { metadata: { name: 'lb-leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: renew } } });
    // MicroTime comes back with six fractional digits, as Go writes it.
    expect(String(lease.spec!.renewTime)).toBe(`${renew.toISOString().slice(0, 23)}000Z`);
    expect(await codeOf(leases.replaceNamespacedLease({ namespace: 'kube-system', name: 'lb-leader', body: { ...lease, metadata: { ...lease.metadata, resourceVersion: '1' } } }))).toBe(409);

    const discovery = kc.makeApiClient(DiscoveryV1Api);
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: { metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.1.0.1'], conditions: { ready: true } }], ports: [{ port: 8080 }] } });
    const slices = await discovery.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=web' });
    expect(slices.items.map((s) => s.metadata!.name)).toEqual(['web-abc']);

    const events = kc.makeApiClient(EventsV1Api);
    await events.createNamespacedEvent({
      namespace: 'default',
      body: { metadata: { name: 'n-status.1' }, eventTime: new Date(), reportingController: 'kube-lb-provisioner', reportingInstance: 'i', action: 'Sync', reason: 'EnsuredLoadBalancer', note: 'ok', type: 'Normal', regarding: { kind: 'Service', name: 'web', namespace: 'default' } },
    });
    const asCore = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Service,involvedObject.name=web,reason=EnsuredLoadBalancer' });
    expect(asCore.items.map((e) => [e.message, e.reportingComponent])).toEqual([['ok', 'kube-lb-provisioner']]);
    expect(asCore.items[0]!.eventTime).toBeDefined();
  });

  it('records every resource request with user, verb, group, resource, subresource, namespace and code', async () => {
    const bob = kubeConfigFor(api, 'bob').makeApiClient(CoreV1Api);
    const from = api.requests.length;
    await bob.createNamespacedConfigMap({ namespace: 'kube-system', body: { metadata: { name: 'rec', labels: { r: '1' } } } });
    await bob.readNamespacedConfigMap({ namespace: 'kube-system', name: 'rec' });
    await bob.patchNamespacedServiceStatus({ namespace: 'default', name: 'split', body: { status: { loadBalancer: {} } } }, merge);
    await codeOf(bob.readNamespacedConfigMap({ namespace: 'kube-system', name: 'missing' }));
    await bob.deleteCollectionNamespacedConfigMap({ namespace: 'kube-system', labelSelector: 'r=1' });
    // Only bob's: a watch of another test may reconnect meanwhile.
    expect(api.requests.slice(from).filter((r) => r.user === 'bob')).toEqual([
      { user: 'bob', verb: 'create', apiGroup: '', resource: 'configmaps', namespace: 'kube-system', code: 201 },
      { user: 'bob', verb: 'get', apiGroup: '', resource: 'configmaps', namespace: 'kube-system', name: 'rec', code: 200 },
      { user: 'bob', verb: 'patch', apiGroup: '', resource: 'services', subresource: 'status', namespace: 'default', name: 'split', code: 200 },
      { user: 'bob', verb: 'get', apiGroup: '', resource: 'configmaps', namespace: 'kube-system', name: 'missing', code: 404 },
      { user: 'bob', verb: 'deletecollection', apiGroup: '', resource: 'configmaps', namespace: 'kube-system', code: 200 },
    ]);
    expect((await core.listNamespacedConfigMap({ namespace: 'kube-system', labelSelector: 'r=1' })).items).toEqual([]);
  });
});
