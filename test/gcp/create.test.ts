import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { CLUSTER, converge, desired, newRef, node, startHarness, tcp, udp, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  for (const [n, z] of [['n1', 'us-central1-a'], ['n2', 'us-central1-a'], ['n3', 'us-central1-b']] as const) h.fake.addInstance(z, n);
});
afterAll(async () => h.close());

const nodes = () => [node('n1', 'us-central1-a'), node('n2', 'us-central1-a'), node('n3', 'us-central1-b')];

describe('gcp provider: create', () => {
  it('builds health check, backend service, forwarding rule, firewalls, address and shared groups', async () => {
    const provider = h.newProvider();
    const ref = newRef('web');
    const want = desired(ref, nodes(), { ports: [tcp(80), tcp(443)] });
    const first = await provider.apply(provider.diff(await provider.observe(ref), want));
    // apply starts operations and returns at once; nothing is done yet.
    expect(first.state).toBe('inProgress');
    expect(h.fake.pendingOperations()).toBeGreaterThan(0);

    const result = await converge(provider, want);
    const name = loadBalancerName(ref.uid);
    expect(name).toMatch(/^a[0-9a-f]{31}$/);
    const fr = h.fake.get('forwardingRules', 'regions/us-central1', name)!;
    const address = h.fake.get('addresses', 'regions/us-central1', name)!;
    expect(result.ingress).toEqual([{ ip: address.address, ipMode: 'VIP' }]);
    expect(fr).toMatchObject({ IPProtocol: 'TCP', ports: ['80', '443'], loadBalancingScheme: 'EXTERNAL', IPAddress: address.address });
    expect(JSON.parse(String(fr.description))).toMatchObject({ 'kubernetes.io/service-name': 'default/web', 'kubernetes.io/cluster': CLUSTER });

    const bs = h.fake.get('backendServices', 'regions/us-central1', name)!;
    expect(bs).toMatchObject({ protocol: 'TCP', loadBalancingScheme: 'EXTERNAL' });
    expect((bs.backends as Array<{ group: string }>).map((b) => b.group.split('/').slice(-3).join('/')).sort()).toEqual([
      expect.stringMatching(/^us-central1-a\/instanceGroups\/k8s-ig--/),
      expect.stringMatching(/^us-central1-b\/instanceGroups\/k8s-ig--/),
    ]);
    const hc = h.fake.get('healthChecks', 'regions/us-central1', name)!;
    expect(hc.httpHealthCheck).toMatchObject({ port: 10256, requestPath: '/healthz' });

    const fw = h.fake.get('firewalls', 'global', `k8s-fw-${name}`)!;
    expect(fw).toMatchObject({ sourceRanges: ['0.0.0.0/0'], targetTags: ['gke-node'], allowed: [{ IPProtocol: 'tcp', ports: ['443', '80'] }] });
    const hcFw = h.fake.get('firewalls', 'global', `k8s-${name}-http-hc`)!;
    expect((hcFw.sourceRanges as string[]).sort()).toEqual(['130.211.0.0/22', '209.85.152.0/22', '209.85.204.0/22', '35.191.0.0/16']);
    expect(hcFw.allowed).toEqual([{ IPProtocol: 'tcp', ports: ['10256'] }]);

    const groups = h.fake.list('instanceGroups');
    expect(groups.map((g) => [g.scope, (g.body.instances as string[]).map((i) => i.split('/').pop()).sort()])).toEqual(
      expect.arrayContaining([
        ['zones/us-central1-a', ['n1', 'n2']],
        ['zones/us-central1-b', ['n3']],
      ]),
    );
    // Converged: the next round plans nothing and answers the same address.
    const again = provider.diff(await provider.observe(ref), want);
    expect(again.actions.filter((a) => a.mutating)).toEqual([]);
    expect(await provider.apply(again)).toMatchObject({ state: 'ready', ingress: result.ingress });
  });

  it('serves mixed TCP/UDP through an L3_DEFAULT rule on an UNSPECIFIED backend service', async () => {
    const provider = h.newProvider();
    const ref = newRef('dns');
    await converge(provider, desired(ref, nodes(), { ports: [tcp(53), udp(53)] }));
    const name = loadBalancerName(ref.uid);
    expect(h.fake.get('backendServices', 'regions/us-central1', name)).toMatchObject({ protocol: 'UNSPECIFIED' });
    expect(h.fake.get('forwardingRules', 'regions/us-central1', name)).toMatchObject({ IPProtocol: 'L3_DEFAULT', allPorts: true });
    expect(h.fake.get('firewalls', 'global', `k8s-fw-${name}`)!.allowed).toEqual([
      { IPProtocol: 'tcp', ports: ['53'] },
      { IPProtocol: 'udp', ports: ['53'] },
    ]);
  });

  it('builds an internal load balancer for networking.gke.io/load-balancer-type: Internal', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes' });
    const ref = newRef('internal');
    const r = await converge(provider, desired(ref, nodes(), { ports: [udp(5000)], annotations: { 'networking.gke.io/load-balancer-type': 'Internal' } }));
    const name = loadBalancerName(ref.uid);
    expect(h.fake.get('addresses', 'regions/us-central1', name)).toMatchObject({ addressType: 'INTERNAL', subnetwork: `projects/kube-lb-test/regions/us-central1/subnetworks/nodes` });
    expect(h.fake.get('forwardingRules', 'regions/us-central1', name)).toMatchObject({ IPProtocol: 'UDP', loadBalancingScheme: 'INTERNAL', ports: ['5000'] });
    expect(h.fake.get('backendServices', 'regions/us-central1', name)).toMatchObject({ loadBalancingScheme: 'INTERNAL', protocol: 'UDP' });
    expect(r.ingress[0]!.ip).toMatch(/^10\./);
  });

  it('uses one port range when an external Service has more than five ports', async () => {
    const provider = h.newProvider();
    const ref = newRef('many');
    await converge(provider, desired(ref, nodes(), { ports: [8000, 8001, 8002, 8003, 8004, 8010].map((p) => tcp(p)) }));
    const fr = h.fake.get('forwardingRules', 'regions/us-central1', loadBalancerName(ref.uid))!;
    expect(fr.portRange).toBe('8000-8010');
  });
});
