// L2Advertisement honoured by the speakers, for real: three node namespaces on a bridge, a speaker
// per node (the real CLI) reading MetalLB's objects live from the embedded API server. The test
// plays the controller's part (status.loadBalancer.ingress). A nodeSelector moves ownership to the
// selected node (the hash runs over the matching nodes only), a live edit moves it again, and an
// address whose pool no L2Advertisement selects is announced by nobody until one does. Needs root.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rankNodes } from '../../src/speaker/announcementOwnership.js';
import { kubectlOk } from '../support/kube.js';
import { LAN_PREFIX, setIngress, startSpeakerLab, waitForHolders, waitForSoleAnnouncer, type SpeakerLab } from './l2Lab.js';

const NODES = ['node-a', 'node-b', 'node-c'];
const NAMESPACE = 'default';
const addresses = (from: number) => Array.from({ length: 10 }, (_, i) => `${LAN_PREFIX}.${from + i}`);
// node-a wins these by the hash over every node, so another owner is the selector at work.
const VIP = addresses(200).find((ip) => rankNodes(NODES, ip)[0] === 'node-a')!;
const QUIET_VIP = addresses(210)[0]!;

const metallb = (selectedNode: string) => `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: lab, namespace: metallb-system }
spec: { addresses: ["${LAN_PREFIX}.200-${LAN_PREFIX}.209"] }
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: quiet, namespace: metallb-system }
spec: { addresses: ["${LAN_PREFIX}.210-${LAN_PREFIX}.219"] }
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: { name: lab, namespace: metallb-system }
spec:
  ipAddressPools: [lab]
  nodeSelectors: [{ matchLabels: { kubernetes.io/hostname: ${selectedNode} } }]
`;

describe('metal L2: L2Advertisement pools and node selectors in network namespaces', () => {
  let env: SpeakerLab;

  beforeAll(async () => {
    env = await startSpeakerLab(NODES, undefined, undefined, metallb('node-c'));
    for (const name of NODES) {
      await env.core.patchNode({ name, body: { metadata: { labels: { 'kubernetes.io/hostname': name } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    }
  }, 120_000);

  afterAll(async () => {
    await env?.destroy();
  });

  async function createService(name: string, ip: string): Promise<void> {
    await env.core.createNamespacedService({
      namespace: NAMESPACE,
      body: { metadata: { name, namespace: NAMESPACE }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }] } },
    });
    await setIngress(env.core, NAMESPACE, name, [ip]);
  }

  it('a nodeSelector gives the address to the selected node, and a live edit moves it', async () => {
    expect(VIP, 'some pool address ranks node-a first').toBeDefined();
    await createService('web', VIP);
    await waitForSoleAnnouncer(env.lab, VIP, 'node-c', 30_000);
    // The pool without an L2Advertisement: its address must stay unannounced.
    await createService('quiet', QUIET_VIP);
    await kubectlOk(env.api, ['apply', '-f', '-'], metallb('node-b'));
    await waitForSoleAnnouncer(env.lab, VIP, 'node-b', 30_000);
    // Both Services were evaluated together since the edit: the quiet address has no announcer.
    expect(await env.lab.holders(QUIET_VIP)).toEqual([]);
  });

  it('an L2Advertisement created for a pool makes its addresses announced, by the hash over every node', async () => {
    await kubectlOk(env.api, ['apply', '-f', '-'], 'apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: { name: quiet, namespace: metallb-system }\nspec: { ipAddressPools: [quiet] }\n');
    await waitForHolders(env.lab, QUIET_VIP, [rankNodes(NODES, QUIET_VIP)[0]!], 30_000);
    expect(await env.lab.holders(VIP)).toEqual(['node-b']);
  });
});
