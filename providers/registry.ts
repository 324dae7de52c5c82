// Turns one provider entry of the configuration into a running Provider. Each provider is loaded
// lazily, so a deployment pulls in only the cloud SDKs it uses.
import type { Registry } from 'prom-client';
import type { Logger } from '../src/observability/logger.js';
import type { ProviderConfig } from '../src/config/schema.js';
import type { CallRecorder, Provider } from './provider.js';

export interface ProviderDeps {
  clusterName: string;
  logger: Logger;
  record: CallRecorder;
  /** The controller's metrics registry, for providers with metrics of their own (metal pool usage). */
  registry?: Registry;
}

export async function createProvider(config: ProviderConfig, deps: ProviderDeps): Promise<Provider> {
  switch (config.type) {
    case 'simulated': {
      const { createSimulatedProvider } = await import('./simulated/index.js');
      return (await createSimulatedProvider(config, deps)) as Provider;
    }
    case 'aws': {
      const { createAwsProvider } = await import('./aws/index.js');
      return (await createAwsProvider(config, deps)) as Provider;
    }
    case 'gcp': {
      const { createGcpProvider } = await import('./gcp/index.js');
      return createGcpProvider(config, deps) as Provider;
    }
    case 'metal': {
      const { createMetalProvider } = await import('./metal/index.js');
      return createMetalProvider(config, deps) as Provider;
    }
    default:
      throw new Error(`provider type "${(config as { type: string }).type}" is not available in this build`);
  }
}
