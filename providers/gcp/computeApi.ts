// The edge to Compute Engine: the @google-cloud/compute REST clients, every call through cloudCall
// (client-side rate limit, p-retry with jitter on 429/5xx, call accounting). gax's own retries are
// switched off per call so a failure is retried in exactly one place. Mutations return the
// operation they started; nobody here waits for one.
import { randomUUID } from 'node:crypto';
import {
  AddressesClient,
  FirewallsClient,
  ForwardingRulesClient,
  GlobalOperationsClient,
  InstanceGroupsClient,
  RegionBackendServicesClient,
  RegionHealthChecksClient,
  RegionOperationsClient,
  ZoneOperationsClient,
  type protos,
} from '@google-cloud/compute';
import type { AuthClient } from 'google-auth-library';
import { cloudCall, type CloudCallPolicy } from '../common/cloudCall.js';
import { TokenBucket } from '../common/tokenBucket.js';
import type { CallRecorder } from '../provider.js';
import { classifyComputeError, isNotFound } from './apiErrors.js';
import type { AddressBody, BackendServiceBody, FirewallBody, ForwardingRuleBody, HealthCheckBody } from './planActions.js';

type C = typeof protos.google.cloud.compute.v1;
export type IHealthCheck = protos.google.cloud.compute.v1.IHealthCheck;
export type IBackendService = protos.google.cloud.compute.v1.IBackendService;
export type IForwardingRule = protos.google.cloud.compute.v1.IForwardingRule;
export type IFirewall = protos.google.cloud.compute.v1.IFirewall;
export type IAddress = protos.google.cloud.compute.v1.IAddress;
export type IInstanceGroup = protos.google.cloud.compute.v1.IInstanceGroup;
export type IOperation = protos.google.cloud.compute.v1.IOperation;
// Keeps the namespace import used for the types above under verbatimModuleSyntax.
export type _ComputeProtos = C;

/** Where an operation lives: which operations service polls it. */
export type OperationScope = { region: string } | { zone: string } | { global: true; project?: string };

export interface OperationRef {
  name: string;
  scope: OperationScope;
  /** What it does, for plans, logs and errors. */
  description: string;
}

export interface OperationStatus {
  done: boolean;
  error?: { status: number; message: string };
}

export interface ComputeConnection {
  authClient?: AuthClient;
  apiEndpoint?: string;
  port?: number;
  protocol?: string;
}

export interface ComputeApiOptions {
  project: string;
  /** Shared VPC host project: firewall rules live there. */
  networkProject?: string;
  region: string;
  record: CallRecorder;
  ratePerSecond: number;
  burst: number;
  connection: ComputeConnection;
  /** Retry tuning (tests shorten the waits). */
  retries?: number;
  minRetryTimeoutMs?: number;
}

type ClientOptions = NonNullable<ConstructorParameters<typeof RegionHealthChecksClient>[0]>;

/** Turns `apiEndpoint: http://127.0.0.1:8080` into the separate options the clients take (REST transport). */
export function connectionOptions(connection: ComputeConnection): ClientOptions {
  const out: ClientOptions = { fallback: true };
  let endpoint = connection.apiEndpoint;
  let port = connection.port;
  let protocol = connection.protocol;
  if (endpoint && /^https?:\/\//.test(endpoint)) {
    const url = new URL(endpoint);
    endpoint = url.hostname;
    protocol ??= url.protocol.replace(':', '');
    if (url.port) port ??= Number(url.port);
  }
  if (endpoint) out.apiEndpoint = endpoint;
  if (port !== undefined) out.port = port;
  if (protocol) out.protocol = protocol;
  if (connection.authClient) out.authClient = connection.authClient;
  return out;
}

const noGaxRetry = () => ({ retry: { retryCodes: [] as number[] } });

export class ComputeApi {
  private readonly healthChecks: RegionHealthChecksClient;
  private readonly backendServices: RegionBackendServicesClient;
  private readonly forwardingRules: ForwardingRulesClient;
  private readonly firewalls: FirewallsClient;
  private readonly addresses: AddressesClient;
  private readonly instanceGroups: InstanceGroupsClient;
  private readonly regionOperations: RegionOperationsClient;
  private readonly zoneOperations: ZoneOperationsClient;
  private readonly globalOperations: GlobalOperationsClient;
  private readonly policy: CloudCallPolicy;
  private readonly limiter: TokenBucket;
  readonly project: string;
  readonly region: string;
  /** Where firewall rules live: the network's (host) project. */
  readonly firewallProject: string;

  constructor(options: ComputeApiOptions) {
    const opts = connectionOptions(options.connection);
    this.healthChecks = new RegionHealthChecksClient({ ...opts });
    this.backendServices = new RegionBackendServicesClient({ ...opts });
    this.forwardingRules = new ForwardingRulesClient({ ...opts });
    this.firewalls = new FirewallsClient({ ...opts });
    this.addresses = new AddressesClient({ ...opts });
    this.instanceGroups = new InstanceGroupsClient({ ...opts });
    this.regionOperations = new RegionOperationsClient({ ...opts });
    this.zoneOperations = new ZoneOperationsClient({ ...opts });
    this.globalOperations = new GlobalOperationsClient({ ...opts });
    this.project = options.project;
    this.region = options.region;
    this.firewallProject = options.networkProject ?? options.project;
    this.limiter = new TokenBucket(options.ratePerSecond, options.burst);
    this.policy = {
      provider: 'gcp',
      record: options.record,
      classify: classifyComputeError,
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.minRetryTimeoutMs !== undefined ? { minTimeoutMs: options.minRetryTimeoutMs } : {}),
    };
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      [
        this.healthChecks,
        this.backendServices,
        this.forwardingRules,
        this.firewalls,
        this.addresses,
        this.instanceGroups,
        this.regionOperations,
        this.zoneOperations,
        this.globalOperations,
      ].map((c) => c.close()),
    );
  }

  private call<T>(operation: string, mutating: boolean, fn: () => Promise<T>): Promise<T> {
    return cloudCall(this.policy, { operation, mutating, limiter: this.limiter }, fn);
  }

  /** A GET that answers undefined for 404. */
  private async read<T>(operation: string, fn: () => Promise<[T, ...unknown[]]>): Promise<T | undefined> {
    try {
      const [value] = await this.call(operation, false, fn);
      return value;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async mutate(
    operation: string,
    description: string,
    scope: OperationScope,
    fn: (requestId: string) => Promise<[{ latestResponse?: unknown }, ...unknown[]]>,
  ): Promise<OperationRef> {
    // One requestId for every retry of this call, so a retried insert is the same request to GCP.
    const requestId = randomUUID();
    const [lro] = await this.call(operation, true, () => fn(requestId));
    const op = lro.latestResponse as IOperation | undefined;
    if (!op?.name) throw new Error(`${operation} answered without an operation`);
    return { name: op.name, scope, description };
  }

  private get r() {
    return { project: this.project, region: this.region };
  }

  // ---- reads -------------------------------------------------------------------------------

  getHealthCheck(name: string) {
    return this.read('regionHealthChecks.get', () => this.healthChecks.get({ ...this.r, healthCheck: name }, noGaxRetry()));
  }

  getBackendService(name: string) {
    return this.read('regionBackendServices.get', () => this.backendServices.get({ ...this.r, backendService: name }, noGaxRetry()));
  }

  getForwardingRule(name: string) {
    return this.read('forwardingRules.get', () => this.forwardingRules.get({ ...this.r, forwardingRule: name }, noGaxRetry()));
  }

  getFirewall(name: string) {
    return this.read('firewalls.get', () => this.firewalls.get({ project: this.firewallProject, firewall: name }, noGaxRetry()));
  }

  getAddress(name: string) {
    return this.read('addresses.get', () => this.addresses.get({ ...this.r, address: name }, noGaxRetry()));
  }

  async listAddresses(): Promise<IAddress[]> {
    const [items] = await this.call('addresses.list', false, () => this.addresses.list({ ...this.r }, noGaxRetry()));
    return items;
  }

  async listHealthChecks(): Promise<IHealthCheck[]> {
    const [items] = await this.call('regionHealthChecks.list', false, () => this.healthChecks.list({ ...this.r }, noGaxRetry()));
    return items;
  }

  async listBackendServices(): Promise<IBackendService[]> {
    const [items] = await this.call('regionBackendServices.list', false, () => this.backendServices.list({ ...this.r }, noGaxRetry()));
    return items;
  }

  async listForwardingRules(): Promise<IForwardingRule[]> {
    const [items] = await this.call('forwardingRules.list', false, () => this.forwardingRules.list({ ...this.r }, noGaxRetry()));
    return items;
  }

  async listFirewalls(): Promise<IFirewall[]> {
    const [items] = await this.call('firewalls.list', false, () => this.firewalls.list({ project: this.firewallProject }, noGaxRetry()));
    return items;
  }

  /** Instance groups whose name matches, in every zone of the project. */
  async findInstanceGroups(match: (name: string) => boolean): Promise<IInstanceGroup[]> {
    return this.call('instanceGroups.aggregatedList', false, async () => {
      const found: IInstanceGroup[] = [];
      for await (const [, scoped] of this.instanceGroups.aggregatedListAsync({ project: this.project }, { ...noGaxRetry(), autoPaginate: false }))
        for (const g of scoped.instanceGroups ?? []) if (match(g.name ?? '')) found.push(g);
      return found;
    });
  }

  /** Instance names in a zone's group. */
  async listGroupInstances(zone: string, group: string): Promise<string[] | undefined> {
    const items = await this.read('instanceGroups.listInstances', () =>
      this.instanceGroups.listInstances({ project: this.project, zone, instanceGroup: group, instanceGroupsListInstancesRequestResource: {} }, noGaxRetry()),
    );
    return items?.map((i) => (i.instance ?? '').split('/').pop() ?? '').filter((n) => n !== '');
  }

  async getOperation(ref: OperationRef): Promise<OperationStatus> {
    let op: IOperation | undefined;
    if ('region' in ref.scope) {
      const region = ref.scope.region;
      op = await this.read('regionOperations.get', () => this.regionOperations.get({ project: this.project, region, operation: ref.name }, noGaxRetry()));
    } else if ('zone' in ref.scope) {
      const zone = ref.scope.zone;
      op = await this.read('zoneOperations.get', () => this.zoneOperations.get({ project: this.project, zone, operation: ref.name }, noGaxRetry()));
    } else {
      const project = ref.scope.project ?? this.project;
      op = await this.read('globalOperations.get', () => this.globalOperations.get({ project, operation: ref.name }, noGaxRetry()));
    }
    // An operation GCP no longer knows (they expire) is over; observe reads the outcome.
    if (!op) return { done: true };
    const done = op.status === 'DONE';
    const first = op.error?.errors?.[0];
    if (done && first) return { done, error: { status: op.httpErrorStatusCode ?? 400, message: first.message ?? first.code ?? 'operation failed' } };
    return { done };
  }

  // ---- mutations ---------------------------------------------------------------------------

  insertHealthCheck(body: HealthCheckBody): Promise<OperationRef> {
    return this.mutate('regionHealthChecks.insert', `create health check ${body.name}`, { region: this.region }, (requestId) =>
      this.healthChecks.insert({ ...this.r, requestId, healthCheckResource: body }, noGaxRetry()),
    );
  }

  updateHealthCheck(body: HealthCheckBody): Promise<OperationRef> {
    return this.mutate('regionHealthChecks.update', `update health check ${body.name}`, { region: this.region }, (requestId) =>
      this.healthChecks.update({ ...this.r, requestId, healthCheck: body.name, healthCheckResource: body }, noGaxRetry()),
    );
  }

  deleteHealthCheck(name: string): Promise<OperationRef> {
    return this.mutate('regionHealthChecks.delete', `delete health check ${name}`, { region: this.region }, (requestId) =>
      this.healthChecks.delete({ ...this.r, requestId, healthCheck: name }, noGaxRetry()),
    );
  }

  insertBackendService(body: BackendServiceBody): Promise<OperationRef> {
    return this.mutate('regionBackendServices.insert', `create backend service ${body.name}`, { region: this.region }, (requestId) =>
      this.backendServices.insert({ ...this.r, requestId, backendServiceResource: body }, noGaxRetry()),
    );
  }

  /** A PUT of the whole resource; `body` carries the fingerprint read just before (backendServiceUpdate.ts). */
  updateBackendService(body: IBackendService & { name: string }): Promise<OperationRef> {
    return this.mutate('regionBackendServices.update', `update backend service ${body.name}`, { region: this.region }, (requestId) =>
      this.backendServices.update({ ...this.r, requestId, backendService: body.name, backendServiceResource: body }, noGaxRetry()),
    );
  }

  deleteBackendService(name: string): Promise<OperationRef> {
    return this.mutate('regionBackendServices.delete', `delete backend service ${name}`, { region: this.region }, (requestId) =>
      this.backendServices.delete({ ...this.r, requestId, backendService: name }, noGaxRetry()),
    );
  }

  /** An empty IPAddress is left out: Compute then assigns an ephemeral address (the IPv6 twin's way). */
  insertForwardingRule(body: ForwardingRuleBody): Promise<OperationRef> {
    const { IPAddress, ...rest } = body;
    const resource = IPAddress === '' ? rest : body;
    return this.mutate('forwardingRules.insert', `create forwarding rule ${body.name}`, { region: this.region }, (requestId) =>
      this.forwardingRules.insert({ ...this.r, requestId, forwardingRuleResource: resource }, noGaxRetry()),
    );
  }

  /** PATCH semantics: only the fields sent change (here allowGlobalAccess). */
  patchForwardingRule(name: string, fields: { allowGlobalAccess: boolean }): Promise<OperationRef> {
    return this.mutate('forwardingRules.patch', `patch forwarding rule ${name}`, { region: this.region }, (requestId) =>
      this.forwardingRules.patch({ ...this.r, requestId, forwardingRule: name, forwardingRuleResource: fields }, noGaxRetry()),
    );
  }

  deleteForwardingRule(name: string): Promise<OperationRef> {
    return this.mutate('forwardingRules.delete', `delete forwarding rule ${name}`, { region: this.region }, (requestId) =>
      this.forwardingRules.delete({ ...this.r, requestId, forwardingRule: name }, noGaxRetry()),
    );
  }

  insertFirewall(body: FirewallBody): Promise<OperationRef> {
    return this.mutate('firewalls.insert', `create firewall ${body.name}`, { global: true, project: this.firewallProject }, (requestId) =>
      this.firewalls.insert({ project: this.firewallProject, requestId, firewallResource: body }, noGaxRetry()),
    );
  }

  updateFirewall(body: FirewallBody): Promise<OperationRef> {
    return this.mutate('firewalls.update', `update firewall ${body.name}`, { global: true, project: this.firewallProject }, (requestId) =>
      this.firewalls.update({ project: this.firewallProject, requestId, firewall: body.name, firewallResource: body }, noGaxRetry()),
    );
  }

  deleteFirewall(name: string): Promise<OperationRef> {
    return this.mutate('firewalls.delete', `delete firewall ${name}`, { global: true, project: this.firewallProject }, (requestId) =>
      this.firewalls.delete({ project: this.firewallProject, requestId, firewall: name }, noGaxRetry()),
    );
  }

  insertAddress(body: AddressBody): Promise<OperationRef> {
    return this.mutate('addresses.insert', `reserve address ${body.name}`, { region: this.region }, (requestId) =>
      this.addresses.insert({ ...this.r, requestId, addressResource: body }, noGaxRetry()),
    );
  }

  deleteAddress(name: string): Promise<OperationRef> {
    return this.mutate('addresses.delete', `release address ${name}`, { region: this.region }, (requestId) =>
      this.addresses.delete({ ...this.r, requestId, address: name }, noGaxRetry()),
    );
  }

  insertInstanceGroup(zone: string, name: string, description: string, network: string): Promise<OperationRef> {
    return this.mutate('instanceGroups.insert', `create instance group ${name} in ${zone}`, { zone }, (requestId) =>
      this.instanceGroups.insert({ project: this.project, zone, requestId, instanceGroupResource: { name, description, network } }, noGaxRetry()),
    );
  }

  deleteInstanceGroup(zone: string, name: string): Promise<OperationRef> {
    return this.mutate('instanceGroups.delete', `delete instance group ${name} in ${zone}`, { zone }, (requestId) =>
      this.instanceGroups.delete({ project: this.project, zone, requestId, instanceGroup: name }, noGaxRetry()),
    );
  }

  addInstances(zone: string, group: string, instances: string[]): Promise<OperationRef> {
    return this.mutate('instanceGroups.addInstances', `add ${instances.length} instance(s) to ${group} in ${zone}`, { zone }, (requestId) =>
      this.instanceGroups.addInstances(
        { project: this.project, zone, requestId, instanceGroup: group, instanceGroupsAddInstancesRequestResource: { instances: instances.map((instance) => ({ instance })) } },
        noGaxRetry(),
      ),
    );
  }

  removeInstances(zone: string, group: string, instances: string[]): Promise<OperationRef> {
    return this.mutate('instanceGroups.removeInstances', `remove ${instances.length} instance(s) from ${group} in ${zone}`, { zone }, (requestId) =>
      this.instanceGroups.removeInstances(
        { project: this.project, zone, requestId, instanceGroup: group, instanceGroupsRemoveInstancesRequestResource: { instances: instances.map((instance) => ({ instance })) } },
        noGaxRetry(),
      ),
    );
  }
}
