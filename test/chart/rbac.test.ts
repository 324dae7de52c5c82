// RBAC proof: the controller and the speaker run their real flows in-process against the embedded
// API server, each as its own user (the API server records every request with the caller's bearer
// token). Every recorded (verb, group, resource, subresource, namespace, name) must be granted by the
// rules the chart binds to that component's ServiceAccount, and every permission the chart grants
// must have been used. The configuration and the speaker's flags come from the rendered chart.
import { randomUUID } from 'node:crypto';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle, type RecordedRequest } from '../../src/apiserver/index.js';
import { controllerConfigSchema, type ControllerConfig } from '../../src/config/schema.js';
import { runController, type RunningController } from '../../src/cli/runController.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ANNOUNCING_NODE_ANNOTATION, EVENT_REASON_NODE_ASSIGNED, Speaker, speakerLeaseName } from '../../src/speaker/speaker.js';
import { startMetallbWatch, type MetallbWatch } from '../../src/speaker/metallbWatch.js';
import { EventRecorder } from '../../src/kube/eventRecorder.js';
import { StatusObjectWriter } from '../../src/speaker/statusObjectWriter.js';
import { createNodes, eventsFor, lbService, readService, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor } from '../support/kube.js';
import { startFaultProxy, type FaultProxy, type InjectedFault } from './faultProxy.js';
import { MemoryNetEffects } from './memoryNetEffects.js';
import { findManifest, fixturesDir, releaseName, repoRoot, releaseNamespace, renderChart, type Manifest, type RenderOptions, withSiteValues } from './helmChart.js';
import { describeRequest, granted, rulesFor, unusedPermissions, type RequestAttributes, type ScopedRule } from './rbacRules.js';

const fullname = `${releaseName}-kube-lb-provisioner`;
const appNamespace = 'shop';

/** The chart as a bare-metal user installs it, with timings short enough for a test. */
const metalRelease: RenderOptions = { valuesFiles: [...withSiteValues('values-metal.yaml'), join(fixturesDir, 'fast-timings.yaml')] };

function podSpec(workload: Manifest): { serviceAccountName: string; containers: { args: string[] }[] } {
  return (workload.spec as { template: { spec: { serviceAccountName: string; containers: { args: string[] }[] } } }).template.spec;
}

/** --flag=value arguments of a container, by flag. */
function flags(args: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const arg of args) {
    const match = /^--([^=]+)=(.*)$/.exec(arg);
    if (match) out.set(match[1]!, match[2]!);
  }
  return out;
}

function attributes(r: RecordedRequest): RequestAttributes {
  return {
    verb: r.verb,
    apiGroup: r.apiGroup,
    resource: r.resource,
    ...(r.subresource ? { subresource: r.subresource } : {}),
    ...(r.namespace ? { namespace: r.namespace } : {}),
    ...(r.name ? { name: r.name } : {}),
  };
}

let manifests: Manifest[];
let config: ControllerConfig;
let api: ApiServerHandle;
let proxy: FaultProxy;
let admin: KubeConfig;
let controllerRules: ScopedRule[];
let speakerRules: ScopedRule[];
const controllers: RunningController[] = [];
const speakers = new Map<string, Speaker>();
const watches: MetallbWatch[] = [];
let speakerArgs: Map<string, string>;

/** A client for `user` that goes through the fault proxy. */
function kubeConfigAs(user: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig(user).replaceAll(api.url, proxy.url));
  return kc;
}

let speakerStarts = 0;
/** What the proxy in front of the API server fails or delays (tests add to it). */
const faults: InjectedFault[] = [];

/** A speaker as the DaemonSet runs it: reading MetalLB's resources from its --metallb-namespace. */
async function startSpeaker(node: string): Promise<Speaker> {
  const loadBalancerClass = speakerArgs.get('load-balancer-class');
  const kubeConfig = kubeConfigAs('speaker');
  const logger = silentLogger();
  const events = new EventRecorder(kubeConfig.makeApiClient(CoreV1Api), { component: 'kube-lb-provisioner-speaker', host: node, logger });
  const metallb = await startMetallbWatch({ kubeConfig, namespace: speakerArgs.get('metallb-namespace') ?? '', logger, events });
  watches.push(metallb);
  const speaker = new Speaker({
    kubeConfig: kubeConfigAs('speaker'),
    nodeName: node,
    namespace: speakerArgs.get('namespace') ?? '',
    ...(loadBalancerClass ? { loadBalancerClass } : {}),
    effects: new MemoryNetEffects(),
    logger: silentLogger(),
    renewIntervalMs: Number(speakerArgs.get('renew-interval-ms')),
    lapseMs: Number(speakerArgs.get('lapse-ms')),
    refreshIntervalMs: 200,
    metallb,
    // Each start is a new Pod (POD_NAME and POD_UID from the downward API), owner of what it writes.
    statusObjects: new StatusObjectWriter({
      kubeConfig: kubeConfigAs('speaker'),
      namespace: speakerArgs.get('namespace') ?? '',
      nodeName: node,
      owner: { apiVersion: 'v1', kind: 'Pod', name: `speaker-${node}-${speakerStarts++}`, uid: randomUUID() },
      logger: silentLogger(),
    }),
  });
  speakers.set(node, speaker);
  return speaker;
}

beforeAll(async () => {
  manifests = await renderChart(metalRelease);
  const configText = (findManifest(manifests, 'ConfigMap', fullname).data as Record<string, string>)['config.yaml'] ?? '';
  config = controllerConfigSchema.parse(parseYaml(configText));
  const deployment = findManifest(manifests, 'Deployment', fullname);
  const daemonSet = findManifest(manifests, 'DaemonSet');
  controllerRules = rulesFor(manifests, { name: podSpec(deployment).serviceAccountName, namespace: releaseNamespace });
  speakerRules = rulesFor(manifests, { name: podSpec(daemonSet).serviceAccountName, namespace: releaseNamespace });
  speakerArgs = flags(podSpec(daemonSet).containers[0]?.args ?? []);

  api = await startApiServer({ namespaces: [releaseNamespace, appNamespace, 'metallb-system'] });
  // MetalLB's resources configure the metal provider too: the chart's CRDs and one pool (written as
  // the admin with client-node, so that only the three users call the API).
  const crdDir = join(repoRoot, 'charts/kube-lb-provisioner/crds');
  const extensions = kubeConfigFor(api).makeApiClient(ApiextensionsV1Api);
  for (const file of readdirSync(crdDir)) await extensions.createCustomResourceDefinition({ body: parseYaml(readFileSync(join(crdDir, file), 'utf8')) as V1CustomResourceDefinition });
  await kubeConfigFor(api)
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({
      group: 'metallb.io',
      version: 'v1beta1',
      namespace: 'metallb-system',
      plural: 'ipaddresspools',
      body: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'crd-pool' }, spec: { addresses: ['203.0.113.64/30'], autoAssign: false, serviceAllocation: { namespaceSelectors: [{ matchLabels: { 'kubernetes.io/metadata.name': appNamespace } }] } } },
    });
  // The controller's first finalizer patch of shop/web conflicts, as when its cached copy is stale.
  proxy = await startFaultProxy(api.url, faults);
  faults.push({
      matches: (method, path, user) => user === 'controller' && method === 'PATCH' && path === `/api/v1/namespaces/${appNamespace}/services/web`,
      code: 409,
      reason: 'Conflict',
      remaining: 1,
  });
  admin = kubeConfigFor(api);
  await createNodes(admin.makeApiClient(CoreV1Api), 2);
}, 60_000);

afterAll(async () => {
  for (const controller of controllers) await controller.stop().catch(() => undefined);
  for (const speaker of speakers.values()) await speaker.stop(false).catch(() => undefined);
  for (const watch of watches) await watch.stop().catch(() => undefined);
  await proxy?.stop();
  await api?.stop();
});

describe('the controller and the speaker, each as its own user, through a whole life', () => {
  it('runs: leader election, Services served, announced, failed, deleted, resynced, leadership handed over', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    for (const identity of ['replica-a', 'replica-b']) {
      controllers.push(
        await runController({
          kubeConfig: kubeConfigAs('controller'),
          config,
          logger: silentLogger(),
          identity,
          tuning: { nodeSyncDelayMs: 50, resyncPeriodMs: 0, informerRestartMinMs: 50, informerRestartMaxMs: 500 },
        }),
      );
    }
    const leader = await waitFor(() => controllers.find((c) => c.isLeader()), { message: 'a leader', timeoutMs: 20_000 });
    for (const node of ['node-1', 'node-2']) await (await startSpeaker(node)).start();

    // A Service the metal provider serves: finalizer (after one conflict and a re-read), address, events.
    await core.createNamespacedService({ namespace: appNamespace, body: { ...lbService('web'), metadata: { name: 'web', namespace: appNamespace } } });
    await admin.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({
      namespace: appNamespace,
      body: {
        metadata: { name: 'web-1', namespace: appNamespace, labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.244.1.5'], nodeName: 'node-1', conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    });
    const [ingress] = await waitForIngress(admin, appNamespace, 'web', { timeoutMs: 20_000 });
    expect(proxy.injected).toHaveLength(1);
    await waitForEvent(admin, appNamespace, 'web', 'EnsuredLoadBalancer');

    // The speaker that owns the address says so on the Service and in an Event.
    await waitFor(async () => (await readService(admin, appNamespace, 'web'))?.metadata?.annotations?.[ANNOUNCING_NODE_ANNOTATION], {
      message: 'the announcing-node annotation',
    });
    await waitForEvent(admin, appNamespace, 'web', EVENT_REASON_NODE_ASSIGNED, new RegExp(ingress?.ip?.replaceAll('.', '\\.') ?? 'none'));

    // A Service the provider cannot serve: the same Warning again and again, counted on one Event.
    await core.createNamespacedService({
      namespace: appNamespace,
      body: { ...lbService('bad', { loadBalancerIP: '203.0.113.9' }), metadata: { name: 'bad', namespace: appNamespace } },
    });
    await waitFor(async () => (await eventsFor(admin, appNamespace, 'bad')).find((e) => e.type === 'Warning' && (e.count ?? 0) >= 2), {
      message: 'a repeated Warning on shop/bad',
      timeoutMs: 20_000,
    });

    // A Service on an IPAddressPool: the pool's status and its in-use finalizer are written, and the
    // finalizer comes off when the Service goes.
    await core.createNamespacedService({
      namespace: appNamespace,
      body: { ...lbService('pooled'), metadata: { name: 'pooled', namespace: appNamespace, annotations: { 'metallb.io/address-pool': 'crd-pool' } } },
    });
    await waitForIngress(admin, appNamespace, 'pooled', { timeoutMs: 20_000 });
    const poolPatched = (subresource?: string) => api.requests.some((r) => r.user === 'controller' && r.verb === 'patch' && r.resource === 'ipaddresspools' && r.subresource === subresource);
    await waitFor(() => poolPatched('status') && poolPatched(undefined), { message: 'pool status and finalizer written', timeoutMs: 20_000 });
    await core.deleteNamespacedService({ namespace: appNamespace, name: 'pooled' });
    await waitFor(async () => (await readService(admin, appNamespace, 'pooled')) === undefined, { message: 'shop/pooled deleted', timeoutMs: 20_000 });

    // The announcing speaker restarts without having released its Lease: create conflicts, it reads
    // and replaces. Its new Pod takes over the ServiceL2Status the old one wrote.
    const announcer = (await readService(admin, appNamespace, 'web'))!.metadata!.annotations![ANNOUNCING_NODE_ANNOTATION]!;
    // The old Pod's object must exist first (its write can trail the announcement on a loaded machine).
    const l2Statuses = async () =>
      ((await admin.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: speakerArgs.get('namespace') ?? '', plural: 'servicel2statuses' })) as {
        items: { metadata: { name: string }; status?: { serviceName?: string; node?: string } }[];
      }).items;
    const predecessors = async () => (await l2Statuses()).filter((o) => o.status?.serviceName === 'web' && o.status.node === announcer).map((o) => o.metadata.name);
    let predecessor = '';
    await waitFor(async () => (predecessor = (await predecessors())[0] ?? '') !== '', {
      message: 'the announcing speaker\'s ServiceL2Status written',
      timeoutMs: 20_000,
    });
    await speakers.get(announcer)!.stop(false);
    // Its first renewal is slow (within the lapse): meanwhile the other speakers' renewals arrive,
    // and it must not judge ownership (its own Lease would read as lapsed) nor touch its
    // predecessor's objects.
    faults.push({
      matches: (method, path, user) => user === 'speaker' && (method === 'PUT' || method === 'POST') && path.includes('/leases') && path.endsWith(speakerLeaseName(announcer)),
      code: 0,
      reason: 'slow',
      remaining: 1,
      delayMs: Number(speakerArgs.get('lapse-ms')) / 2,
    });
    await (await startSpeaker(announcer)).start();
    expect(proxy.delayed.filter((r) => r.path.endsWith(speakerLeaseName(announcer)))).toHaveLength(1);
    expect(api.requests.some((r) => r.user === 'speaker' && r.verb === 'get' && r.resource === 'leases' && r.name === speakerLeaseName(announcer))).toBe(true);
    await waitFor(() => api.requests.some((r) => r.user === 'speaker' && r.verb === 'patch' && r.resource === 'servicel2statuses' && r.subresource === undefined), {
      message: 'the restarted speaker adopting its ServiceL2Status',
      timeoutMs: 20_000,
    });
    // Taken over, not deleted and created again: the object is the same, now owned by the new Pod.
    const statuses = (await admin.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: speakerArgs.get('namespace') ?? '', plural: 'servicel2statuses' })) as {
      items: { metadata: { ownerReferences?: { name: string }[] } }[];
    };
    expect(statuses.items.map((o) => o.metadata.ownerReferences?.map((r) => r.name))).toEqual([[`speaker-${announcer}-${speakerStarts - 1}`]]);
    // (On a loaded machine the other node may take over while the restart runs past the lapse, and
    // delete its own object after: that is the failover, not a churn of ours.)
    expect(api.requests.filter((r) => r.user === 'speaker' && r.resource === 'servicel2statuses' && r.verb === 'delete' && r.name === predecessor)).toEqual([]);
    expect(await predecessors()).toEqual([predecessor]);

    // Node membership changes, the Service changes, then it goes away: the finalizer comes off.
    await core.patchNode(
      { name: 'node-2', body: { metadata: { labels: { 'node.kubernetes.io/exclude-from-external-load-balancers': 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await core.deleteNamespacedService({ namespace: appNamespace, name: 'web' });
    await waitFor(async () => (await readService(admin, appNamespace, 'web')) === undefined, { message: 'shop/web deleted', timeoutMs: 20_000 });
    await leader.resyncNow();

    // Graceful shutdown: the leader hands over, the speakers release their Leases.
    await leader.stop();
    await waitFor(() => controllers.find((c) => c !== leader && c.isLeader()), { message: 'the other replica leads', timeoutMs: 20_000 });
    for (const speaker of speakers.values()) await speaker.stop(true);
    speakers.clear();
    for (const controller of controllers) await controller.stop();
  }, 120_000);

  function requestsOf(user: string): RequestAttributes[] {
    const recorded = api.requests.filter((r) => r.user === user).map(attributes);
    // Requests the proxy answered never reached the server; they were still made.
    const injected = proxy.injected
      .filter((r) => r.user === user)
      .map((r): RequestAttributes => {
        const [, , , , namespace, resource, name] = r.path.split('/');
        return { verb: r.method.toLowerCase(), apiGroup: '', resource: resource ?? '', namespace: namespace ?? '', name: name ?? '' };
      });
    return [...recorded, ...injected];
  }

  it.each([
    ['controller', () => controllerRules],
    ['speaker', () => speakerRules],
  ] as const)('every request the %s made is granted by the chart', (user, rules) => {
    const requests = requestsOf(user);
    expect(requests.length).toBeGreaterThan(10);
    const denied = [...new Set(requests.filter((r) => !granted(rules(), r)).map(describeRequest))];
    expect(denied).toEqual([]);
  });

  it.each([
    ['controller', () => controllerRules],
    ['speaker', () => speakerRules],
  ] as const)('the chart grants the %s nothing it did not use', (user, rules) => {
    expect(rules().length).toBeGreaterThan(0);
    expect(unusedPermissions(rules(), requestsOf(user))).toEqual([]);
  });

  it('only the admin (the test), the controller and the speaker called the API', () => {
    const users = new Set(api.requests.map((r) => r.user));
    expect([...users].sort()).toEqual(['admin', 'controller', 'speaker']);
  });
});

describe('the proof covers every cloud', () => {
  // Providers never call the Kubernetes API (providers/provider.ts), so the controller makes the same
  // calls whichever cloud it drives; the chart must then bind it the same rules for each, but for
  // the Role metal alone needs to read MetalLB's resources (metallb.io) in its namespace.
  it('no provider imports a Kubernetes client', () => {
    const providersDir = join(repoRoot, 'providers');
    const offenders = readdirSync(providersDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .filter((f) => /from\s+['"]@kubernetes\/client-node['"]|import\(\s*['"]@kubernetes\/client-node['"]/.test(readFileSync(join(providersDir, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it.each(['values-aws.yaml', 'values-gcp.yaml'] as const)('%s binds the controller exactly the rules proven with metal', async (file) => {
    const rendered = await renderChart({ valuesFiles: withSiteValues(file) });
    const deployment = findManifest(rendered, 'Deployment', fullname);
    const rules = rulesFor(rendered, { name: podSpec(deployment).serviceAccountName, namespace: releaseNamespace });
    const metal = rulesFor(await renderChart({ valuesFiles: withSiteValues('values-metal.yaml') }), { name: podSpec(deployment).serviceAccountName, namespace: releaseNamespace });
    expect(rules).toEqual(metal.filter((r) => !r.source.endsWith('-metallb-config')));
    // Cluster-wide: Namespaces (for namespaceSelectors); in metallb-system: MetalLB's resources.
    expect(metal.filter((r) => r.source.endsWith('-metallb-config')).map((r) => r.namespace ?? '(cluster)')).toEqual(['(cluster)', 'metallb-system', 'metallb-system', 'metallb-system']);
    expect(rendered.some((m) => m.kind === 'DaemonSet' || m.metadata.name.endsWith('-speaker'))).toBe(false);
  });
});
