// MetalLB's CRDs (metallb.io) are appliable with kubectl, and objects written the way MetalLB's
// documentation writes them are stored with the schema's defaults, so the metal provider can read
// them. BGPPeer has a conversion webhook, which is not called: v1beta1 is served with only its
// apiVersion rewritten, and with the deprecation warning the CRD declares.
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['metallb-system'] });
});
afterAll(async () => {
  await api.stop();
});

async function ok(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const r = await kubectl(api, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

const config = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: first-pool, namespace: metallb-system}
spec:
  addresses: [192.168.10.0/24, 192.168.9.1-192.168.9.5, 'fc00:f853:0ccd:e799::/124']
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools: [first-pool]
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: fast, namespace: metallb-system}
spec: {receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 10.0.0.1
  bfdProfile: fast
  passwordSecret: {name: bgp-password, namespace: metallb-system}
`;

describe('MetalLB CRDs', () => {
  it('apply, become established and serve MetalLB configuration with defaults and printer columns', async () => {
    await ok(['apply', '-f', 'test/apiserver/fixtures/metallb-crds.yaml']);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/ipaddresspools.metallb.io', 'crd/l2advertisements.metallb.io', 'crd/bgppeers.metallb.io', 'crd/bfdprofiles.metallb.io']);
    await ok(['apply', '-f', '-'], config);

    const pools = await ok(['get', 'ipaddresspools', '-n', 'metallb-system']);
    expect(pools.stdout.split('\n')[0]).toMatch(/^NAME\s+AUTO ASSIGN\s+AVOID BUGGY IPS\s+ADDRESSES$/);
    expect(pools.stdout.split('\n')[1]).toMatch(/^first-pool\s+true\s+false\s+\["192\.168\.10\.0\/24","192\.168\.9\.1-192\.168\.9\.5","fc00:f853:0ccd:e799::\/124"\]$/);

    const custom = kubeConfigFor(api).makeApiClient(CustomObjectsApi);
    const peer = (await custom.getNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta2', namespace: 'metallb-system', plural: 'bgppeers', name: 'router' })) as { spec: Record<string, unknown> };
    expect(peer.spec).toEqual({
      myASN: 64500,
      peerASN: 64501,
      peerAddress: '10.0.0.1',
      bfdProfile: 'fast',
      passwordSecret: { name: 'bgp-password', namespace: 'metallb-system' },
      peerPort: 179,
      disableMP: false,
    });
  });

  it('serve the deprecated v1beta1 BGPPeer with its warning, and refuse values outside the schema', async () => {
    const old = await ok(['get', 'bgppeers.v1beta1.metallb.io', 'router', '-n', 'metallb-system', '-o', 'jsonpath={.apiVersion} {.spec.peerASN}']);
    expect(old.stdout).toBe('metallb.io/v1beta1 64501');
    expect(old.stderr).toContain('Warning: v1beta1 is deprecated, please use v1beta2');
    const r = await kubectl(api, ['apply', '-f', '-'], { input: 'apiVersion: metallb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: slow, namespace: metallb-system}\nspec: {detectMultiplier: 1}\n' });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe('The BFDProfile "slow" is invalid: spec.detectMultiplier: Invalid value: 1: spec.detectMultiplier in body should be greater than or equal to 2');
  });
});
