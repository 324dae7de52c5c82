// Test support for controller end-to-end tests: polling with a deadline (never fixed sleeps),
// waiting for a Service's ingress, reading its Events, and a simulated-cloud controller setup.
import { CoreV1Api, type CoreV1Event, type KubeConfig, type V1LoadBalancerIngress, type V1Service } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { Provider, ProviderDeps } from '../../providers/provider.js';
import { createSimulatedProvider } from '../../providers/simulated/index.js';
import { SimulatedCloud } from '../../providers/simulated/cloud.js';
import { simulatedConfigSchema } from '../../providers/simulated/config.js';
import { controllerConfigSchema, type ControllerConfig, type ProviderConfig } from '../../src/config/schema.js';
import { runController, type ControllerTuning, type RunningController } from '../../src/cli/runController.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Said in the failure, with the last value or error seen. */
  message?: string;
}

/** Polls `fn` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${options.timeoutMs ?? 15_000} ms waiting for ${options.message ?? 'condition'} (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

export async function readService(kc: KubeConfig, namespace: string, name: string): Promise<V1Service | undefined> {
  try {
    return await kc.makeApiClient(CoreV1Api).readNamespacedService({ namespace, name });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

/** Waits until the Service has status.loadBalancer.ingress and returns it. */
export async function waitForIngress(kc: KubeConfig, namespace: string, name: string, options: WaitOptions = {}): Promise<V1LoadBalancerIngress[]> {
  return waitFor(
    async () => {
      const ingress = (await readService(kc, namespace, name))?.status?.loadBalancer?.ingress;
      return ingress && ingress.length > 0 ? ingress : undefined;
    },
    { message: `ingress of ${namespace}/${name}`, ...options },
  );
}

/** Events whose involvedObject is the named Service, oldest first. */
export async function eventsFor(kc: KubeConfig, namespace: string, name: string): Promise<CoreV1Event[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => e.involvedObject.kind === 'Service' && e.involvedObject.name === name)
    // Timestamps have one-second resolution: the resourceVersion orders events within a second.
    .sort(
      (a, b) =>
        new Date(a.lastTimestamp ?? 0).getTime() - new Date(b.lastTimestamp ?? 0).getTime() ||
        Number(a.metadata?.resourceVersion ?? 0) - Number(b.metadata?.resourceVersion ?? 0),
    );
}

/** Waits for an Event with this reason (and message matching, if given) on the Service. */
export async function waitForEvent(kc: KubeConfig, namespace: string, name: string, reason: string, message?: RegExp, options: WaitOptions = {}): Promise<CoreV1Event> {
  return waitFor(
    async () => (await eventsFor(kc, namespace, name)).find((e) => e.reason === reason && (!message || message.test(e.message ?? ''))),
    { message: `event ${reason}${message ? ` ${message}` : ''} on ${namespace}/${name}`, ...options },
  );
}

/** A controller configuration for tests: fast backoff, no leader election unless asked. */
export function testConfig(overrides: Partial<Record<string, unknown>> = {}, provider: Partial<ProviderConfig> = {}): ControllerConfig {
  return controllerConfigSchema.parse({
    clusterName: 'test-cluster',
    workers: 4,
    backoff: { initialSeconds: 0.05, maxSeconds: 0.5 },
    leaderElection: { enabled: false },
    providers: [{ type: 'simulated', retries: 1, retryMinMs: 10, retryMaxMs: 50, ...provider }],
    ...overrides,
  });
}

export interface SimulatedController {
  controller: RunningController;
  cloud: SimulatedCloud;
  registry: Registry;
}

/** Runs the controller with one shared SimulatedCloud (pass `cloud` to share across instances). */
export async function startSimulatedController(options: {
  kubeConfig: KubeConfig;
  config?: ControllerConfig;
  cloud?: SimulatedCloud;
  identity?: string;
  logger?: Logger;
  tuning?: ControllerTuning;
}): Promise<SimulatedController> {
  const config = options.config ?? testConfig();
  const entry = config.providers.find((p) => p.type === 'simulated');
  const simConfig = simulatedConfigSchema.parse(entry ?? { type: 'simulated' });
  const cloud =
    options.cloud ??
    new SimulatedCloud({
      addressPool: simConfig.addressPool,
      staticAddresses: simConfig.staticAddresses,
      latencyMs: simConfig.latencyMs,
      mutatingCallsPerSecond: simConfig.mutatingCallsPerSecond,
      provisioningMs: simConfig.provisioningMs,
      faults: simConfig.faults,
    });
  const registry = new Registry();
  const controller = await runController({
    kubeConfig: options.kubeConfig,
    config,
    logger: options.logger ?? silentLogger(),
    registry,
    ...(options.identity ? { identity: options.identity } : {}),
    tuning: { nodeSyncDelayMs: 50, informerRestartMinMs: 50, informerRestartMaxMs: 500, ...options.tuning },
    createProvider: (entryConfig: ProviderConfig, deps: ProviderDeps): Promise<Provider> => {
      if (entryConfig.type !== 'simulated') throw new Error(`test setup only runs simulated providers, got ${entryConfig.type}`);
      return createSimulatedProvider(entryConfig, deps, cloud);
    },
  });
  return { controller, cloud, registry };
}

/** A LoadBalancer Service manifest for kubectl or client-node. */
export function lbService(name: string, spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', ...metadata },
    spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }], ...spec },
  } as V1Service;
}

/** Creates Nodes node-1..node-N (providerID sim://…, InternalIP 10.0.0.i unless given). */
export async function createNodes(core: CoreV1Api, count: number, prefix = 'node-', ip = (i: number) => `10.0.0.${i}`): Promise<void> {
  for (let i = 1; i <= count; i++) {
    await core.createNode({
      body: {
        metadata: { name: `${prefix}${i}`, labels: { 'topology.kubernetes.io/zone': `zone-${i % 2}` } },
        spec: { providerID: `sim://${prefix}${i}` },
        status: { addresses: [{ type: 'InternalIP', address: ip(i) }] },
      },
    });
  }
}


/**
 * A controller configuration for provider end-to-end tests: the given provider entries, fast
 * backoff, no leader election (unless overridden).
 */
export function e2eConfig(providers: unknown[], overrides: Partial<Record<string, unknown>> = {}): ControllerConfig {
  return controllerConfigSchema.parse({
    clusterName: 'test-cluster',
    workers: 4,
    backoff: { initialSeconds: 0.05, maxSeconds: 1 },
    leaderElection: { enabled: false },
    providers,
    ...overrides,
  });
}

/** Runs the controller for any provider (pass createProvider to inject a provider built on fakes). */
export async function startController(options: {
  kubeConfig: KubeConfig;
  config: ControllerConfig;
  createProvider?: (config: ProviderConfig, deps: ProviderDeps) => Promise<Provider>;
  identity?: string;
  logger?: Logger;
  tuning?: ControllerTuning;
}): Promise<{ controller: RunningController; registry: Registry }> {
  const registry = new Registry();
  const controller = await runController({
    kubeConfig: options.kubeConfig,
    config: options.config,
    logger: options.logger ?? silentLogger(),
    registry,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.createProvider ? { createProvider: options.createProvider } : {}),
    tuning: { nodeSyncDelayMs: 50, informerRestartMinMs: 50, informerRestartMaxMs: 500, ...options.tuning },
  });
  return { controller, registry };
}
