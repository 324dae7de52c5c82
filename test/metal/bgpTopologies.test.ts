// BGP topologies beyond one directly connected router: a second bird2 router one routed hop behind
// the first (the nodes reach it only through it, TTL decremented), peered over eBGP multi-hop and
// over iBGP (its second address speaks in the nodes' own AS). Assertions read both sides: the far
// router's RIB and session state (birdc) and FRR's own neighbor state on the nodes. Needs root.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGP_POOL, FAR_ASN, FAR_EBGP_DEFAULT_LOCAL_PREF, FAR_IBGP_IP, FAR_IP, NODE_ASN, startBgpSpeakerLab, type BgpLabNode, type BgpSpeakerLab } from './bgpLab.js';
import { pollUntil, setIngress } from './l2Lab.js';

const NODES = ['node-a', 'node-b'];
const VIP = '203.0.113.30';

function farPeer(multiHop: boolean): string {
  return `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: far, namespace: metallb-system }
spec: { myASN: ${NODE_ASN}, peerASN: ${FAR_ASN}, peerAddress: ${FAR_IP}, holdTime: 9s${multiHop ? ', ebgpMultiHop: true' : ''} }
`;
}

const OBJECTS = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: lab, namespace: metallb-system }
spec: { addresses: ["${BGP_POOL}"] }
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: far-ibgp, namespace: metallb-system }
spec: { myASN: ${NODE_ASN}, peerASN: ${NODE_ASN}, peerAddress: ${FAR_IBGP_IP}, holdTime: 9s }
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: { name: lab, namespace: metallb-system }
spec: { ipAddressPools: [lab], localPref: 150 }
---${farPeer(false)}`;

describe('metal BGP topologies: a router one hop away, eBGP multi-hop and iBGP local-pref', () => {
  let env: BgpSpeakerLab;
  const node = (name: string): BgpLabNode => env.lab.nodes.find((n) => n.name === name)!;

  beforeAll(async () => {
    env = await startBgpSpeakerLab(NODES, { passwords: {}, bfd: false, far: true }, OBJECTS);
    await env.core.createNamespacedService({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster', selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP' }] } },
    });
    await setIngress(env.core, 'default', 'web', [VIP]);
  }, 180_000);

  afterAll(async () => {
    await env?.destroy();
  });

  /** The far router's routes for the VIP learnt by `protocol` (bird's `show route ... all` text; '' for none). */
  const farRoute = (protocol: string): Promise<string> =>
    env.lab.farBirdc(protocol.startsWith('ebgp') ? 'ebgp' : 'ibgp', `show route ${VIP}/32 protocol ${protocol} all`).catch((error: { stdout?: string }) => {
      // birdc exits 1 when the table has no such route.
      if (error.stdout?.includes('Network not found')) return '';
      throw error;
    });

  it('eBGP to a router a hop away: no session without ebgpMultiHop (on either side), the nodes as next-hops with it', async () => {
    // The iBGP sessions to the same router come up: the hop routes, and the speakers run the config.
    await pollUntil(async () => (await farRoute('ibgp_node_b')).includes(`${VIP}/32`), 60_000, 'the VIP over iBGP at the far router');
    // Meanwhile the far router keeps trying (connect retry 1 s): FRR's TTL-1 packets die at the hop.
    for (let i = 0; i < 20; i++) {
      for (const n of NODES) {
        expect((await env.lab.farSession('ebgp', node(n))).state).not.toBe('Established');
        const frr = await env.lab.frrConnections(node(n), FAR_IP);
        expect(frr.state).not.toBe('Established');
        expect(frr.established).toBe(0);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const n of NODES) expect(await farRoute(`ebgp_${n.replace('-', '_')}`)).toBe('');

    await env.apply(farPeer(true));
    for (const n of NODES) {
      await pollUntil(async () => (await env.lab.farSession('ebgp', node(n))).state === 'Established', 60_000, `the multi-hop session with ${n}`);
    }
    for (const n of NODES) expect((await env.lab.frrConnections(node(n), FAR_IP)).state).toBe('Established');
    for (const n of NODES) {
      const protocol = `ebgp_${n.replace('-', '_')}`;
      await pollUntil(async () => (await farRoute(protocol)).includes(`${VIP}/32`), 30_000, `the VIP from ${n} over eBGP multi-hop`);
      const rib = await farRoute(protocol);
      // The node is the BGP next-hop, not on a connected network: bird resolves it via the hop.
      expect(rib).toContain(`BGP.next_hop: ${node(n).ip}`);
      expect(rib).toContain('via 10.1.0.1 on eth0');
      expect(rib).toMatch(new RegExp(`BGP.as_path: ${NODE_ASN}\\s*$`, 'm'));
    }
  }, 150_000);

  it('localPref reaches the iBGP peer; the eBGP peer gets none of it', async () => {
    for (const n of NODES) {
      const protocol = n.replace('-', '_');
      const ibgp = await farRoute(`ibgp_${protocol}`);
      expect(ibgp).toContain(`${VIP}/32`);
      expect(ibgp).toMatch(/BGP\.local_pref: 150\s*$/m);
      const ebgp = await farRoute(`ebgp_${protocol}`);
      expect(ebgp).toContain(`${VIP}/32`);
      // The 150 stayed on the iBGP side: the eBGP route has only the far router's own default.
      expect(ebgp).toMatch(new RegExp(`BGP\\.local_pref: ${FAR_EBGP_DEFAULT_LOCAL_PREF}\\s*$`, 'm'));
      expect(ebgp).not.toContain('BGP.local_pref: 150');
    }
  });
});
