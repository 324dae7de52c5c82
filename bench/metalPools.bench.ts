// Metal pools from MetalLB resources, edited live (issue 13). Against the embedded API server with
// the chart's CRDs and the real controller (runController, metal reading IPAddressPools):
//   1. pool-a (10.10.0.0/22) and pool-b (10.20.0.0/28) with an L2Advertisement; 1,000 LoadBalancer
//      Services, all served (from pool-a, first by name); each Service's address recorded.
//   2. One live edit: pool-a shrunk to exactly the addresses in use (it loses its free space),
//      pool-b grown to a /22, and team-c (10.30.0.0/24, serviceAllocation for namespace team-c)
//      added. Then 100 new Services, half in default (more than pool-b had before the edit) and half
//      in team-c: each needs space the edit made.
//      They are created once every pool's status shows the edit (else one could race the edit and
//      take an address pool-a no longer has); the clock still starts at the edit.
// Figures: time per new Service, edit to all 100 served (and from their creation), against the
// first 1,000's time per Service in the same run; and how many of the first 1,000 moved (target 0).
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, makeInformer, type V1Service } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { startApiServer } from '../src/apiserver/index.js';
import { installChartCrds } from '../src/cli/chartCrds.js';
import { runController } from '../src/cli/runController.js';
import { controllerConfigSchema } from '../src/config/schema.js';
import { bigIntToIP, ipToBigInt } from '../src/metallb/addressRange.js';
import { silentLogger } from '../src/observability/logger.js';
import { inParallel, kubeConfigOf } from './support/cluster.js';

const FIRST = 1000;
const NEW_PER_NAMESPACE = 50;
const NS = 'metallb-system';
const POOL_B_BEFORE = 16; // 10.20.0.0/28
const TIMEOUT_MS = 300_000;

const ipOf = (svc: V1Service) => svc.status?.loadBalancer?.ingress?.[0]?.ip;
const key = (namespace: string, name: string) => `${namespace}/${name}`;

function pool(name: string, addresses: string[], namespaces?: string[]): object {
  return {
    apiVersion: 'metallb.io/v1beta1',
    kind: 'IPAddressPool',
    metadata: { name, namespace: NS },
    spec: { addresses, ...(namespaces ? { serviceAllocation: { namespaces } } : {}) },
  };
}

export async function run(): Promise<void> {
  const api = await startApiServer({ host: '127.0.0.1', namespaces: [NS, 'team-c'] });
  const kc = kubeConfigOf(api);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const pools = { group: 'metallb.io', version: 'v1beta1', namespace: NS, plural: 'ipaddresspools' };
  await installChartCrds(kc.makeApiClient(ApiextensionsV1Api));
  await custom.createNamespacedCustomObject({ ...pools, body: pool('pool-a', ['10.10.0.0/22']) });
  await custom.createNamespacedCustomObject({ ...pools, body: pool('pool-b', ['10.20.0.0/28']) });
  await custom.createNamespacedCustomObject({
    ...pools,
    plural: 'l2advertisements',
    body: { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS }, spec: {} },
  });

  const config = controllerConfigSchema.parse({ clusterName: 'bench', workers: 8, leaderElection: { enabled: false }, providers: [{ type: 'metal' }] });
  const controller = await runController({ kubeConfig: kc, config, logger: silentLogger(), registry: new Registry(), tuning: { resyncPeriodMs: 0 } });

  // Every Service's address as the watch reports it; `served` resolves when all wanted have one.
  const addresses = new Map<string, string>();
  let waiting: { keys: string[]; resolve: () => void } | undefined;
  const informer = makeInformer(kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
  const check = () => {
    if (waiting?.keys.every((k) => addresses.has(k))) waiting.resolve();
  };
  const onChange = (svc: V1Service) => {
    const ip = ipOf(svc);
    if (ip) addresses.set(key(svc.metadata!.namespace!, svc.metadata!.name!), ip);
    check();
  };
  informer.on('add', onChange);
  informer.on('update', onChange);
  await informer.start();
  const served = (keys: string[]) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${keys.filter((k) => addresses.has(k)).length} of ${keys.length} Services served within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS);
      waiting = { keys, resolve: () => (clearTimeout(timer), resolve()) };
      check();
    });
  const create = (namespace: string, names: string[]) =>
    inParallel(names, 16, (name) =>
      core.createNamespacedService({ namespace, body: { metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] } } }),
    );

  try {
    const first = Array.from({ length: FIRST }, (_, i) => `svc-${i}`);
    const t0 = performance.now();
    await Promise.all([create('default', first), served(first.map((n) => key('default', n)))]);
    const firstMs = performance.now() - t0;
    const before = new Map(first.map((n) => [n, addresses.get(key('default', n))!]));

    // pool-a shrunk to the span of the addresses it serves: what it loses is exactly its free space.
    const inA = [...before.values()].map(ipToBigInt).filter((v) => v >> 16n === ipToBigInt('10.10.0.0') >> 16n);
    const lowest = inA.reduce((a, b) => (a < b ? a : b));
    const highest = inA.reduce((a, b) => (a > b ? a : b));
    const lostFromA = 1024 - Number(highest - lowest + 1n);
    const shrunk = `${bigIntToIP(lowest, 'IPv4')}-${bigIntToIP(highest, 'IPv4')}`;

    const newDefault = Array.from({ length: NEW_PER_NAMESPACE }, (_, i) => `new-${i}`);
    const newTeam = Array.from({ length: NEW_PER_NAMESPACE }, (_, i) => `team-${i}`);
    const t1 = performance.now();
    const editPool = async (name: string, addresses: string[]) => {
      const current = (await custom.getNamespacedCustomObject({ ...pools, name })) as { metadata: object; spec: object };
      await custom.replaceNamespacedCustomObject({ ...pools, name, body: { ...current, spec: { ...current.spec, addresses } } });
    };
    await editPool('pool-a', [shrunk]);
    await editPool('pool-b', ['10.20.0.0/22']);
    await custom.createNamespacedCustomObject({ ...pools, body: pool('team-c', ['10.30.0.0/24'], ['team-c']) });
    // Services created only once the controller shows the edit in every pool's status; the time
    // still counts from the edit, so taking the edit up is part of the figure.
    const available = async (name: string) =>
      ((await custom.getNamespacedCustomObject({ ...pools, name })) as { status?: { availableIPv4?: number } }).status?.availableIPv4;
    const deadline = Date.now() + TIMEOUT_MS;
    while ((await available('pool-a')) !== 0 || (await available('pool-b')) !== 1024 || (await available('team-c')) !== 256) {
      if (Date.now() > deadline) throw new Error('the controller never showed the pool edit in the pools\' status');
      await new Promise((r) => setTimeout(r, 20));
    }
    const takenUpMs = performance.now() - t1;
    const newKeys = [...newDefault.map((n) => key('default', n)), ...newTeam.map((n) => key('team-c', n))];
    await Promise.all([create('default', newDefault), create('team-c', newTeam), served(newKeys)]);
    const editMs = performance.now() - t1;

    // Nothing left to do, then compare: a late reshuffle would count too.
    while (controller.pendingWork() > 0) await new Promise((r) => setTimeout(r, 100));
    const now = new Map((await core.listNamespacedService({ namespace: 'default' })).items.map((s) => [s.metadata!.name!, ipOf(s)]));
    const moved = first.filter((n) => now.get(n) !== before.get(n)).length;
    const wrongPool = [
      ...newDefault.filter((n) => !addresses.get(key('default', n))!.startsWith('10.20.')),
      ...newTeam.filter((n) => !addresses.get(key('team-c', n))!.startsWith('10.30.')),
    ];
    if (wrongPool.length > 0) throw new Error(`new Services served from the wrong pool: ${wrongPool.join(', ')}`);

    const perFirst = firstMs / FIRST;
    const perNew = editMs / newKeys.length;
    const perAfter = (editMs - takenUpMs) / newKeys.length;
    console.log(`  ${FIRST} Services served from IPAddressPools in ${(firstMs / 1000).toFixed(1)} s: ${perFirst.toFixed(1)} ms per Service (the reference)`);
    console.log(`  live edit (pool-a shrunk to ${shrunk}, losing ${lostFromA} free addresses; pool-b /28 -> /22; team-c added for namespace team-c)`);
    console.log(`  edit shown in every pool's status after ${takenUpMs.toFixed(0)} ms`);
    console.log(`  then ${newKeys.length} new Services (${NEW_PER_NAMESPACE} in default past pool-b's old ${POOL_B_BEFORE}, ${NEW_PER_NAMESPACE} in team-c) all served ${(editMs / 1000).toFixed(2)} s after the edit began: ${perNew.toFixed(1)} ms per Service -> ${(perNew / perFirst).toFixed(2)}x the reference; counted from their creation (edit taken up): ${(perAfter / perFirst).toFixed(2)}x`);
    console.log(`  moved: ${moved} of ${FIRST} (target 0)`);
  } finally {
    await informer.stop();
    await controller.stop();
    await api.stop();
  }
}
