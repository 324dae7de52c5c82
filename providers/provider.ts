import type { Registry } from 'prom-client';
import type { Logger } from 'pino';

// The contract every provider implements. The controller builds a DesiredLoadBalancer from the
// Service and the eligible Nodes (pure), asks the provider what exists (observe), lets it compute a
// printable Plan (diff, pure), and applies it. Providers never hold a Kubernetes client: metal,
// configured by resources of its own (MetalLB's), reaches them through `customResources`.
//
// What providers promise, and the controller relies on:
// - diff is pure: it changes nothing and reads only its arguments (metal also reads its in-memory
//   allocator, which is its "cloud"). Anything apply reserves or creates (an address from a pool, a
//   shared group) is an action of the plan, so `kube-lb-provisioner plan` prints exactly what apply
//   will do. A plan overtaken before apply (metal: another Service took the address) is not applied:
//   apply answers inProgress with no delay, and the Service is planned again.
// - A plan that must wait (a cloud operation still running, a view too old to plan from) says so in
//   `waiting` and carries no action for it; apply answers inProgress and does nothing else.
// - Leftovers no single Service owns (unattached target groups, shared security or instance groups)
//   are removed by sweep(), which the controller's periodic resync calls. listOwned() and delete()
//   never remove them.
// - A provider that keeps state between calls (caches, operations it started) documents it where it
//   keeps it; anything apply needs from observe travels inside the plan.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type IPFamily = 'IPv4' | 'IPv6';
export type IPFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
export type TrafficPolicy = 'Cluster' | 'Local';
export type SessionAffinity = 'None' | 'ClientIP';

/** Identifies one Service. The uid distinguishes a re-created Service with the same name. */
export interface ServiceRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface DesiredPort {
  /** spec.ports[i].name, may be empty for single-port Services. */
  name: string;
  protocol: Protocol;
  port: number;
  /** spec.ports[i].nodePort; 0 when none was allocated (allocateLoadBalancerNodePorts: false). */
  nodePort: number;
}

/** One Pod endpoint of a Service (from its EndpointSlices), for providers that target Pod IPs. */
export interface PodEndpoint {
  address: string;
  /** conditions.ready (unset counts as ready, per the API). */
  ready: boolean;
  /** conditions.terminating: the Pod is going away. */
  terminating: boolean;
  nodeName?: string;
  zone?: string;
  /** The slice's ports: Service port name ('' when unnamed) -> the Pod's port number. */
  ports: Record<string, number>;
}

/** An eligible node, as the provider needs it. Sorted by name in DesiredLoadBalancer.nodes. */
export interface NodeTarget {
  name: string;
  /** spec.providerID, e.g. aws:///us-east-1a/i-0abc or gce://project/zone/name. */
  providerID?: string;
  internalIPs: string[];
  externalIPs: string[];
  /** topology.kubernetes.io/zone, when labelled. */
  zone?: string;
  labels: Record<string, string>;
}

/** How the provider checks that a node serves the Service (design: upstream semantics). */
export interface HealthCheckSpec {
  protocol: 'HTTP' | 'TCP';
  port: number;
  /** Only for HTTP. */
  path?: string;
}

export interface LoadBalancerIngressPort {
  port: number;
  protocol: Protocol;
  error?: string;
}

/** status.loadBalancer.ingress[i] */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
  ipMode?: 'VIP' | 'Proxy';
  ports?: LoadBalancerIngressPort[];
}

export interface DesiredLoadBalancer {
  ref: ServiceRef;
  /** Cluster name from configuration, used in ownership tags. */
  clusterName: string;
  /** spec.loadBalancerClass, undefined for the default class. */
  loadBalancerClass?: string;
  ports: DesiredPort[];
  /** Eligible nodes (upstream predicates; with a providerID where the provider needs one), by name. */
  nodes: NodeTarget[];
  externalTrafficPolicy: TrafficPolicy;
  /** spec.sessionAffinity; anything but ClientIP is None. */
  sessionAffinity: SessionAffinity;
  /** spec.sessionAffinityConfig.clientIP.timeoutSeconds, only with ClientIP (the API defaults it to 10800). */
  sessionAffinityTimeoutSeconds?: number;
  healthCheckNodePort?: number;
  /** Derived: Local -> HTTP healthCheckNodePort /healthz; Cluster -> HTTP 10256 /healthz. */
  healthCheck: HealthCheckSpec;
  /** spec.loadBalancerIP, if set. Providers may read more IPs from annotations. */
  loadBalancerIP?: string;
  /** spec.loadBalancerSourceRanges, or the source-ranges annotation; empty means everyone. */
  sourceRanges: string[];
  ipFamilies: IPFamily[];
  ipFamilyPolicy: IPFamilyPolicy;
  /** All Service annotations; each provider parses the ones it understands. */
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** spec.selector, for MetalLB's sharing rule under externalTrafficPolicy Local. */
  selector: Record<string, string>;
  /** Names of nodes with a ready endpoint of this Service (from EndpointSlices). */
  endpointNodes: string[];
  /** What status.loadBalancer.ingress says today (lets metal rebuild assignments after restart). */
  currentIngress: LoadBalancerIngress[];
  /**
   * The Service's Pod endpoints, only for a provider whose wantsPodEndpoints() says so for this
   * Service; undefined while the EndpointSlices are not yet known (the provider then keeps targets as they are).
   */
  podEndpoints?: PodEndpoint[];
}

export interface Capabilities {
  protocols: Protocol[];
  /** TCP and UDP ports in one Service. */
  mixedProtocol: boolean;
  loadBalancerIP: boolean;
  sourceRanges: boolean;
  dualStack: boolean;
  /** Address families it can give an address of; a Service asking only for others is refused. */
  ipFamilies: readonly IPFamily[];
  /**
   * Our own annotations (kube-lb-provisioner.io/...) it honours. Any other of ours on a Service is
   * refused with a Warning naming it, never silently ignored. (Annotations of the tools users
   * migrate from, metallb.io/... for instance, may be ignored where they make no sense, as upstream.)
   */
  annotations: readonly string[];
  /** It forwards to the nodes' NodePorts, so allocateLoadBalancerNodePorts: false cannot be served. */
  usesNodePorts: boolean;
  /**
   * For externalTrafficPolicy: Local it needs the nodes with a ready endpoint (metal announces only
   * from them). Only then does the controller cache EndpointSlices, and it publishes the set on the
   * Service (kube-lb-provisioner.io/endpoint-nodes) for the speakers. Clouds health-check instead.
   */
  followsEndpoints: boolean;
  /** Nodes without a usable providerID are skipped (with an Event). */
  needsProviderID: boolean;
}

/** One step of a plan. `describe` is what `kube-lb-provisioner plan` prints. */
export interface PlanAction {
  /** Short machine-readable verb, e.g. "createTargetGroup", "registerTargets". */
  kind: string;
  /** Human-readable line: what changes and why. */
  description: string;
  /** False for waits and reads. A plan with no mutating action is a no-op. */
  mutating: boolean;
  /** True for actions that only change node membership (these map to UpdatedLoadBalancer). */
  membershipOnly?: boolean;
  /**
   * For a provider that applies in phases (GCP): apply performs only the lowest phase's actions and
   * answers inProgress; the later ones are planned again on a later reconcile, from a new observe.
   */
  phase?: number;
}

export interface Plan {
  ref: ServiceRef;
  actions: PlanAction[];
  /**
   * Set when nothing can be planned yet (an operation still runs, or the view is too old to plan
   * from): what the plan waits for. apply then answers inProgress and changes nothing.
   */
  waiting?: string;
}

/** One entry of the Service's status.conditions, as a provider reports it (the controller sets the times). */
export interface ServiceCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/**
 * Conditions a provider writes on the Services it serves (GCP: as GKE's L4 controllers do). The
 * controller replaces the conditions of `types` with `current` and leaves every other type alone.
 */
export interface ProviderConditions {
  types: readonly string[];
  current: ServiceCondition[];
}

export type ApplyResult =
  /**
   * The load balancer serves at `ingress`. With `settling`, changes that do not stop it serving
   * (node membership) are still under way: the controller looks again after retryAfterMs.
   */
  | { state: 'ready'; ingress: LoadBalancerIngress[]; settling?: { retryAfterMs: number; reason: string }; conditions?: ProviderConditions }
  | { state: 'inProgress'; retryAfterMs: number; reason: string };

export type DeleteResult =
  | { state: 'deleted' }
  | { state: 'inProgress'; retryAfterMs: number; reason: string };

/**
 * A problem the user must fix on the Service (bad annotation, unsupported protocol, an IP the
 * account does not own, an exhausted pool). Becomes a Warning Event naming `field`; the Service
 * stays pending and is retried at the slow end of the backoff.
 */
export class ServiceConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ServiceConfigError';
  }
}

/** Records one call to a cloud API, for metrics and benchmarks. */
export type CallOutcome = 'ok' | 'error' | 'throttled';
export type CallRecorder = (call: { provider: string; operation: string; mutating: boolean; outcome: CallOutcome }) => void;

export interface ProviderEvent {
  ref: ServiceRef;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** What the controller hands a provider when it creates it (providers/registry.ts). */
export interface ProviderDeps {
  clusterName: string;
  logger: Logger;
  record: CallRecorder;
  /** The controller's metrics registry, for providers with metrics of their own (metal pool usage). */
  registry?: Registry;
}

/** What the controller hands a provider when it starts. */
export interface ProviderContext {
  /** The Services this provider serves, as desired now (from the informer cache). */
  listServices(): DesiredLoadBalancer[];
  /** Ask the controller to reconcile another Service (e.g. an address was freed). */
  requeue(ref: ServiceRef): void;
  /** Emit an Event on a Service. */
  emit(event: ProviderEvent): void;
  /**
   * Custom resources of the provider's own configuration (metal reads MetalLB's metallb.io
   * objects), from the controller's client. Absent where there is no cluster (unit tests).
   */
  customResources?: CustomResourceAccess;
}

/** A namespaced custom resource kind, as served. */
export interface CustomResourceKind {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

/** The object an Event is about. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** What the controller lets a provider do with the custom resources that configure it. */
export interface CustomResourceAccess {
  /**
   * Lists and watches `kinds` in `namespace` (custom kinds, and Secrets as group "" plural "secrets"). Resolves once each kind is listed once or found not
   * served (no CRD: it counts as empty and is picked up when it appears). Then `onChange` gets
   * every object of every kind (by kind name) after each change, coalesced.
   */
  watch(namespace: string, kinds: readonly CustomResourceKind[], onChange: (objects: Map<string, unknown[]>) => void): Promise<{ stop(): Promise<void> }>;
  /**
   * Lists and watches Namespaces; `onChange` gets every Namespace's labels after each change,
   * coalesced. Resolves once listed.
   */
  watchNamespaces(onChange: (labels: Map<string, Record<string, string>>) => void): Promise<{ stop(): Promise<void> }>;
  /** A JSON merge patch of the object, or of its status subresource. Throws on failure. */
  mergePatch(kind: CustomResourceKind, namespace: string, name: string, body: object, subresource?: 'status'): Promise<void>;
  /** An Event on any namespaced object (aggregated as the Service Events are). */
  event(object: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** Sets (or, with undefined, removes) one annotation of a Service. Throws on failure. */
  annotateService(ref: ServiceRef, key: string, value: string | undefined): Promise<void>;
  /** Resolves when the Events recorded so far are written. */
  flush(): Promise<void>;
}

export interface Provider<TObserved = unknown, TPlan extends Plan = Plan> {
  readonly name: string;
  readonly capabilities: Capabilities;
  /**
   * The status.conditions types it writes (ProviderConditions.types): removed from a Service that
   * stays but stops being served (type or class changed away), as with its ingress.
   */
  readonly conditionTypes?: readonly string[];
  /** Optional warm-up before the first reconcile (metal rebuilds its assignments here). */
  start?(ctx: ProviderContext): Promise<void>;
  stop?(): Promise<void>;
  /**
   * What exists. `desired` is what the controller is about to diff against: a provider that keeps
   * reads between resyncs (AWS) reads afresh when it changed. Absent in one-off reads.
   */
  observe(ref: ServiceRef, desired?: DesiredLoadBalancer): Promise<TObserved | undefined>;
  /** Pure. Throws ServiceConfigError for input the provider cannot serve. */
  diff(observed: TObserved | undefined, desired: DesiredLoadBalancer): TPlan;
  apply(plan: TPlan): Promise<ApplyResult>;
  /** Idempotent: deleting what is already gone answers { state: 'deleted' }. */
  delete(ref: ServiceRef): Promise<DeleteResult>;
  /** Every Service this cluster owns a load balancer for, from the cloud's own records. Only reads. */
  listOwned(): Promise<ServiceRef[]>;
  /**
   * Removes leftovers no single Service owns any more (garbage collection beyond one Service's
   * load balancer). Called by the periodic resync, after orphaned load balancers were deleted.
   */
  sweep?(): Promise<void>;
  /**
   * Pure: whether this Service needs its Pod endpoints (AWS ip targets). Only then does the
   * controller cache EndpointSlices with their addresses (started on the first such Service), fill
   * DesiredLoadBalancer.podEndpoints, and reconcile the Service when its endpoints change.
   */
  wantsPodEndpoints?(desired: Pick<DesiredLoadBalancer, 'annotations'>): boolean;
}

/** A plan with no mutating actions changes nothing (a waiting plan has none). */
export function isNoop(plan: Plan): boolean {
  return plan.actions.every((a) => !a.mutating);
}

export function serviceKey(ref: Pick<ServiceRef, 'namespace' | 'name'>): string {
  return `${ref.namespace}/${ref.name}`;
}
