// Turns one provider entry of the configuration into a running Provider. Each provider is loaded
// lazily, so a deployment pulls in only the cloud SDKs it uses.
import type { ProviderConfig } from '../src/config/schema.js';
import type { Provider, ProviderDeps } from './provider.js';

// Kept for providers/metal/index.ts, which still imports it from here (left to issue 13's work):
// that type-only import is the last edge of a registry <-> provider cycle (see test/architecture).

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
