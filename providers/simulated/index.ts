// Entry point the provider registry loads: a SimulatedProvider, plus the traffic forwarder when the
// configuration asks for real traffic (the playground).
import type { ProviderDeps } from '../provider.js';
import type { SimulatedConfig } from './config.js';
import type { SimulatedCloud } from './cloud.js';
import { SimulatedProvider } from './provider.js';
import { TrafficForwarder } from './trafficForwarder.js';

export { SimulatedCloud, CloudError } from './cloud.js';
export { SimulatedProvider, cloudFromConfig } from './provider.js';
export { TrafficForwarder } from './trafficForwarder.js';
export type { SimulatedConfig } from './config.js';

type SimulatedEntry = SimulatedConfig;

/** A provider whose cloud is shared if given; with forwardTraffic it also forwards real traffic. */
export class ForwardingSimulatedProvider extends SimulatedProvider {
  private forwarder: TrafficForwarder | undefined;

  constructor(config: SimulatedEntry, deps: ProviderDeps, cloud?: SimulatedCloud) {
    super({ config, clusterName: deps.clusterName, record: deps.record, ...(cloud ? { cloud } : {}) });
    if (config.forwardTraffic && !config.endpoint) {
      this.forwarder = new TrafficForwarder(this.cloud, { healthCheckIntervalMs: config.healthCheckIntervalMs, onError: (m) => deps.logger.warn(m) });
    }
  }

  async stop(): Promise<void> {
    await this.forwarder?.stop();
    this.forwarder = undefined;
  }
}

export function createSimulatedProvider(config: SimulatedEntry, deps: ProviderDeps, cloud?: SimulatedCloud): Promise<SimulatedProvider> {
  return Promise.resolve(new ForwardingSimulatedProvider(config, deps, cloud));
}
