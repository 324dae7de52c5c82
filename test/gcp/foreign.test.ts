// Nothing this cluster does not own is modified or deleted: another cluster's load balancer, a
// user's static address, and resources squatting on our names.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { ServiceConfigError } from '../../providers/provider.js';
import { converge, deleteFully, desired, newRef, node, startHarness, sweepFully, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 1 });
  h.fake.addInstance('us-central1-a', 'n1');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const nodes = () => [node('n1', 'us-central1-a')];
const otherCluster = JSON.stringify({ 'kubernetes.io/service-name': 'default/theirs', 'kubernetes.io/cluster': 'cluster-b', 'kube-lb-provisioner.io/service-uid': 'x' });

describe('gcp provider: foreign resources', () => {
  it("leaves another cluster's load balancer alone through create, delete and listOwned", async () => {
    const foreign = [
      h.fake.seed('healthChecks', R, { name: 'theirs', description: otherCluster, type: 'HTTP', httpHealthCheck: { port: 10256 } }),
      h.fake.seed('firewalls', 'global', { name: 'k8s-fw-theirs', description: otherCluster, sourceRanges: ['0.0.0.0/0'], allowed: [{ IPProtocol: 'tcp', ports: ['80'] }] }),
      h.fake.seed('addresses', R, { name: 'theirs', description: otherCluster, address: '35.9.9.9', addressType: 'EXTERNAL' }),
      h.fake.seed('instanceGroups', 'zones/us-central1-a', { name: 'k8s-ig--theirs', description: JSON.stringify({ 'kubernetes.io/cluster': 'cluster-b' }) }),
    ].map((r) => JSON.stringify(r));
    const provider = h.newProvider();
    const ref = newRef('mine');
    await converge(provider, desired(ref, nodes()));
    expect(await provider.listOwned()).toEqual([ref]);
    await deleteFully(provider, ref);
    await sweepFully(provider, h.fake);
    const left = h.fake.list().map((r) => JSON.stringify(r.body));
    expect(left.sort()).toEqual(foreign.sort());
    await expect(h.newProvider({}, 'cluster-b').listOwned()).resolves.toEqual([{ namespace: 'default', name: 'theirs', uid: 'x' }]);
  });

  it('refuses to adopt a resource squatting on its name, and never deletes it', async () => {
    const provider = h.newProvider();
    const ref = newRef('squatted');
    const name = loadBalancerName(ref.uid);
    const squatter = h.fake.seed('firewalls', 'global', { name: `k8s-fw-${name}`, description: 'made by hand', sourceRanges: ['10.0.0.0/8'], allowed: [{ IPProtocol: 'tcp', ports: ['22'] }] });
    const observed = await provider.observe(ref);
    let error: unknown;
    try {
      provider.diff(observed, desired(ref, nodes()));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as Error).message).toContain(`firewall k8s-fw-${name} exists but is not owned`);
    await deleteFully(provider, ref);
    expect(h.fake.get('firewalls', 'global', `k8s-fw-${name}`)).toEqual(squatter);
  });
});
