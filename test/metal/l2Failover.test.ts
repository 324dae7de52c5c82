// The L2 path for real: three node namespaces and a client on a bridge, a speaker per node (the
// real CLI) against the embedded API server, nftables DNAT standing in for kube-proxy. The test
// plays the controller's part by writing the Service's status itself. Needs root (CI is root).
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { VIP_MARK_METRIC } from '../../src/speaker/ipCommandEffects.js';
import { ANNOUNCING_NODE_ANNOTATION } from '../../src/speaker/speaker.js';
import { DUAL_STACK_SERVICE_CIDR, L2Lab, NODE_PORT, SERVICE_PORT, ensureNetworkTools, pollUntil, RELAXED_SPEAKER_TIMING, waitForLiveSpeakers, type LabNode } from './l2Lab.js';

const VIP = '198.51.100.201';

describe('metal L2 announcements in network namespaces', () => {
  let lab: L2Lab;
  let api: ApiServerHandle;
  let core: CoreV1Api;
  let kc: KubeConfig;
  let dir: string;
  let kubeconfigPath: string;

  beforeAll(async () => {
    await ensureNetworkTools();
    lab = new L2Lab(['node-a', 'node-b', 'node-c']);
    dir = await mkdtemp(join(tmpdir(), 'klb-l2-'));
    kubeconfigPath = join(dir, 'kubeconfig');
    // Dual-stack, as the IPv6 Service below needs (the API server refuses IPv6 on a single-stack cluster).
    api = await startApiServer({ host: '127.0.0.1', serviceCIDR: DUAL_STACK_SERVICE_CIDR });
    await api.writeKubeconfig(kubeconfigPath);
    kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    await lab.create();
    for (const node of lab.nodes) {
      await core.createNode({ body: { metadata: { name: node.name }, status: { addresses: [{ type: 'InternalIP', address: node.ip }] } } });
    }
    for (const node of lab.nodes) lab.startSpeaker(node, kubeconfigPath, RELAXED_SPEAKER_TIMING);
    await waitForLiveSpeakers(kc, lab.nodes.map((n) => n.name));
  });

  afterAll(async () => {
    await lab?.destroy();
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const nodeNamed = (name: string): LabNode => lab.nodes.find((n) => n.name === name)!;

  async function steadySingleOwner(): Promise<string> {
    let owner = '';
    await pollUntil(
      async () => {
        const holders = await lab.holders(VIP);
        if (holders.length !== 1) return false;
        owner = holders[0]!;
        return (await lab.curl(VIP)) === owner;
      },
      20_000,
      'exactly one node holding the VIP and answering',
    );
    // Steady state: ARP for the VIP is answered by the owner's MAC only.
    expect(await lab.arpResponders(VIP)).toEqual([await lab.macOf(nodeNamed(owner))]);
    expect(await lab.holders(VIP)).toEqual([owner]);
    expect(await lab.vipEntries(nodeNamed(owner), VIP)).toEqual([expect.objectContaining({ prefixlen: 32, metric: VIP_MARK_METRIC })]);
    return owner;
  }

  it('announces the Service address from one node, reports it, and fails over when its speaker dies', async () => {
    const service: V1Service = {
      metadata: { name: 'web', namespace: 'default' },
      spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: SERVICE_PORT, nodePort: NODE_PORT, protocol: 'TCP' }] },
    };
    await core.createNamespacedService({ namespace: 'default', body: service });
    await core.patchNamespacedServiceStatus(
      { name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: 'VIP' }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    const first = await steadySingleOwner();
    await pollUntil(
      async () => (await core.readNamespacedService({ name: 'web', namespace: 'default' })).metadata?.annotations?.[ANNOUNCING_NODE_ANNOTATION] === first,
      10_000,
      `announcing-node annotation = ${first}`,
    );
    const events = await core.listNamespacedEvent({ namespace: 'default' });
    expect(events.items.some((e) => e.reason === 'nodeAssigned' && e.involvedObject.name === 'web' && e.message?.includes(`"${first}"`))).toBe(true);

    // Each speaker process (the real CLI) serves its own endpoint: all ready, and only the owner
    // counts the address as announced.
    for (const node of lab.nodes) {
      const url = await lab.speakerHealthUrl(node);
      expect((await fetch(`${url}/healthz`)).status, node.name).toBe(200);
      expect((await fetch(`${url}/readyz`)).status, node.name).toBe(200);
      const body = await (await fetch(`${url}/metrics`)).text();
      expect(body, node.name).toMatch(new RegExp(`^kube_lb_speaker_announced_addresses ${node.name === first ? 1 : 0}$`, 'm'));
    }

    // Crash: SIGKILL leaves no chance to clean up. Others see the Lease lapse and take over; the
    // dead speaker's address expires on its own (valid_lft).
    await lab.stopSpeaker(nodeNamed(first), 'SIGKILL');
    let second = '';
    await pollUntil(
      async () => {
        const answer = await lab.curl(VIP, SERVICE_PORT, 0.3);
        if (answer && answer !== first) second = answer;
        return second !== '';
      },
      15_000,
      'traffic through another node after the owner was killed',
    );
    expect(await steadySingleOwner()).toBe(second);
    await pollUntil(
      async () => (await core.readNamespacedService({ name: 'web', namespace: 'default' })).metadata?.annotations?.[ANNOUNCING_NODE_ANNOTATION] === second,
      10_000,
      `announcing-node annotation moves to ${second}`,
    );

    // Graceful stop (SIGTERM): the speaker withdraws the address and its Lease at once.
    await lab.stopSpeaker(nodeNamed(second), 'SIGTERM');
    expect(await lab.holders(VIP)).not.toContain(second);
    const third = lab.nodes.map((n) => n.name).find((n) => n !== first && n !== second)!;
    await pollUntil(async () => (await lab.curl(VIP, SERVICE_PORT, 0.3)) === third, 10_000, `traffic through ${third}`);
    expect(await steadySingleOwner()).toBe(third);

    // The first speaker comes back (a DaemonSet restarts it): rendezvous hashing gives it back its
    // address, and still only one node holds it.
    lab.startSpeaker(nodeNamed(first), kubeconfigPath, RELAXED_SPEAKER_TIMING);
    await waitForLiveSpeakers(kc, [first]);
    await pollUntil(async () => (await lab.holders(VIP)).join() === first, 20_000, `${first} taking its address back`);
    expect(await steadySingleOwner()).toBe(first);
  });

  it('announces an IPv6 address as a marked /128 from one node, and it answers curl', async () => {
    const vip6 = '2001:db8:100::202';
    await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name: 'web6', namespace: 'default' },
        spec: { type: 'LoadBalancer', ipFamilies: ['IPv6'], selector: { app: 'web6' }, ports: [{ port: SERVICE_PORT, nodePort: NODE_PORT + 1, protocol: 'TCP' }] },
      },
    });
    await core.patchNamespacedServiceStatus(
      { name: 'web6', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: vip6, ipMode: 'VIP' }] } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    let owner = '';
    await pollUntil(
      async () => {
        const holders = await lab.holders(vip6);
        owner = holders[0] ?? '';
        return holders.length === 1 && (await lab.curl(vip6)) === owner;
      },
      20_000,
      'one node holding the IPv6 address and answering',
    );
    expect(await lab.vipEntries(nodeNamed(owner), vip6)).toEqual([expect.objectContaining({ prefixlen: 128, metric: VIP_MARK_METRIC })]);
    await core.deleteNamespacedService({ name: 'web6', namespace: 'default' });
    await pollUntil(async () => (await lab.holders(vip6)).length === 0, 10_000, 'the IPv6 address withdrawn');
  });

  it('keeps every address where it is while the API server is down, then carries on', async () => {
    const owner = await steadySingleOwner();
    const port = api.port;
    await api.stop();
    // Longer than the lapse (3 s here): without fail-static, every speaker would count every Lease dead.
    const downUntil = Date.now() + 5000;
    while (Date.now() < downUntil) {
      expect(await lab.holders(VIP)).toEqual([owner]);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await lab.curl(VIP)).toBe(owner);
    api = await startApiServer({ host: '127.0.0.1', port, store: api.store });
    // (One speaker was stopped for good in the first test.)
    await waitForLiveSpeakers(kc, lab.nodes.filter((n) => n.speaker).map((n) => n.name));
    expect(await steadySingleOwner()).toBe(owner);
  });

  it('withdraws the address when the Service is deleted', async () => {
    await core.deleteNamespacedService({ name: 'web', namespace: 'default' });
    await pollUntil(async () => (await lab.holders(VIP)).length === 0, 10_000, 'no node holding the VIP');
    expect(await lab.arpResponders(VIP)).toEqual([]);
  });
});
