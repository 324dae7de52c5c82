// Issue 18, point 8: under Shared VPC the network lives in a host project. Firewall rules must be
// made there (a rule only applies to a network of its own project); everything else stays in the
// cluster's project, and network and subnetwork URLs point at the host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { converge, deleteFully, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
const HOST = 'projects/net-host/global';
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 1, hostProjects: ['net-host'] });
  h.fake.addInstance('us-central1-a', 'n1');
});
afterAll(async () => h.close());

describe('gcp provider: Shared VPC', () => {
  it("makes the firewall rules in the network's host project and removes them there", async () => {
    const provider = h.newProvider({ networkProject: 'net-host', network: 'shared' });
    const ref = newRef('svpc');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, [node('n1', 'us-central1-a')]));
    const fw = h.fake.get('firewalls', HOST, `k8s-fw-${name}`)!;
    expect(fw).toMatchObject({ network: 'projects/net-host/global/networks/shared', allowed: [{ IPProtocol: 'tcp', ports: ['80'] }] });
    expect(h.fake.get('firewalls', HOST, `k8s-${name}-http-hc`)).toBeDefined();
    expect(h.fake.list('firewalls').filter((r) => r.scope === 'global')).toEqual([]);
    expect(await provider.listOwned()).toEqual([ref]);

    await deleteFully(provider, ref);
    expect(h.fake.list('firewalls')).toEqual([]);
  });

  it('resolves an internal subnet in the host project', async () => {
    const provider = h.newProvider({ networkProject: 'net-host', network: 'shared', subnetwork: 'nodes' });
    const ref = newRef('svpc-ilb');
    await converge(provider, desired(ref, [node('n1', 'us-central1-a')], { annotations: { 'networking.gke.io/load-balancer-type': 'Internal' } }));
    const rule = h.fake.get('forwardingRules', 'regions/us-central1', loadBalancerName(ref.uid))!;
    expect(rule).toMatchObject({ network: 'projects/net-host/global/networks/shared', subnetwork: 'projects/net-host/regions/us-central1/subnetworks/nodes' });
  });
});
