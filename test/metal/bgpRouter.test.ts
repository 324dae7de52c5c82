// BGP mode for real: three node namespaces, each with a speaker (the real CLI, against the embedded
// API server, reading MetalLB's objects live from it) driving its own FRR, peering with bird2 in a router namespace (a different
// implementation, so interoperability is real). Assertions read the router: its kernel table (ECMP
// next-hops), bird's RIB (communities) and bird's session state. The test plays the controller's
// part (status.loadBalancer.ingress and the endpoint-nodes annotation). Needs root (CI is root).
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINT_NODES_ANNOTATION } from '../../src/controller/ourAnnotations.js';
import { BGP_POOL, BGP_POOL6, MD5_PASSWORD, ROUTER_IP6, NODE_ASN, ROUTER_ASN, ROUTER_IP, startBgpSpeakerLab, type BgpLabNode, type BgpSpeakerLab } from './bgpLab.js';
import { pollUntil, setIngress, speakerHttpUrl } from './l2Lab.js';

const NODES = ['node-a', 'node-b', 'node-c'];
const NAMESPACE = 'default';
const CLUSTER_VIP = '203.0.113.10';
const LOCAL_VIP = '203.0.113.11';

const AGG_VIP = '198.18.0.77';

/** `extra`: more objects (YAML documents) after the lab's own. */
function bgpObjects(communities: string[], extra = ''): string {
  return `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: lab, namespace: metallb-system }
spec: { addresses: ["${BGP_POOL}", "${BGP_POOL6}"] }
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: { name: fast, namespace: metallb-system }
spec: { receiveInterval: 250, transmitInterval: 250, detectMultiplier: 4 }
---
apiVersion: v1
kind: Secret
metadata: { name: tor-password, namespace: metallb-system }
type: kubernetes.io/basic-auth
stringData: { password: "${MD5_PASSWORD}" }
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: tor, namespace: metallb-system }
spec:
  myASN: ${NODE_ASN}
  peerASN: ${ROUTER_ASN}
  peerAddress: ${ROUTER_IP}
  passwordSecret: { name: tor-password }
  bfdProfile: fast
  holdTime: 9s
  enableGracefulRestart: true
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: tor6, namespace: metallb-system }
spec: { myASN: ${NODE_ASN}, peerASN: ${ROUTER_ASN}, peerAddress: "${ROUTER_IP6}", passwordSecret: { name: tor-password }, holdTime: 9s }
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: { name: lab, namespace: metallb-system }
spec:
  ipAddressPools: [lab]
  communities: [${communities.map((c) => JSON.stringify(c)).join(', ')}]
${extra}`;
}

/** A second pool, a /24 announced as one /24 (not per address), from node-b only. */
const AGGREGATED = `---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: aggregated, namespace: metallb-system, labels: { tier: backend } }
spec: { addresses: ["198.18.0.0/24"] }
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: { name: aggregated, namespace: metallb-system }
spec:
  ipAddressPoolSelectors: [{ matchLabels: { tier: backend } }]
  aggregationLength: 24
  peers: [tor]
  nodeSelectors: [{ matchLabels: { kubernetes.io/hostname: node-b } }]
`;

describe('metal BGP: FRR speakers peering with a bird2 router', () => {
  let env: BgpSpeakerLab;

  beforeAll(async () => {
    // node-c's router side expects another password: MD5 must keep that session down.
    env = await startBgpSpeakerLab(NODES, { passwords: { 'node-a': MD5_PASSWORD, 'node-b': MD5_PASSWORD, 'node-c': 'not-the-password' }, bfd: true }, bgpObjects(['64500:100']));
  }, 180_000);

  afterAll(async () => {
    await env?.destroy();
  });

  const node = (name: string): BgpLabNode => env.lab.nodes.find((n) => n.name === name)!;

  async function createService(name: string, ip: string, policy: 'Cluster' | 'Local', endpointNodes?: string[]): Promise<void> {
    const annotations = endpointNodes ? { [ENDPOINT_NODES_ANNOTATION]: endpointNodes.join(',') } : undefined;
    await env.core.createNamespacedService({
      namespace: NAMESPACE,
      body: {
        metadata: { name, namespace: NAMESPACE, annotations },
        spec: { type: 'LoadBalancer', externalTrafficPolicy: policy, selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] },
      },
    });
    await setIngress(env.core, NAMESPACE, name, [ip]);
  }

  async function setEndpointNodes(name: string, nodes: string[]): Promise<void> {
    await env.core.patchNamespacedService(
      { name, namespace: NAMESPACE, body: { metadata: { annotations: { [ENDPOINT_NODES_ANNOTATION]: nodes.join(',') } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  it('one ECMP next-hop per advertising node; a wrong MD5 password means no session; the client is answered through the nodes', async () => {
    await createService('web', CLUSTER_VIP, 'Cluster');
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-a', 'node-b'], 60_000);
    expect(await env.lab.nextHops(`${CLUSTER_VIP}/32`)).toEqual([node('node-a').ip, node('node-b').ip]);
    expect((await env.lab.birdSession(node('node-a'))).state).toBe('Established');
    // node-c's session never comes up, and node-c's FRR never counted one.
    expect((await env.lab.birdSession(node('node-c'))).state).not.toBe('Established');
    expect(await env.lab.frrConnections(node('node-c'))).toMatchObject({ established: 0 });
    expect((await env.lab.frrConnections(node('node-a'))).state).toBe('Established');
    // bird's RIB: the route carries the configured community, from AS 64512.
    const rib = await env.lab.birdc(`show route ${CLUSTER_VIP}/32 all`);
    expect(rib).toContain('(64500,100)');
    expect(rib).toContain(`BGP.as_path: ${NODE_ASN}`);
    // Several connections from the client reach both nodes (the router hashes on ports).
    const answered = new Set<string>();
    await pollUntil(
      async () => {
        const who = await env.lab.curl(CLUSTER_VIP);
        if (who) answered.add(who);
        return answered.size === 2;
      },
      30_000,
      'answers from node-a and node-b',
    );
    expect([...answered].sort()).toEqual(['node-a', 'node-b']);
    // The rendered file is in FRR's canonical form: a reload would change nothing.
    for (const n of NODES) expect(await env.lab.reloadDiff(node(n)), n).toEqual([]);
  });

  it('externalTrafficPolicy Local: only nodes with a ready endpoint advertise, and the last one gone withdraws', async () => {
    await createService('local-web', LOCAL_VIP, 'Local', ['node-b']);
    await env.lab.waitForAdvertisers(`${LOCAL_VIP}/32`, ['node-b']);
    await setEndpointNodes('local-web', ['node-a', 'node-b']);
    await env.lab.waitForAdvertisers(`${LOCAL_VIP}/32`, ['node-a', 'node-b']);
    await setEndpointNodes('local-web', ['node-a']);
    await env.lab.waitForAdvertisers(`${LOCAL_VIP}/32`, ['node-a']);
    await setEndpointNodes('local-web', []);
    await env.lab.waitForAdvertisers(`${LOCAL_VIP}/32`, []);
    // A prefix withdrawn and wanted again is sent again.
    await setEndpointNodes('local-web', ['node-b']);
    await env.lab.waitForAdvertisers(`${LOCAL_VIP}/32`, ['node-b']);
    // The Cluster Service was never touched.
    expect(await env.lab.advertisingNodes(`${CLUSTER_VIP}/32`)).toEqual(['node-a', 'node-b']);
    // These were prefix-only changes (vtysh, not frr-reload.py): FRR runs exactly the rendered file.
    for (const n of NODES) expect(await env.lab.reloadDiff(node(n)), n).toEqual([]);
  });

  it('a change of one advertisement (its communities) reaches the router without resetting any session', async () => {
    const before = await Promise.all(['node-a', 'node-b'].map(async (n) => ({ frr: await env.lab.frrConnections(node(n)), bird: await env.lab.birdSession(node(n)) })));
    expect(before.map((b) => b.frr.state)).toEqual(['Established', 'Established']);
    await env.apply(bgpObjects(['64500:100', '64500:200', 'large:64500:1:2']));
    await pollUntil(
      async () => {
        const rib = await env.lab.birdc(`show route ${CLUSTER_VIP}/32 all`);
        return rib.includes('(64500,200)') && rib.includes('(64500, 1, 2)') && rib.split('(64500,200)').length === 3;
      },
      30_000,
      'the new communities on both nodes\' routes at the router',
    );
    for (const n of NODES) expect(await env.lab.reloadDiff(node(n)), n).toEqual([]);
    const after = await Promise.all(['node-a', 'node-b'].map(async (n) => ({ frr: await env.lab.frrConnections(node(n)), bird: await env.lab.birdSession(node(n)) })));
    expect(after).toEqual(before);
    expect(await env.lab.nextHops(`${CLUSTER_VIP}/32`)).toEqual([node('node-a').ip, node('node-b').ip]);
  });

  it('a BGPPeer whose password Secret is missing gets a Warning Event naming the field from the speakers; the valid peers keep serving', async () => {
    const before = await env.lab.frrConnections(node('node-a'));
    await env.apply(`
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: no-secret, namespace: metallb-system }
spec: { myASN: ${NODE_ASN}, peerASN: ${ROUTER_ASN}, peerAddress: 10.99.0.1, passwordSecret: { name: absent } }
`);
    const onPeer = async () => (await env.core.listNamespacedEvent({ namespace: 'metallb-system' })).items.find((e) => e.involvedObject.kind === 'BGPPeer' && e.involvedObject.name === 'no-secret');
    await pollUntil(async () => (await onPeer()) !== undefined, 30_000, 'a Warning on the BGPPeer');
    const warning = (await onPeer())!;
    expect(warning).toMatchObject({ type: 'Warning', reason: 'InvalidConfiguration', source: { component: 'kube-lb-provisioner-speaker' } });
    expect(warning.message).toMatch(/^spec\.passwordSecret: Secret "absent" not found/);
    expect(await env.lab.frrConnections(node('node-a'))).toEqual(before);
    expect(await env.lab.advertisingNodes(`${CLUSTER_VIP}/32`)).toEqual(['node-a', 'node-b']);
  });

  it('an IPv6 pool over IPv6 sessions: one next-hop per node with a session', async () => {
    await createService('web6', '2001:db8:5::10', 'Cluster');
    await pollUntil(async () => (await env.lab.nextHops6('2001:db8:5::10/128')) === 2, 60_000, 'two IPv6 next-hops at the router');
    const rib = await env.lab.birdc('show route 2001:db8:5::10/128 all');
    expect(rib).toContain('(64500,100)');
    for (const n of NODES) expect(await env.lab.reloadDiff(node(n)), n).toEqual([]);
  });

  it('aggregation length and node selectors: the /24 of a new pool, from node-b only', async () => {
    await env.apply(bgpObjects(['64500:100'], AGGREGATED));
    await createService('backend', AGG_VIP, 'Cluster');
    await env.lab.waitForAdvertisers('198.18.0.0/24', ['node-b']);
    expect(await env.lab.nextHops(`${AGG_VIP}/32`)).toEqual([]);
    // The Cluster Service of the first pool still reaches both nodes.
    expect(await env.lab.advertisingNodes(`${CLUSTER_VIP}/32`)).toEqual(['node-a', 'node-b']);
  });

  it('a speaker stopped with SIGTERM withdraws its routes; started again, it advertises again', async () => {
    const b = node('node-b');
    const exited = new Promise<number | null>((resolve) => b.speaker!.once('exit', (code) => resolve(code)));
    b.speaker!.kill('SIGTERM');
    expect(await exited).toBe(0);
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-a']);
    env.lab.startSpeaker(b, env.kubeconfigPath);
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-a', 'node-b'], 60_000);
  });

  it('a speaker SIGKILLed alone leaves FRR advertising; started again, it takes FRR over without a reset', async () => {
    const a = node('node-a');
    const before = await env.lab.frrConnections(a);
    const exited = new Promise<void>((resolve) => a.speaker!.once('exit', () => resolve()));
    a.speaker!.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    // FRR is its own daemon (as MetalLB's FRR container): the node keeps its routes.
    expect(await env.lab.advertisingNodes(`${CLUSTER_VIP}/32`)).toEqual(['node-a', 'node-b']);
    env.lab.startSpeaker(a, env.kubeconfigPath);
    // The new speaker applies its configuration once (it writes the file before reloading).
    const file = join('/etc/frr', a.netns, 'kube-lb-provisioner.conf');
    await pollUntil(async () => (await stat(file)).mtimeMs > killedAt, 60_000, 'the restarted speaker applying its configuration');
    await pollUntil(async () => (await env.lab.reloadDiff(a)).length === 0, 30_000, 'the reload done');
    expect(await env.lab.frrConnections(a)).toEqual(before);
    expect(await env.lab.advertisingNodes(`${CLUSTER_VIP}/32`)).toEqual(['node-a', 'node-b']);
  });

  it('graceful restart: the router keeps a node\'s routes while its FRR restarts', async () => {
    const b = node('node-b');
    // A crash, not a stop: SIGKILL the speaker and FRR's daemons, so no Cease is sent.
    b.speaker!.kill('SIGKILL');
    await env.lab.killFrr(b);
    await pollUntil(async () => (await env.lab.birdSession(b)).state !== 'Established', 30_000, 'bird noticing node-b\'s session gone');
    // Without graceful restart bird withdraws a peer's routes as soon as its session is gone.
    expect(await env.lab.advertisingNodes(`${CLUSTER_VIP}/32`)).toEqual(['node-a', 'node-b']);
    env.lab.startSpeaker(b, env.kubeconfigPath);
    await pollUntil(async () => (await env.lab.birdSession(b)).state === 'Established', 60_000, 'node-b\'s session back');
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-a', 'node-b']);
    // The fresh FRR's first reload added the graceful-restart lines, which frr-reload.py's second
    // pass repeats and FRR refuses: that still counts as applied, not as a failure to retry.
    const metrics = await (await fetch(`${await speakerHttpUrl(b.name, b.speaker)}/metrics`)).text();
    expect(metrics).toMatch(/kube_lb_speaker_frr_reloads_total\{outcome="ok",method="frr-reload"\} [1-9]/);
    expect(metrics).not.toMatch(/kube_lb_speaker_frr_reloads_total\{outcome="failed"/);
  });

  it('a speaker supervises the FRR it started: daemons killed under it are started again and configured', async () => {
    // node-b, which has just gone through a graceful restart: node-a stays untouched for BFD below.
    const b = node('node-b');
    await env.lab.killFrr(b);
    await pollUntil(async () => (await env.lab.birdSession(b)).state !== 'Established', 30_000, 'bird noticing node-b\'s session gone');
    // Back only if the speaker started bgpd again and gave it its configuration (peers included).
    await pollUntil(async () => (await env.lab.birdSession(b)).state === 'Established', 60_000, 'node-b\'s session back without a speaker restart');
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-a', 'node-b']);
  });

  it('BFD: a node cut off the network loses its next-hop, and gets it back when reconnected', async () => {
    await env.lab.cutOff(node('node-a'));
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-b']);
    expect((await env.lab.birdSession(node('node-a'))).state).not.toBe('Established');
    expect(await env.lab.birdc('show bfd sessions')).toMatch(new RegExp(`${node('node-a').ip.replaceAll('.', '\\.')}\\s+\\S+\\s+Down`));
    await env.lab.reconnect(node('node-a'));
    await env.lab.waitForAdvertisers(`${CLUSTER_VIP}/32`, ['node-a', 'node-b'], 60_000);
  });
});
