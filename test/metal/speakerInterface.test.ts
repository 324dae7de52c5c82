// Which interface the speaker announces on, for real: two node namespaces and a client on a
// bridge, the speaker CLI on each against the embedded API server. One speaker is told an
// interface the node does not have; the other is told none and must find the interface that
// routes to the address, although its default route leaves by another one; an L2Advertisement that
// lists the other interface puts its pool's address there instead. Needs root (CI is root).
import { CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { rankNodes } from '../../src/speaker/announcementOwnership.js';
import { VIP_MARK_METRIC } from '../../src/speaker/ipCommandEffects.js';
import { ANNOUNCING_NODE_ANNOTATION, speakerLeaseName } from '../../src/speaker/speaker.js';
import { kubectlOk } from '../support/kube.js';
import { L2Lab, LAN_PREFIX, NODE_PORT, RELAXED_SPEAKER_TIMING, SERVICE_PORT, ensureNetworkTools, inNetns, pollUntil, waitForLiveSpeakers, waitForSoleAnnouncer, type LabNode } from './l2Lab.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BROKEN = 'node-a';
const AUTO = 'node-b';
// An address the broken node would win if it took part: so it being skipped is what the test sees.
const VIP = Array.from({ length: 21 }, (_, i) => `${LAN_PREFIX}.${200 + i}`).find((ip) => rankNodes([BROKEN, AUTO], ip)[0] === BROKEN)!;

describe('the speaker\'s interface', () => {
  let lab: L2Lab;
  let api: ApiServerHandle;
  let kc: KubeConfig;
  let core: CoreV1Api;
  let dir: string;
  let kubeconfigPath: string;
  const nodeNamed = (name: string): LabNode => lab.nodes.find((n) => n.name === name)!;

  beforeAll(async () => {
    await ensureNetworkTools();
    lab = new L2Lab([BROKEN, AUTO]);
    dir = await mkdtemp(join(tmpdir(), 'klb-l2-'));
    kubeconfigPath = join(dir, 'kubeconfig');
    api = await startApiServer({ host: '127.0.0.1', namespaces: ['metallb-system'] });
    await api.writeKubeconfig(kubeconfigPath);
    // MetalLB's CRDs before the speakers start, so they watch them from the start (no objects yet:
    // every address is announced from every node, on the interface of its route).
    await kubectlOk(api, ['apply', '-f', join(repoRoot, 'charts', 'kube-lb-provisioner', 'crds')]);
    await kubectlOk(api, ['wait', '--for', 'condition=established', '--timeout=10s', 'crd', '--all']);
    kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    await lab.create();
    // A decoy on the auto node: a second interface that is up and holds the default route. The
    // address's own segment is on eth0, so "the default route's interface" would be the wrong answer.
    const auto = nodeNamed(AUTO).netns;
    await inNetns(auto, 'ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1peer']);
    await inNetns(auto, 'ip', ['link', 'set', 'eth1peer', 'up']);
    await inNetns(auto, 'ip', ['link', 'set', 'eth1', 'up']);
    await inNetns(auto, 'ip', ['addr', 'add', '203.0.113.2/24', 'dev', 'eth1']);
    await inNetns(auto, 'ip', ['route', 'add', 'default', 'via', '203.0.113.1', 'dev', 'eth1']);
    for (const node of lab.nodes) {
      await core.createNode({ body: { metadata: { name: node.name }, status: { addresses: [{ type: 'InternalIP', address: node.ip }] } } });
    }
    lab.startSpeaker(nodeNamed(BROKEN), kubeconfigPath, RELAXED_SPEAKER_TIMING, 'eth9');
    lab.startSpeaker(nodeNamed(AUTO), kubeconfigPath, RELAXED_SPEAKER_TIMING, null);
    await waitForLiveSpeakers(kc, [AUTO]);
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function leaseExists(node: string): Promise<boolean> {
    const leases = await kc.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: 'kube-system' });
    return leases.items.some((l) => l.metadata?.name === speakerLeaseName(node));
  }

  async function metricsOf(node: string): Promise<string> {
    return (await fetch(`${await lab.speakerHealthUrl(nodeNamed(node))}/metrics`)).text();
  }

  async function readyz(node: string): Promise<number> {
    return (await fetch(`${await lab.speakerHealthUrl(nodeNamed(node))}/readyz`)).status;
  }

  it('a speaker given a missing interface is not ready, never owns; the one given none announces from the routed interface', async () => {
    // Its first check is done once it reports it (it is 503 before its caches sync, too).
    await pollUntil(async () => /^kube_lb_speaker_can_announce 0$/m.test(await metricsOf(BROKEN)), 20_000, `${BROKEN} reporting it cannot announce`);
    expect(await readyz(BROKEN)).toBe(503);
    expect((await fetch(`${await lab.speakerHealthUrl(nodeNamed(BROKEN))}/healthz`)).status).toBe(200);
    expect(await leaseExists(BROKEN)).toBe(false);
    expect(await readyz(AUTO)).toBe(200);
    expect(await metricsOf(AUTO)).toMatch(/^kube_lb_speaker_can_announce 1$/m);

    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web', namespace: 'default' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: SERVICE_PORT, nodePort: NODE_PORT, protocol: 'TCP' }] } },
    });
    await core.patchNamespacedServiceStatus(
      { name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: 'VIP' }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitForSoleAnnouncer(lab, VIP, AUTO);
    expect(await lab.vipEntries(nodeNamed(AUTO), VIP)).toEqual([expect.objectContaining({ dev: 'eth0', prefixlen: 32, metric: VIP_MARK_METRIC })]);
    expect(await lab.arpResponders(VIP)).toEqual([await lab.macOf(nodeNamed(AUTO))]);
    await pollUntil(
      async () => (await core.readNamespacedService({ name: 'web', namespace: 'default' })).metadata?.annotations?.[ANNOUNCING_NODE_ANNOTATION] === AUTO,
      10_000,
      `announcing-node annotation = ${AUTO}`,
    );

    // Still out after the address appeared: no Lease, not ready, never reported itself as owner.
    expect(await leaseExists(BROKEN)).toBe(false);
    expect(await readyz(BROKEN)).toBe(503);
    expect(await lab.holders(VIP)).toEqual([AUTO]);
    const events = await core.listNamespacedEvent({ namespace: 'default' });
    expect(events.items.filter((e) => e.reason === 'nodeAssigned').map((e) => e.source?.host)).not.toContain(BROKEN);
  });

  it('recovers when the interface appears: ready again, takes back the address it wins, announces from it', async () => {
    // The node's interface turns up under the name the speaker was given.
    const broken = nodeNamed(BROKEN).netns;
    await inNetns(broken, 'ip', ['link', 'set', 'eth0', 'down']);
    await inNetns(broken, 'ip', ['link', 'set', 'eth0', 'name', 'eth9']);
    await inNetns(broken, 'ip', ['link', 'set', 'eth9', 'up']);

    await waitForLiveSpeakers(kc, [BROKEN]);
    await pollUntil(async () => (await readyz(BROKEN)) === 200, 20_000, `${BROKEN} ready`);
    expect(await metricsOf(BROKEN)).toMatch(/^kube_lb_speaker_can_announce 1$/m);
    await waitForSoleAnnouncer(lab, VIP, BROKEN);
    expect(await lab.vipEntries(nodeNamed(BROKEN), VIP)).toEqual([expect.objectContaining({ dev: 'eth9', prefixlen: 32, metric: VIP_MARK_METRIC })]);
    await pollUntil(
      async () => (await core.readNamespacedService({ name: 'web', namespace: 'default' })).metadata?.annotations?.[ANNOUNCING_NODE_ANNOTATION] === BROKEN,
      10_000,
      `announcing-node annotation = ${BROKEN}`,
    );
  });

  it('an L2Advertisement listing interfaces puts its pool\'s address on one of them, though the route leaves by eth0', async () => {
    const wired = `${LAN_PREFIX}.230`;
    await core.patchNode({ name: AUTO, body: { metadata: { labels: { 'kubernetes.io/hostname': AUTO } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await kubectlOk(
      api,
      ['apply', '-f', '-'],
      [
        `apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: wired, namespace: metallb-system}\nspec: {addresses: ["${wired}/32"]}\n`,
        `apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: wired, namespace: metallb-system}\nspec: {ipAddressPools: [wired], interfaces: [eth1], nodeSelectors: [{matchLabels: {kubernetes.io/hostname: ${AUTO}}}]}\n`,
      ].join('---\n'),
    );
    await core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'wired', namespace: 'default' }, spec: { type: 'LoadBalancer', selector: { app: 'wired' }, ports: [{ port: SERVICE_PORT, protocol: 'TCP' }] } },
    });
    await core.patchNamespacedServiceStatus(
      { name: 'wired', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: wired, ipMode: 'VIP' }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // Until the speaker's watch has the new pool, an address in no pool it knows goes everywhere,
    // on the routed interface; then it moves.
    await pollUntil(async () => (await lab.vipEntries(nodeNamed(AUTO), wired)).map((e) => e.dev).join() === 'eth1', 30_000, `${wired} on ${AUTO}'s eth1 only`);
    expect(await lab.vipEntries(nodeNamed(AUTO), wired)).toEqual([expect.objectContaining({ dev: 'eth1', prefixlen: 32, metric: VIP_MARK_METRIC })]);
    expect(await lab.holders(wired)).toEqual([AUTO]);
    // The other node, which the advertisement does not select, is untouched and keeps its address.
    expect(await lab.holders(VIP)).toEqual([BROKEN]);
  });
});
