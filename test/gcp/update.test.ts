import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { ServiceConfigError } from '../../providers/provider.js';
import { converge, deleteFully, desired, newRef, node, PROJECT, startHarness, tcp, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 2 });
  for (const n of ['n1', 'n2']) h.fake.addInstance('us-central1-a', n);
  for (const n of ['n3', 'n4']) h.fake.addInstance('us-central1-b', n);
  h.fake.addInstance('us-central1-c', 'n5');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const nodesAB = () => [node('n1', 'us-central1-a'), node('n2', 'us-central1-a'), node('n3', 'us-central1-b')];

describe('gcp provider: update', () => {
  it('changes ports by replacing the forwarding rule, keeping the reserved address', async () => {
    const provider = h.newProvider();
    const ref = newRef('ports');
    const name = loadBalancerName(ref.uid);
    const before = await converge(provider, desired(ref, nodesAB(), { ports: [tcp(80)] }));
    const oldRule = h.fake.get('forwardingRules', R, name)!;
    const after = await converge(provider, desired(ref, nodesAB(), { ports: [tcp(80), tcp(8080)] }));
    expect(after.ingress).toEqual(before.ingress);
    const rule = h.fake.get('forwardingRules', R, name)!;
    expect(rule.ports).toEqual(['80', '8080']);
    expect(rule.id).not.toBe(oldRule.id);
    expect(h.fake.get('firewalls', 'global', `k8s-fw-${name}`)!.allowed).toEqual([{ IPProtocol: 'tcp', ports: ['80', '8080'] }]);
    expect(after.kinds[0]).toContain('deleteForwardingRule');
  });

  it('changes source ranges by updating the firewall only', async () => {
    const provider = h.newProvider();
    const ref = newRef('ranges');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodesAB()));
    const rule = h.fake.get('forwardingRules', R, name)!;
    h.fake.resetCalls();
    const r = await converge(provider, desired(ref, nodesAB(), { sourceRanges: ['203.0.113.7/24', '198.51.100.0/24'] }));
    expect(h.fake.get('firewalls', 'global', `k8s-fw-${name}`)!.sourceRanges).toEqual(['198.51.100.0/24', '203.0.113.0/24']);
    expect(h.fake.get('forwardingRules', R, name)!.id).toBe(rule.id);
    expect(h.fake.mutatingCalls()).toBe(1);
    expect(r.kinds[0]).toEqual(['updateFirewall']);
  });

  it('switches externalTrafficPolicy by updating the health check and its firewall', async () => {
    const provider = h.newProvider();
    const ref = newRef('etp');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodesAB()));
    const rule = h.fake.get('forwardingRules', R, name)!;
    await converge(provider, desired(ref, nodesAB(), { externalTrafficPolicy: 'Local', healthCheckNodePort: 31999 }));
    expect(h.fake.get('healthChecks', R, name)!.httpHealthCheck).toMatchObject({ port: 31999, requestPath: '/healthz' });
    // GKE's Local timings: a node without endpoints is out after about 6 s, not 24.
    expect(h.fake.get('healthChecks', R, name)).toMatchObject({ checkIntervalSec: 3, unhealthyThreshold: 2 });
    expect(h.fake.get('firewalls', 'global', `k8s-${name}-http-hc`)!.allowed).toEqual([{ IPProtocol: 'tcp', ports: ['31999'] }]);
    expect(h.fake.get('forwardingRules', R, name)!.id).toBe(rule.id);
    await converge(provider, desired(ref, nodesAB()));
    expect(h.fake.get('healthChecks', R, name)!.httpHealthCheck).toMatchObject({ port: 10256 });
    expect(h.fake.get('healthChecks', R, name)).toMatchObject({ checkIntervalSec: 8, unhealthyThreshold: 3 });
  });

  it('creates with CLIENT_IP affinity for ClientIP and switches it in place on the backend service', async () => {
    const provider = h.newProvider();
    const ref = newRef('affinity');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodesAB(), { sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 600 }));
    const created = h.fake.get('backendServices', R, name)!;
    expect(created.sessionAffinity).toBe('CLIENT_IP');
    const rule = h.fake.get('forwardingRules', R, name)!;
    const off = await converge(provider, desired(ref, nodesAB()));
    expect(off.kinds.flat().filter((k) => !k.startsWith('wait:'))).toEqual(['updateBackendService']);
    const updated = h.fake.get('backendServices', R, name)!;
    expect(updated.sessionAffinity).toBe('NONE');
    expect(updated.id).toBe(created.id);
    expect(h.fake.get('forwardingRules', R, name)!.id).toBe(rule.id);
    await converge(provider, desired(ref, nodesAB(), { sessionAffinity: 'ClientIP' }));
    expect(h.fake.get('backendServices', R, name)!.sessionAffinity).toBe('CLIENT_IP');
    expect(h.fake.get('backendServices', R, name)!.id).toBe(created.id);
    await deleteFully(provider, ref);
  });

  it('follows node churn with membership-only actions on the shared groups', async () => {
    const provider = h.newProvider();
    const ref = newRef('churn');
    const name = loadBalancerName(ref.uid);
    await converge(provider, desired(ref, nodesAB()));
    const grown = [...nodesAB(), node('n4', 'us-central1-b'), node('n5', 'us-central1-c')];
    const plan = provider.diff(await provider.observe(ref), desired(ref, grown));
    const mutating = plan.actions.filter((a) => a.mutating);
    expect(mutating.length).toBeGreaterThan(0);
    expect(mutating.every((a) => a.membershipOnly === true)).toBe(true);
    await converge(provider, desired(ref, grown));
    const members = (zone: string) =>
      (h.fake.list('instanceGroups').find((g) => g.scope === `zones/${zone}`)?.body.instances as string[] | undefined)?.map((i) => i.split('/').pop()).sort();
    expect(members('us-central1-b')).toEqual(['n3', 'n4']);
    expect(members('us-central1-c')).toEqual(['n5']);
    expect((h.fake.get('backendServices', R, name)!.backends as unknown[]).length).toBe(3);

    const shrunk = [node('n1', 'us-central1-a'), node('n4', 'us-central1-b')];
    const shrinkPlan = provider.diff(await provider.observe(ref), desired(ref, shrunk));
    expect(shrinkPlan.actions.filter((a) => a.mutating).every((a) => a.membershipOnly)).toBe(true);
    await converge(provider, desired(ref, shrunk));
    expect(members('us-central1-a')).toEqual(['n1']);
    expect(members('us-central1-b')).toEqual(['n4']);
    expect(members('us-central1-c')).toEqual([]);
    expect((h.fake.get('backendServices', R, name)!.backends as unknown[]).length).toBe(2);
    // Nodes without a gce:// providerID are not instances this provider can add.
    const odd = [...shrunk, { ...node('x', 'us-central1-a'), providerID: 'aws:///us-east-1a/i-1' }];
    expect(provider.diff(await provider.observe(ref), desired(ref, odd)).actions.filter((a) => a.mutating)).toEqual([]);
  });

  it('moves to a user-owned static address, never releases it, and back to its own address', async () => {
    const provider = h.newProvider();
    const ref = newRef('ipchange');
    const name = loadBalancerName(ref.uid);
    const first = await converge(provider, desired(ref, nodesAB()));
    const ownIP = first.ingress[0]!.ip;
    h.fake.seed('addresses', R, { name: 'user-static', address: '35.1.2.3', addressType: 'EXTERNAL', description: 'reserved by hand' });

    const moved = await converge(provider, desired(ref, nodesAB(), { loadBalancerIP: '35.1.2.3' }));
    expect(moved.ingress).toEqual([{ ip: '35.1.2.3', ipMode: 'VIP' }]);
    expect(h.fake.get('forwardingRules', R, name)!.IPAddress).toBe('35.1.2.3');
    expect(h.fake.get('addresses', R, name)).toBeUndefined(); // our own address was released

    const back = await converge(provider, desired(ref, nodesAB()));
    expect(back.ingress[0]!.ip).not.toBe('35.1.2.3');
    expect(back.ingress[0]!.ip).not.toBe(ownIP); // a fresh reservation
    expect(h.fake.get('addresses', R, name)).toBeDefined();

    await converge(provider, desired(ref, nodesAB(), { loadBalancerIP: '35.1.2.3' }));
    await deleteFully(provider, ref);
    expect(h.fake.get('addresses', R, 'user-static')).toMatchObject({ address: '35.1.2.3', description: 'reserved by hand' });
    expect(h.fake.get('addresses', R, name)).toBeUndefined();
  });

  it('switches between external and internal by replacing rule, backend service and address', async () => {
    const provider = h.newProvider({ subnetwork: 'nodes' });
    const ref = newRef('scheme');
    const name = loadBalancerName(ref.uid);
    const external = await converge(provider, desired(ref, nodesAB()));
    expect(external.ingress[0]!.ip).toMatch(/^34\./);
    const internal = await converge(provider, desired(ref, nodesAB(), { annotations: { 'networking.gke.io/load-balancer-type': 'Internal' } }));
    expect(internal.ingress[0]!.ip).toMatch(/^10\./);
    expect(h.fake.get('backendServices', R, name)).toMatchObject({ loadBalancingScheme: 'INTERNAL' });
    expect(h.fake.get('addresses', R, name)).toMatchObject({ addressType: 'INTERNAL', address: internal.ingress[0]!.ip });
    expect(internal.kinds[0]).toEqual(expect.arrayContaining(['deleteForwardingRule']));
    await deleteFully(provider, ref);
    expect(h.fake.list().filter((r) => r.name.includes(name))).toEqual([]);
  });

  it('keeps its own address when loadBalancerIP names it', async () => {
    const provider = h.newProvider();
    const ref = newRef('pin');
    const first = await converge(provider, desired(ref, nodesAB()));
    const ip = first.ingress[0]!.ip!;
    h.fake.resetCalls();
    const pinned = await converge(provider, desired(ref, nodesAB(), { loadBalancerIP: ip }));
    expect(pinned.ingress[0]!.ip).toBe(ip);
    expect(h.fake.mutatingCalls()).toBe(0);
  });

  it('answers a loadBalancerIP the project does not hold with a ServiceConfigError', async () => {
    const provider = h.newProvider();
    const ref = newRef('notmine');
    const want = desired(ref, nodesAB(), { loadBalancerIP: '8.8.8.8' });
    const observed = await provider.observe(ref);
    let error: unknown;
    try {
      provider.diff(observed, want);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe('spec.loadBalancerIP');
    expect((error as Error).message).toContain(`8.8.8.8 is not a static address reserved in project ${PROJECT}`);
  });

  it('rejects what GCP cannot serve with the field to fix', async () => {
    const provider = h.newProvider();
    const ref = newRef('bad');
    const observed = await provider.observe(ref);
    const cases: Array<[Parameters<typeof desired>[2], string]> = [
      [{ ports: [{ name: 's', protocol: 'SCTP', port: 9, nodePort: 30009 }] }, 'spec.ports'],
      [{ sourceRanges: ['not-a-cidr'] }, 'spec.loadBalancerSourceRanges'],
      [{ annotations: { 'networking.gke.io/load-balancer-type': 'Sideways' } }, 'metadata.annotations[networking.gke.io/load-balancer-type]'],
      [{ loadBalancerIP: 'nope' }, 'spec.loadBalancerIP'],
    ];
    for (const [extra, field] of cases) {
      expect(() => provider.diff(observed, desired(ref, nodesAB(), extra))).toThrow(ServiceConfigError);
      try {
        provider.diff(observed, desired(ref, nodesAB(), extra));
      } catch (e) {
        expect((e as ServiceConfigError).field).toBe(field);
      }
    }
  });
});
