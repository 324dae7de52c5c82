// Shared setup for the GCP tests and benchmark: the fake Compute server, a provider reaching it
// through the real @google-cloud/compute REST clients with a credential-free auth client, and
// drivers that run reconcile rounds (observe -> diff -> apply) until a Service converges.
import { randomUUID } from 'node:crypto';
import { PassThroughClient } from 'google-auth-library';
import { silentLogger } from '../../src/observability/logger.js';
import { gcpConfigSchema, type GcpConfig } from '../../providers/gcp/config.js';
import { createGcpProvider, GcpProvider } from '../../providers/gcp/index.js';
import type { CallRecorder, DesiredLoadBalancer, DesiredPort, LoadBalancerIngress, NodeTarget, ServiceRef } from '../../providers/provider.js';
import { startFakeCompute, type FakeCompute, type FakeComputeOptions } from './fakeCompute/server.js';

export const PROJECT = 'kube-lb-test';
export const REGION = 'us-central1';
export const CLUSTER = 'cluster-a';

export interface Harness {
  fake: FakeCompute;
  calls: Array<Parameters<CallRecorder>[0]>;
  newProvider(config?: Partial<GcpConfig>, clusterName?: string): GcpProvider;
  /** A fresh provider (no memory of operations, caches or snapshots) over the same connection: a restart. */
  restarted(provider: GcpProvider): GcpProvider;
  close(): Promise<void>;
}

export async function startHarness(options: FakeComputeOptions = {}): Promise<Harness> {
  const fake = await startFakeCompute(PROJECT, options);
  const calls: Harness['calls'] = [];
  const providers: GcpProvider[] = [];
  return {
    fake,
    calls,
    newProvider(config = {}, clusterName = CLUSTER) {
      const parsed = gcpConfigSchema.parse({ type: 'gcp', project: PROJECT, region: REGION, nodeTags: ['gke-node'], instanceGroupCacheMs: 0, observeCacheMs: 0, addressListCacheMs: 0, apiRatePerSecond: 2000, apiBurst: 2000, ...config });
      const provider = createGcpProvider(
        parsed,
        { clusterName, logger: silentLogger(), record: (c) => calls.push(c) },
        { authClient: new PassThroughClient(), apiEndpoint: '127.0.0.1', port: fake.port, protocol: 'http', minRetryTimeoutMs: 5 },
      );
      providers.push(provider);
      return provider;
    },
    restarted(provider) {
      const fresh = new GcpProvider(provider.api, provider.options);
      providers.push(fresh);
      return fresh;
    },
    async close() {
      await Promise.all(providers.map((p) => p.stop()));
      await fake.close();
    },
  };
}

export function node(name: string, zone: string, extra: Partial<NodeTarget> = {}): NodeTarget {
  return { name, providerID: `gce://${PROJECT}/${zone}/${name}`, internalIPs: ['10.0.0.1'], externalIPs: [], zone, labels: {}, ...extra };
}

let serviceCounter = 0;
export function newRef(name = `svc${++serviceCounter}`, namespace = 'default'): ServiceRef {
  return { namespace, name, uid: randomUUID() };
}

export function tcp(port: number, nodePort = 30000 + port): DesiredPort {
  return { name: `p${port}`, protocol: 'TCP', port, nodePort };
}

export function udp(port: number, nodePort = 31000 + port): DesiredPort {
  return { name: `u${port}`, protocol: 'UDP', port, nodePort };
}

export function desired(ref: ServiceRef, nodes: NodeTarget[], extra: Partial<DesiredLoadBalancer> = {}): DesiredLoadBalancer {
  const local = extra.externalTrafficPolicy === 'Local';
  const hcPort = extra.healthCheckNodePort ?? 32001;
  return {
    ref,
    clusterName: CLUSTER,
    ports: [tcp(80)],
    nodes,
    externalTrafficPolicy: 'Cluster',
    sessionAffinity: 'None',
    healthCheck: local ? { protocol: 'HTTP', port: hcPort, path: '/healthz' } : { protocol: 'HTTP', port: 10256, path: '/healthz' },
    ...(local ? { healthCheckNodePort: hcPort } : {}),
    sourceRanges: [],
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    annotations: {},
    labels: {},
    selector: { app: ref.name },
    endpointNodes: [],
    currentIngress: [],
    ...extra,
  };
}

export interface ConvergeResult {
  ingress: LoadBalancerIngress[];
  rounds: number;
  /** Every plan's action kinds, round by round. */
  kinds: string[][];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs reconcile rounds until apply answers ready with nothing left settling, as the controller
 * does (it looks again after a settling answer). Never waits inside a round. A waiting plan is
 * recorded as "wait:<kind>".
 */
export async function converge(provider: GcpProvider, want: DesiredLoadBalancer, maxRounds = 60, pauseMs = 0): Promise<ConvergeResult> {
  const kinds: string[][] = [];
  for (let round = 1; round <= maxRounds; round++) {
    const observed = await provider.observe(want.ref);
    const plan = provider.diff(observed, want);
    kinds.push(plan.wait ? [`wait:${plan.wait.kind}`] : plan.actions.map((a) => a.kind));
    const result = await provider.apply(plan);
    if (result.state === 'ready' && !result.settling) return { ingress: result.ingress, rounds: round, kinds };
    if (pauseMs > 0) await pause(pauseMs);
  }
  throw new Error(`did not converge in ${maxRounds} rounds; last plans: ${JSON.stringify(kinds.slice(-3))}`);
}

/** Runs `rounds` reconcile rounds (or fewer, if it converges first). */
export async function reconcileRounds(provider: GcpProvider, want: DesiredLoadBalancer, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const plan = provider.diff(await provider.observe(want.ref), want);
    const result = await provider.apply(plan);
    if (result.state === 'ready' && !result.settling) return;
  }
}

/** Sweeps until the cluster's shared instance groups are gone (each zone's delete is an operation). */
export async function sweepFully(provider: GcpProvider, fake: Harness['fake'], maxRounds = 60, pauseMs = 0): Promise<number> {
  const ours = () => fake.list('instanceGroups').filter((g) => String(g.body.description ?? '').includes(`"kubernetes.io/cluster":"${CLUSTER}"`));
  for (let round = 1; round <= maxRounds; round++) {
    await provider.sweep();
    if (ours().length === 0) return round;
    if (pauseMs > 0) await pause(pauseMs);
  }
  throw new Error(`sweep did not finish in ${maxRounds} rounds`);
}

export async function deleteFully(provider: GcpProvider, ref: ServiceRef, maxRounds = 60, pauseMs = 0): Promise<number> {
  for (let round = 1; round <= maxRounds; round++) {
    const result = await provider.delete(ref);
    if (result.state === 'deleted') return round;
    if (pauseMs > 0) await pause(pauseMs);
  }
  throw new Error(`delete did not finish in ${maxRounds} rounds`);
}
