// A dual-stack cluster (two service ranges, as kube-apiserver's --service-cluster-ip-range) with the
// real kubectl and client-node: clusterIPs per ipFamilies and ipFamilyPolicy, upgrades and
// downgrades of an existing Service, and the refusals a dual-stack cluster gives.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubeConfigFor, kubectl, kubectlOk } from '../support/kube.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer({ serviceCIDR: '10.96.0.0/16,fd00:10:96::/112' });
});
afterAll(async () => {
  await api.stop();
});

const ok = (args: string[], input?: string): Promise<string> => kubectlOk(api, args, input);

const service = (name: string, extra: string): string =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  type: LoadBalancer\n  selector: {app: ${name}}\n  ports: [{port: 80}]\n${extra}`;

interface Spec {
  clusterIP: string;
  clusterIPs: string[];
  ipFamilies: string[];
  ipFamilyPolicy: string;
}

async function specOf(name: string): Promise<Spec> {
  return JSON.parse(await ok(['get', 'service', name, '-o', 'jsonpath={.spec}'])) as Spec;
}

const v4 = expect.stringMatching(/^10\.96\.\d+\.\d+$/);
const v6 = expect.stringMatching(/^fd00:10:96::[0-9a-f]+$/);

describe('a dual-stack API server', () => {
  it('gives a Service without policy one IPv4 cluster IP (the first range is the default family)', async () => {
    await ok(['apply', '-f', '-'], service('single', ''));
    expect(await specOf('single')).toMatchObject({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], clusterIPs: [v4] });
  });

  it('allocates one cluster IP per family for PreferDualStack and RequireDualStack, in the order of ipFamilies', async () => {
    await ok(['apply', '-f', '-'], service('prefer', '  ipFamilyPolicy: PreferDualStack\n'));
    const prefer = await specOf('prefer');
    expect(prefer).toMatchObject({ ipFamilies: ['IPv4', 'IPv6'], clusterIPs: [v4, v6] });
    expect(prefer.clusterIP).toBe(prefer.clusterIPs[0]);
    await ok(['apply', '-f', '-'], service('v6-first', '  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv6, IPv4]\n'));
    expect(await specOf('v6-first')).toMatchObject({ ipFamilies: ['IPv6', 'IPv4'], clusterIPs: [v6, v4] });
    await ok(['apply', '-f', '-'], service('v6-only', '  ipFamilies: [IPv6]\n'));
    expect(await specOf('v6-only')).toMatchObject({ ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'], clusterIPs: [v6] });
  });

  it('honours asked-for cluster IPs of both families and infers the families from them', async () => {
    await ok(['apply', '-f', '-'], service('fixed', '  ipFamilyPolicy: RequireDualStack\n  clusterIPs: [fd00:10:96::aa, 10.96.200.7]\n'));
    expect(await specOf('fixed')).toMatchObject({ ipFamilies: ['IPv6', 'IPv4'], clusterIPs: ['fd00:10:96::aa', '10.96.200.7'], clusterIP: 'fd00:10:96::aa' });
    const taken = await kubectl(api, ['apply', '-f', '-'], { input: service('clash', '  ipFamilies: [IPv6]\n  clusterIPs: [fd00:10:96::aa]\n') });
    expect(taken.code).not.toBe(0);
    expect(taken.stderr.trim()).toBe('The Service "clash" is invalid: spec.clusterIPs: Invalid value: ["fd00:10:96::aa"]: failed to allocate IP fd00:10:96::aa: provided IP is already allocated');
  });

  it('upgrades a single-stack Service to dual-stack and back, releasing the secondary IP', async () => {
    const core = kubeConfigFor(api).makeApiClient(CoreV1Api);
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'upgrade' }, spec: { selector: { app: 'u' }, ports: [{ port: 80 }] } } });
    const up = await ok(['patch', 'service', 'upgrade', '-p', '{"spec":{"ipFamilyPolicy":"PreferDualStack"}}', '-o', 'jsonpath={.spec.clusterIPs}']);
    const [primary, secondary] = JSON.parse(up) as string[];
    expect([primary, secondary]).toEqual([v4, v6]);
    const refused = await kubectl(api, ['patch', 'service', 'upgrade', '--type=json', '-p', '[{"op":"remove","path":"/spec/clusterIPs/1"}]']);
    expect(refused.stderr.trim()).toBe('The Service "upgrade" is invalid: spec.ipFamilyPolicy: Invalid value: "PreferDualStack": must be \'SingleStack\' to release the secondary cluster IP');
    await ok(['patch', 'service', 'upgrade', '-p', '{"spec":{"ipFamilyPolicy":"SingleStack"}}']);
    const down = await core.readNamespacedService({ name: 'upgrade', namespace: 'default' });
    expect(down.spec?.clusterIPs).toEqual([primary]);
    expect(down.spec?.ipFamilies).toEqual(['IPv4']);
    // The released IPv6 address can be asked for again.
    await ok(['apply', '-f', '-'], service('reuse', `  ipFamilies: [IPv6]\n  clusterIPs: ['${secondary!}']\n`));
  });

  it('refuses a SingleStack policy with two families', async () => {
    const r = await kubectl(api, ['apply', '-f', '-'], { input: service('two', '  ipFamilyPolicy: SingleStack\n  ipFamilies: [IPv4, IPv6]\n') });
    expect(r.stderr.trim()).toBe('The Service "two" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": must be \'RequireDualStack\' or \'PreferDualStack\' when multiple IP families are specified');
  });
});
