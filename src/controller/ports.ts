// What reconcile needs from the outside world, as interfaces: the informer caches (ClusterView) and
// the few writes it makes to the Kubernetes API (KubeWriter). src/kube implements them with
// client-node; unit tests implement them in memory.
import type { V1Node, V1Service } from '@kubernetes/client-node';
import type { LoadBalancerIngress, PodEndpoint, Provider } from '../../providers/provider.js';
import type { ConditionsChange } from './serviceConditions.js';

export interface ClusterView {
  service(namespace: string, name: string): V1Service | undefined;
  services(): readonly V1Service[];
  nodes(): readonly V1Node[];
  /** Bumped whenever the node cache changes, so derived node targets can be cached. */
  nodesVersion(): number;
  /** Nodes with a ready endpoint of the Service, sorted (empty unless a provider follows endpoints). */
  endpointNodes(namespace: string, serviceName: string): readonly string[];
  /**
   * The Service's Pod endpoints, for providers that target Pod IPs; undefined until EndpointSlices
   * are cached with their addresses and synced (followPodEndpoints starts that on first need).
   */
  podEndpoints?(namespace: string, serviceName: string): PodEndpoint[] | undefined;
  /** Start caching EndpointSlices with their addresses (idempotent): a Service needs its Pod endpoints. */
  followPodEndpoints?(): void;
}

export type EventType = 'Normal' | 'Warning';

export interface KubeWriter {
  addFinalizer(service: V1Service): Promise<void>;
  removeFinalizer(service: V1Service): Promise<void>;
  /** With `conditions`, those entries of status.conditions are set or removed too (by type; others stay). */
  patchIngress(service: V1Service, ingress: LoadBalancerIngress[], conditions?: ConditionsChange): Promise<void>;
  /** Sets (or, with null, removes) one annotation on the Service. */
  annotate(service: V1Service, name: string, value: string | null): Promise<void>;
  /** Records an Event on the Service; never throws (events are best effort). */
  event(service: V1Service, type: EventType, reason: string, message: string): void;
}

/**
 * One configured provider: the id its metrics, logs and ownership records use, the class it serves,
 * and whether it also serves Services with no class. (The speaker selects Services by the same
 * fields, without a provider.)
 */
export interface ProviderSlot {
  /** Unique within the deployment (src/cli/providerSlots.ts names it). */
  id: string;
  loadBalancerClass?: string;
  default: boolean;
  provider: Provider;
}
