// The simulated provider: the provider contract implemented against SimulatedCloud, through the
// same cloudCall edge (client-side rate limit, retries with backoff and jitter, accounting) as the
// real clouds.
import { cloudCall, type CloudCallPolicy } from '../common/cloudCall.js';
import { TokenBucket } from '../common/tokenBucket.js';
import {
  ServiceConfigError,
  type ApplyResult,
  type Capabilities,
  type CallRecorder,
  type DeleteResult,
  type DesiredLoadBalancer,
  type Provider,
  type ServiceRef,
} from '../provider.js';
import { AddressPool } from './addressPool.js';
import { CloudError, SimulatedCloud, type CloudLoadBalancer } from './cloud.js';
import { remoteCloud, type CloudApi } from './cloudOverHttp.js';
import type { SimulatedConfig } from './config.js';
import { IDLE_TIMEOUT_ANNOTATION, LOAD_BALANCER_IPS_ANNOTATION, simulatedDiff, TAG_CLUSTER, TAG_SERVICE, TAG_SERVICE_UID, type SimulatedPlan } from './diff.js';

export interface SimulatedProviderOptions {
  config: SimulatedConfig;
  clusterName: string;
  record: CallRecorder;
  /** Share one cloud between controller instances (restarts, two replicas, benchmarks). */
  cloud?: SimulatedCloud;
}

export function cloudFromConfig(config: SimulatedConfig): SimulatedCloud {
  return new SimulatedCloud({
    addressPool: config.addressPool,
    staticAddresses: config.staticAddresses,
    latencyMs: config.latencyMs,
    mutatingCallsPerSecond: config.mutatingCallsPerSecond,
    provisioningMs: config.provisioningMs,
    faults: config.faults,
  });
}

export class SimulatedProvider implements Provider<CloudLoadBalancer, SimulatedPlan> {
  readonly name = 'simulated';
  readonly capabilities: Capabilities;
  readonly cloud: SimulatedCloud;
  /** Where calls go: `cloud`, or the cloud a running playground serves at config.endpoint. */
  private readonly api: CloudApi;
  private readonly pool: AddressPool;
  private readonly policy: CloudCallPolicy;
  private readonly limiter: TokenBucket | undefined;
  private readonly clusterName: string;
  private readonly provisioningPollMs: number;

  constructor(options: SimulatedProviderOptions) {
    const { config } = options;
    this.cloud = options.cloud ?? cloudFromConfig(config);
    this.api = config.endpoint ? remoteCloud(config.endpoint) : this.cloud;
    // The provider's view of what the account owns, for the pure diff's loadBalancerIP check.
    this.pool = new AddressPool(config.addressPool, config.staticAddresses);
    this.clusterName = options.clusterName;
    this.provisioningPollMs = Math.max(100, config.provisioningMs);
    this.capabilities = {
      protocols: ['TCP', 'UDP'],
      mixedProtocol: true,
      loadBalancerIP: true,
      sourceRanges: true,
      dualStack: false,
      ipFamilies: ['IPv4'],
      annotations: [IDLE_TIMEOUT_ANNOTATION, LOAD_BALANCER_IPS_ANNOTATION],
      usesNodePorts: true,
      followsEndpoints: false,
      needsProviderID: config.needsProviderID,
    };
    this.policy = {
      provider: 'simulated',
      record: options.record,
      classify: (error) => {
        if (error instanceof CloudError) {
          if (error.code === 'Throttling') return 'throttled';
          if (error.status >= 500) return 'transient';
        }
        return 'fatal';
      },
      retries: config.retries,
      minTimeoutMs: config.retryMinMs,
      maxTimeoutMs: config.retryMaxMs,
    };
    const rate = config.clientMutatingCallsPerSecond ?? config.mutatingCallsPerSecond;
    // Burst 1: a bucket with burst b lets b + rate calls into one second, which a cloud counting in a
    // one-second window would throttle.
    this.limiter = rate > 0 ? new TokenBucket(rate, 1) : undefined;
  }

  async observe(ref: ServiceRef): Promise<CloudLoadBalancer | undefined> {
    const found = await this.describe({ [TAG_CLUSTER]: this.clusterName, [TAG_SERVICE_UID]: ref.uid });
    return found[0];
  }

  diff(observed: CloudLoadBalancer | undefined, desired: DesiredLoadBalancer): SimulatedPlan {
    return simulatedDiff(observed, desired, this.pool);
  }

  async apply(plan: SimulatedPlan): Promise<ApplyResult> {
    let lb = plan.observed;
    for (const step of plan.steps) {
      switch (step.op) {
        case 'create':
          try {
            lb = await this.mutate('CreateLoadBalancer', () => this.api.createLoadBalancer(step.input));
          } catch (error) {
            if (error instanceof CloudError && (error.code === 'AddressNotOwned' || error.code === 'AddressInUse')) {
              throw new ServiceConfigError(plan.requestedField ?? 'spec.loadBalancerIP', error.message);
            }
            throw error;
          }
          break;
        case 'delete':
          await this.mutate('DeleteLoadBalancer', () => this.api.deleteLoadBalancer(step.id));
          lb = undefined;
          break;
        case 'modifyListeners':
          await this.mutate('ModifyListeners', () => this.api.modifyListeners(step.id, step.listeners));
          break;
        case 'modifyAttributes':
          await this.mutate('ModifyLoadBalancerAttributes', () => this.api.modifyAttributes(step.id, step.attributes));
          break;
        case 'registerTargets':
          await this.mutate('RegisterTargets', () => this.api.registerTargets(step.id, step.targets));
          break;
        case 'deregisterTargets':
          await this.mutate('DeregisterTargets', () => this.api.deregisterTargets(step.id, step.names));
          break;
        case 'waitActive':
          break;
      }
    }
    if (!lb) throw new Error(`plan for ${plan.ref.namespace}/${plan.ref.name} left no load balancer`);
    // Look again after about one provisioning period instead of polling the cloud meanwhile.
    if (lb.state === 'provisioning') return { state: 'inProgress', retryAfterMs: this.provisioningPollMs, reason: `${lb.id} is provisioning` };
    return { state: 'ready', ingress: [{ ip: lb.address, ipMode: 'VIP' }] };
  }

  async delete(ref: ServiceRef): Promise<DeleteResult> {
    const found = await this.describe({ [TAG_CLUSTER]: this.clusterName, [TAG_SERVICE_UID]: ref.uid });
    for (const lb of found) {
      try {
        await this.mutate('DeleteLoadBalancer', () => this.api.deleteLoadBalancer(lb.id));
      } catch (error) {
        if (!(error instanceof CloudError && error.code === 'NotFound')) throw error;
      }
    }
    return { state: 'deleted' };
  }

  async listOwned(): Promise<ServiceRef[]> {
    const found = await this.describe({ [TAG_CLUSTER]: this.clusterName });
    return found.map((lb) => {
      const [namespace = '', name = ''] = (lb.tags[TAG_SERVICE] ?? '/').split('/');
      return { namespace, name, uid: lb.tags[TAG_SERVICE_UID] ?? '' };
    });
  }

  private describe(tags: Record<string, string>): Promise<CloudLoadBalancer[]> {
    return cloudCall(this.policy, { operation: 'DescribeLoadBalancers', mutating: false }, () => this.api.describeLoadBalancers({ tags }));
  }

  private mutate<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const spec = this.limiter ? { operation, mutating: true, limiter: this.limiter } : { operation, mutating: true };
    return cloudCall(this.policy, spec, fn);
  }
}
