// Creates the configured providers, each under an id the metrics, logs and ownership records use.
import { createProvider as createRegisteredProvider } from '../../providers/registry.js';
import type { Provider, ProviderDeps } from '../../providers/provider.js';
import type { ControllerConfig, ProviderConfig } from '../config/schema.js';
import type { ProviderSlot } from '../controller/ports.js';
import type { Logger } from '../observability/logger.js';

export type CreateProvider = (config: ProviderConfig, deps: ProviderDeps) => Promise<Provider>;

/** "type" for the first class-less entry, "type:class" for a class, "type#i" otherwise. */
export function slotId(entry: ProviderConfig, index: number): string {
  return entry.loadBalancerClass ? `${entry.type}:${entry.loadBalancerClass}` : index === 0 ? entry.type : `${entry.type}#${index}`;
}

/** Creates every configured provider, in order; a provider with no class serves class-less Services. */
export async function createProviderSlots(
  config: ControllerConfig,
  logger: Logger,
  record: ProviderDeps['record'],
  registry: ProviderDeps['registry'],
  create: CreateProvider = createRegisteredProvider,
): Promise<ProviderSlot[]> {
  const slots: ProviderSlot[] = [];
  for (const [i, entry] of config.providers.entries()) {
    const id = slotId(entry, i);
    const provider = await create(entry, { clusterName: config.clusterName, logger: logger.child({ provider: id }), record, registry });
    const slot: ProviderSlot = { id, default: entry.default || entry.loadBalancerClass === undefined, provider };
    if (entry.loadBalancerClass) slot.loadBalancerClass = entry.loadBalancerClass;
    slots.push(slot);
  }
  return slots;
}
