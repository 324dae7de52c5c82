// Entry point of the GCP provider (loaded lazily by providers/registry.ts).
import type { AuthClient } from 'google-auth-library';
import type { ProviderDeps } from '../provider.js';
import { ComputeApi } from './computeApi.js';
import type { GcpConfig } from './config.js';
import { GcpProvider } from './gcpProvider.js';

export { gcpConfigSchema, type GcpConfig } from './config.js';
export { GcpProvider } from './gcpProvider.js';
export type { GcpObserved } from './observed.js';
export type { GcpPlan } from './planActions.js';

export interface GcpOverrides {
  /** Credentials; tests pass a PassThroughClient so nothing real is sent. */
  authClient?: AuthClient;
  apiEndpoint?: string;
  port?: number;
  protocol?: string;
  /** cloudCall retry tuning (tests shorten the backoff). */
  retries?: number;
  minRetryTimeoutMs?: number;
}

export function createGcpProvider(config: GcpConfig, deps: ProviderDeps, overrides: GcpOverrides = {}): GcpProvider {
  const connection: GcpOverrides = {};
  const endpoint = overrides.apiEndpoint ?? config.apiEndpoint;
  if (endpoint !== undefined) connection.apiEndpoint = endpoint;
  if (overrides.port !== undefined) connection.port = overrides.port;
  if (overrides.protocol !== undefined) connection.protocol = overrides.protocol;
  if (overrides.authClient !== undefined) connection.authClient = overrides.authClient;
  const api = new ComputeApi({
    project: config.project,
    region: config.region,
    ...(config.networkProject !== undefined ? { networkProject: config.networkProject } : {}),
    record: deps.record,
    ratePerSecond: config.apiRatePerSecond,
    burst: config.apiBurst,
    connection,
    ...(overrides.retries !== undefined ? { retries: overrides.retries } : {}),
    ...(overrides.minRetryTimeoutMs !== undefined ? { minRetryTimeoutMs: overrides.minRetryTimeoutMs } : {}),
  });
  return new GcpProvider(api, {
    settings: {
      project: config.project,
      region: config.region,
      network: config.network,
      subnetwork: config.subnetwork,
      nodeTags: config.nodeTags,
      externalInstanceGroupsPrefix: config.externalInstanceGroupsPrefix,
      networkProject: config.networkProject,
      clusterName: deps.clusterName,
    },
    pollIntervalMs: config.pollIntervalMs,
    instanceGroupCacheMs: config.instanceGroupCacheMs,
    observeCacheMs: config.observeCacheMs,
    addressListCacheMs: config.addressListCacheMs,
    logger: deps.logger.child({ provider: 'gcp' }),
  });
}
