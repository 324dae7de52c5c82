// The pure GCP diff: phases, membership-only flags, ownership and address choice, without I/O.
import { describe, expect, it } from 'vitest';
import type { DesiredLoadBalancer } from '../provider.js';
import { ServiceConfigError } from '../provider.js';
import type { GcpSettings } from './desiredGcp.js';
import { loadBalancerName, serviceDescription } from './names.js';
import type { GcpObserved } from './observed.js';
import { currentPhase, planActions } from './planActions.js';
import { desiredFixture } from '../../test/support/desiredFixture.js';

const settings: GcpSettings = { project: 'p', region: 'r1', network: 'default', nodeTags: [], clusterName: 'c1' };
const ref = { namespace: 'ns', name: 'web', uid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' };
const name = loadBalancerName(ref.uid);
const mine = { owned: true };

function want(extra: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  return desiredFixture({
    ref,
    nodes: [{ name: 'n1', providerID: 'gce://p/r1-a/n1', internalIPs: [], externalIPs: [], labels: {} }],
    ...extra,
  });
}

const empty = (): GcpObserved => ({ ref, name, pendingOperations: [], groupZonesBusy: [], groupGeneration: 0, failures: [], addresses: [], groups: [], externalGroups: [] });

function converged(): GcpObserved {
  return {
    ...empty(),
    healthCheck: { ...mine, port: 10256, path: '/healthz', checkIntervalSec: 8, unhealthyThreshold: 3 },
    backendService: { ...mine, protocol: 'TCP', scheme: 'EXTERNAL', healthCheck: `projects/p/regions/r1/healthChecks/${name}`, sessionAffinity: 'NONE', groups: ['r1-a/k8s-ig--x'] },
    forwardingRule: { ...mine, ip: '34.1.1.1', protocol: 'TCP', scheme: 'EXTERNAL', backendService: name, networkTier: 'PREMIUM', ports: ['80'], allPorts: false },
    firewall: { ...mine, sourceRanges: ['0.0.0.0/0'], allowed: ['tcp:80'], targetTags: [] },
    healthCheckFirewall: { ...mine, sourceRanges: ['130.211.0.0/22', '209.85.152.0/22', '209.85.204.0/22', '35.191.0.0/16'], allowed: ['tcp:10256'], targetTags: [] },
    addresses: [{ name, ip: '34.1.1.1', type: 'EXTERNAL', networkTier: 'PREMIUM', owner: 'thisService', users: [name] }],
    groups: [{ zone: 'r1-a', owned: true, instances: ['n1'] }],
  };
}

describe('planActions', () => {
  it('creates in dependency order and runs only the first phase', () => {
    const plan = planActions(empty(), want(), settings, 'k8s-ig--x');
    expect(plan.actions.map((a) => `${a.phase}:${a.kind}`)).toEqual([
      '3:insertAddress',
      '3:insertHealthCheck',
      '3:insertFirewall',
      '3:insertFirewall',
      '3:insertInstanceGroup',
      '4:addInstances',
      '5:insertBackendService',
      '6:insertForwardingRule',
    ]);
    expect(currentPhase(plan).map((a) => a.kind)).toEqual(['insertAddress', 'insertHealthCheck', 'insertFirewall', 'insertFirewall', 'insertInstanceGroup']);
    expect(plan.actions.every((a) => a.description.length > 0)).toBe(true);
  });

  it('is a no-op with the address as ingress once converged', () => {
    const plan = planActions(converged(), want(), settings, 'k8s-ig--x');
    expect(plan.actions).toEqual([]);
    expect(plan.ingressIP).toBe('34.1.1.1');
  });

  it('moves a Local health check made with the Cluster timings to 3 s / unhealthy after 2', () => {
    const local = converged();
    local.healthCheck = { ...mine, port: 32001, path: '/healthz', checkIntervalSec: 8, unhealthyThreshold: 3 };
    const wantLocal = want({ externalTrafficPolicy: 'Local', healthCheckNodePort: 32001, healthCheck: { protocol: 'HTTP', port: 32001, path: '/healthz' } });
    local.healthCheckFirewall = { ...local.healthCheckFirewall!, allowed: ['tcp:32001'] };
    const plan = planActions(local, wantLocal, settings, 'k8s-ig--x');
    expect(plan.actions.map((a) => a.kind)).toEqual(['updateHealthCheck']);
    expect(plan.actions[0]!.step).toMatchObject({ body: { checkIntervalSec: 3, unhealthyThreshold: 2, healthyThreshold: 1 } });
  });

  it('flags node changes as membership-only', () => {
    const nodes = [...want().nodes, { name: 'n2', providerID: 'gce://p/r1-b/n2', internalIPs: [], externalIPs: [], labels: {} }];
    const plan = planActions(converged(), want({ nodes }), settings, 'k8s-ig--x');
    expect(plan.actions.map((a) => [a.kind, a.membershipOnly])).toEqual([
      ['insertInstanceGroup', true],
      ['addInstances', true],
      ['updateBackendService', true],
    ]);
  });

  it('creates the backend service with CLIENT_IP for ClientIP and NONE otherwise', () => {
    const bodyOf = (d: DesiredLoadBalancer) => planActions(empty(), d, settings, 'k8s-ig--x').actions.find((a) => a.step?.op === 'insertBackendService')?.step;
    expect(bodyOf(want({ sessionAffinity: 'ClientIP', sessionAffinityTimeoutSeconds: 600 }))).toMatchObject({ body: { sessionAffinity: 'CLIENT_IP' } });
    expect(bodyOf(want())).toMatchObject({ body: { sessionAffinity: 'NONE' } });
  });

  it('switches session affinity in place with one non-membership backend service update', () => {
    const plan = planActions(converged(), want({ sessionAffinity: 'ClientIP' }), settings, 'k8s-ig--x');
    expect(plan.actions.map((a) => [a.kind, a.membershipOnly])).toEqual([['updateBackendService', undefined]]);
    expect(plan.actions[0]!.step).toMatchObject({ op: 'updateBackendService', body: { sessionAffinity: 'CLIENT_IP', protocol: 'TCP' } });
    expect(plan.actions[0]!.description).toMatch(/session affinity NONE -> CLIENT_IP/);
    const back = { ...converged(), backendService: { ...converged().backendService!, sessionAffinity: 'CLIENT_IP' } };
    expect(planActions(back, want({ sessionAffinity: 'ClientIP' }), settings, 'k8s-ig--x').actions).toEqual([]);
    expect(planActions(back, want(), settings, 'k8s-ig--x').actions.map((a) => a.description)).toEqual([`update backend service ${name}: session affinity CLIENT_IP -> NONE`]);
  });

  it('folds an affinity change and a zone change into one update that is not membership-only', () => {
    const nodes = [...want().nodes, { name: 'n2', providerID: 'gce://p/r1-b/n2', internalIPs: [], externalIPs: [], labels: {} }];
    const plan = planActions(converged(), want({ nodes, sessionAffinity: 'ClientIP' }), settings, 'k8s-ig--x');
    const update = plan.actions.filter((a) => a.kind === 'updateBackendService');
    expect(update).toHaveLength(1);
    expect(update[0]!.membershipOnly).toBeUndefined();
    expect(update[0]!.description).toContain('session affinity NONE -> CLIENT_IP; groups r1-a/k8s-ig--x -> r1-a/k8s-ig--x, r1-b/k8s-ig--x');
  });

  it('replaces the forwarding rule first when its ports change', () => {
    const plan = planActions(converged(), want({ ports: [{ name: 'h', protocol: 'TCP', port: 8080, nodePort: 30081 }] }), settings, 'k8s-ig--x');
    expect(currentPhase(plan).map((a) => a.kind)).toEqual(['deleteForwardingRule']);
    expect(plan.actions.map((a) => a.kind)).toEqual(['deleteForwardingRule', 'updateFirewall', 'insertForwardingRule']);
  });

  it('waits while its operations run, and reports a failed one once', () => {
    const waiting = planActions({ ...empty(), pendingOperations: ['create health check x'] }, want(), settings, 'k8s-ig--x');
    expect(waiting.waiting).toBe('running operations: create health check x');
    expect(waiting.actions).toEqual([]); // a wait is a plan state, not a step apply would run
    expect(() => planActions({ ...empty(), failures: [{ action: 'reserve address', field: 'spec', status: 403, message: 'Quota exceeded' }] }, want(), settings, 'k8s-ig--x')).toThrow(
      /GCP rejected reserve address \(HTTP 403\): Quota exceeded/,
    );
  });

  it('uses a user static address but refuses one held by another Service or missing', () => {
    const user = { ...empty(), addresses: [{ name: 'static', ip: '35.0.0.9', type: 'EXTERNAL', networkTier: 'PREMIUM', owner: 'foreign' as const, users: [] }] };
    const plan = planActions(user, want({ loadBalancerIP: '35.0.0.9' }), settings, 'k8s-ig--x');
    const rule = plan.actions.find((a) => a.step?.op === 'insertForwardingRule');
    expect(rule?.step).toMatchObject({ body: { IPAddress: '35.0.0.9' }, userAddress: true });
    expect(plan.actions.some((a) => a.kind === 'insertAddress')).toBe(false);
    const taken = { ...empty(), addresses: [{ name: 'other', ip: '35.0.0.9', type: 'EXTERNAL', networkTier: 'PREMIUM', owner: 'otherService' as const, users: ['x'] }] };
    expect(() => planActions(taken, want({ loadBalancerIP: '35.0.0.9' }), settings, 'k8s-ig--x')).toThrow(ServiceConfigError);
    expect(() => planActions(empty(), want({ loadBalancerIP: '35.0.0.9' }), settings, 'k8s-ig--x')).toThrow(/not a static address reserved in project p, region r1/);
  });

  it('never adopts a resource with another owner', () => {
    const foreign = { ...converged(), firewall: { owned: false, sourceRanges: [], allowed: [], targetTags: [] } };
    expect(() => planActions(foreign, want(), settings, 'k8s-ig--x')).toThrow(/not owned by cluster c1/);
  });

  it('describes ownership as JSON with the service name and cluster', () => {
    expect(JSON.parse(serviceDescription(ref, 'c1'))).toEqual({ 'kubernetes.io/service-name': 'ns/web', 'kubernetes.io/cluster': 'c1', 'kube-lb-provisioner.io/service-uid': ref.uid });
    expect(name).toBe('a0f1e2d3c4b5a69788796a5b4c3d2e1f');
  });
});
