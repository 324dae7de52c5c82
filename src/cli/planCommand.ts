// `kube-lb-provisioner plan`: connects like `controller`, reads every Service it would serve and
// prints what each provider would change. It only reads: no Kubernetes write, no mutating cloud call.
import type { KubeConfig, V1Service } from '@kubernetes/client-node';
import { Command } from 'commander';
import { Registry } from 'prom-client';
import { ServiceConfigError, serviceKey, type PlanAction, type Provider, type ProviderDeps } from '../../providers/provider.js';
import { createProvider as createRegisteredProvider } from '../../providers/registry.js';
import type { ControllerConfig, ProviderConfig } from '../config/schema.js';
import type { KubeWriter, ProviderSlot } from '../controller/ports.js';
import { Reconciler } from '../controller/reconcile.js';
import { createProviderSlots } from './providerSlots.js';
import { servedServices } from '../controller/servedServices.js';
import { concernsUs, serviceRefOf, wantedSlot } from '../controller/serviceSelection.js';
import { ClusterCache } from '../kube/clusterCache.js';
import { withSharedConnections } from '../kube/sharedConnections.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createCallRecorder } from '../observability/metrics.js';
import { configOrExit, withConfigOptions } from './controllerCommand.js';
import { connectOrExit } from './startupChecks.js';

/** A writer that refuses to write: plan must never change anything. */
const readOnly: KubeWriter = {
  addFinalizer: () => Promise.reject(new Error('plan is read-only')),
  removeFinalizer: () => Promise.reject(new Error('plan is read-only')),
  patchIngress: () => Promise.reject(new Error('plan is read-only')),
  annotate: () => Promise.reject(new Error('plan is read-only')),
  event: () => {},
};

export async function planAll(options: {
  kubeConfig: KubeConfig;
  config: ControllerConfig;
  logger: Logger;
  createProvider?: (config: ProviderConfig, deps: ProviderDeps) => Promise<Provider>;
}): Promise<string> {
  const { config, logger } = options;
  const registry = new Registry();
  const slots = await createProviderSlots(config, logger, createCallRecorder(registry), registry, options.createProvider ?? createRegisteredProvider);
  const cache = new ClusterCache(withSharedConnections(options.kubeConfig), { serviceChanged: () => {}, nodesChanged: () => {}, endpointsChanged: () => {} }, { logger });
  cache.start();
  const lines: string[] = [];
  try {
    await cache.waitForSync();
    const reconciler = new Reconciler({ view: cache, kube: readOnly, slots, clusterName: config.clusterName });
    // Providers warm up from the cluster as in the controller, so metal plans from today's assignments.
    for (const slot of slots) {
      const listServices = () => servedServices(cache, slots, slot, { clusterName: config.clusterName, targets: reconciler.targetsFor(slot) });
      await slot.provider.start?.({ listServices, requeue: () => {}, emit: () => {} });
    }
    const services = [...cache.services()].filter((s) => concernsUs(s, slots)).sort((a, b) => serviceKey(serviceRefOf(a)).localeCompare(serviceKey(serviceRefOf(b))));
    for (const service of services) lines.push(...(await planOne(service, reconciler, slots)));
    if (services.length === 0) lines.push('no Services of type LoadBalancer for the configured providers');
  } finally {
    await cache.stop();
    for (const slot of slots) await slot.provider.stop?.();
  }
  return lines.join('\n');
}

async function planOne(service: V1Service, reconciler: Reconciler, slots: readonly ProviderSlot[]): Promise<string[]> {
  const key = serviceKey(serviceRefOf(service));
  const slot = wantedSlot(service, slots);
  if (!slot) return [`${key}: would delete its load balancer and remove the finalizer (no longer a LoadBalancer Service of ours)`];
  try {
    const plan = await reconciler.planFor(service, slot);
    if (plan.waiting) return [`${key} (${slot.id}): waiting for ${plan.waiting}; nothing changes until then`];
    const changes = plan.actions.filter((a) => a.mutating);
    const head = `${key} (${slot.id}): ${changes.length === 0 ? 'up to date' : `${changes.length} change${changes.length === 1 ? '' : 's'}`}`;
    // A phased provider's apply runs the first phase now; later ones follow on later reconciles.
    const firstPhase = Math.min(...changes.map((a) => a.phase ?? 0));
    const later = (a: PlanAction) => (a.mutating && a.phase !== undefined && a.phase > firstPhase ? ' (once the steps before it finished)' : '');
    return [head, ...plan.actions.map((a) => `  ${a.mutating ? (a.membershipOnly ? '~' : '+') : ' '} ${a.kind}: ${a.description}${later(a)}`)];
  } catch (error) {
    const message = error instanceof ServiceConfigError ? `invalid: ${error.message}` : `error: ${error instanceof Error ? error.message : String(error)}`;
    return [`${key} (${slot.id}): ${message}`];
  }
}

export function planCommand(): Command {
  return withConfigOptions(new Command('plan').description('Print what the controller would change for every Service, changing nothing')).action(
    async (flags: Record<string, unknown>) => {
      const config = await configOrExit(flags);
      const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
      const kubeConfig = await connectOrExit(flags.kubeconfig as string | undefined);
      process.stdout.write(`${await planAll({ kubeConfig, config, logger })}\n`);
      process.exit(0);
    },
  );
}
