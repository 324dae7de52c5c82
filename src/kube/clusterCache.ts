// The controller's view of the cluster: informers for Services, Nodes and (only when a provider
// follows endpoints) EndpointSlices, kept only as each slice's ready nodes (and, from the first
// Service whose provider targets Pod IPs on, their compact Pod endpoints), exposed
// as the ClusterView reconcile reads. Cheap filters here decide what is worth enqueueing: status-only
// Service updates (our own patches) and Node heartbeats are dropped.
import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Node, type V1Service } from '@kubernetes/client-node';
import type { ClusterView } from '../controller/ports.js';
import type { PodEndpoint } from '../../providers/provider.js';
import { SERVICE_NAME_LABEL } from '../controller/desiredLoadBalancer.js';
import { ineligibility, nodeTarget } from '../controller/eligibleNodes.js';
import { WRITTEN_BY_US } from '../controller/ourAnnotations.js';
import type { Logger } from '../observability/logger.js';
import { listInPages, startInformer, type RunningInformer } from './informers.js';
import { EndpointNodeIndex } from './endpointNodeIndex.js';
import { trimNode, trimServiceForController } from './objectTrimming.js';

export interface ClusterCacheHandlers {
  /** A Service appeared, changed in a way that matters, or went away. */
  serviceChanged(service: V1Service, deleted: boolean): void;
  /** Something providers see of the node set changed (eligibility, addresses, labels). */
  nodesChanged(): void;
  /** The nodes with ready endpoints of a Service changed. */
  endpointsChanged(namespace: string, serviceName: string): void;
}

export interface ClusterCacheOptions {
  logger: Logger;
  /** Cache EndpointSlices (trimmed): only when a provider follows endpoints (metal, for Local). */
  endpointSlices?: boolean;
  informerRestartMinMs?: number;
  informerRestartMaxMs?: number;
}

const keyOf = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

// Status and finalizers are left out: they change when we patch them, and re-running a reconcile
// for our own writes would cost a cloud read per Service (the periodic resync still looks at all).
// So are the annotations we write ourselves (reports such as the endpoint nodes).
function serviceFingerprint(s: V1Service): string {
  const m = s.metadata ?? {};
  const annotations = Object.entries(m.annotations ?? {}).filter(([name]) => !WRITTEN_BY_US.has(name));
  return JSON.stringify([m.uid, m.deletionTimestamp ? 1 : 0, annotations, m.labels ?? {}, s.spec ?? {}]);
}

function nodeFingerprint(n: V1Node): string {
  const t = nodeTarget(n);
  return JSON.stringify([ineligibility(n, { needsProviderID: false }) ?? '', t.providerID ?? '', t.internalIPs, t.externalIPs, t.labels]);
}

export class ClusterCache implements ClusterView {
  private serviceInformer!: RunningInformer<V1Service>;
  private nodeInformer!: RunningInformer<V1Node>;
  private slices: RunningInformer<V1EndpointSlice> | undefined;
  private readonly serviceFps = new Map<string, string>();
  private readonly nodeFps = new Map<string, string>();
  private endpointNodeIndex = new EndpointNodeIndex();
  private keepPodEndpoints = false;
  /** The index of a slice informer replaced by followPodEndpoints, until the new one has synced. */
  private previousIndex: EndpointNodeIndex | undefined;
  private startSlices: (() => void) | undefined;
  private version = 0;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly handlers: ClusterCacheHandlers,
    private readonly options: ClusterCacheOptions,
  ) {}

  start(): void {
    const core = this.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = this.kubeConfig.makeApiClient(DiscoveryV1Api);
    const informerOptions = {
      logger: this.options.logger,
      ...(this.options.informerRestartMinMs !== undefined ? { restartMinMs: this.options.informerRestartMinMs } : {}),
      ...(this.options.informerRestartMaxMs !== undefined ? { restartMaxMs: this.options.informerRestartMaxMs } : {}),
    };
    const onService = (deleted: boolean) => (s: V1Service) => {
      const key = keyOf(s);
      if (deleted) {
        this.serviceFps.delete(key);
        this.handlers.serviceChanged(s, true);
        return;
      }
      const fp = serviceFingerprint(s);
      if (this.serviceFps.get(key) === fp) return;
      this.serviceFps.set(key, fp);
      this.handlers.serviceChanged(s, false);
    };
    this.serviceInformer = startInformer<V1Service>(
      this.kubeConfig,
      '/api/v1/services',
      () => listInPages((page) => core.listServiceForAllNamespaces(page), trimServiceForController),
      { trim: trimServiceForController, add: onService(false), update: onService(false), delete: onService(true) },
      informerOptions,
    );
    const onNode = (deleted: boolean) => (n: V1Node) => {
      const name = n.metadata?.name ?? '';
      const fp = deleted ? undefined : nodeFingerprint(n);
      if (this.nodeFps.get(name) === fp) return;
      if (fp === undefined) this.nodeFps.delete(name);
      else this.nodeFps.set(name, fp);
      this.version++;
      this.handlers.nodesChanged();
    };
    this.nodeInformer = startInformer<V1Node>(
      this.kubeConfig,
      '/api/v1/nodes',
      () => listInPages((page) => core.listNode(page), trimNode),
      { trim: trimNode, add: onNode(false), update: onNode(false), delete: onNode(true) },
      informerOptions,
    );
    const onSlice = (deleted: boolean) => (e: V1EndpointSlice) => {
      const changed = deleted ? this.endpointNodeIndex.forget(e) : this.endpointNodeIndex.takeChange(e);
      if (!changed) return;
      const serviceName = e.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (serviceName) this.handlers.endpointsChanged(e.metadata?.namespace ?? '', serviceName);
    };
    let generation = 0;
    this.startSlices = () => {
      // Events still in flight from a replaced informer (followPodEndpoints) are dropped.
      const mine = ++generation;
      const current = <T,>(fn: (e: T) => void) => (e: T) => {
        if (mine === generation) fn(e);
      };
      const absorb = current((e: V1EndpointSlice) => this.endpointNodeIndex.absorb(e));
      this.slices = startInformer<V1EndpointSlice>(
        this.kubeConfig,
        '/apis/discovery.k8s.io/v1/endpointslices',
        () => listInPages((page) => discovery.listEndpointSliceForAllNamespaces(page), absorb),
        { trim: absorb, add: current(onSlice(false)), update: current(onSlice(false)), delete: current(onSlice(true)) },
        informerOptions,
      );
    };
    if (this.options.endpointSlices || this.keepPodEndpoints) this.startSlices();
  }

  /**
   * Starts caching EndpointSlices with their Pod endpoints, on the first Service that needs them (a
   * cluster that never targets Pod IPs never holds their addresses). A slice informer already running
   * without them (metal) is started again with them: its trimmed cache cannot give them back.
   */
  followPodEndpoints(): void {
    if (this.keepPodEndpoints) return;
    this.keepPodEndpoints = true;
    if (this.slices) this.previousIndex = this.endpointNodeIndex;
    this.endpointNodeIndex = new EndpointNodeIndex(true);
    if (!this.startSlices) return;
    void this.slices?.stop();
    this.startSlices();
  }

  podEndpoints(namespace: string, serviceName: string): PodEndpoint[] | undefined {
    if (!this.keepPodEndpoints || !this.slices?.synced()) return undefined;
    return this.endpointNodeIndex.podEndpointsOf(namespace, serviceName);
  }

  synced(): boolean {
    return this.serviceInformer.synced() && this.nodeInformer.synced() && (this.slices?.synced() ?? true);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([this.serviceInformer.waitForSync(), this.nodeInformer.waitForSync(), this.slices?.waitForSync()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.serviceInformer?.stop(), this.nodeInformer?.stop(), this.slices?.stop()]);
  }

  service(namespace: string, name: string): V1Service | undefined {
    return this.serviceInformer.cache.get(name, namespace);
  }

  services(): readonly V1Service[] {
    return this.serviceInformer.cache.list();
  }

  nodes(): readonly V1Node[] {
    return this.nodeInformer.cache.list();
  }

  nodesVersion(): number {
    return this.version;
  }

  endpointNodes(namespace: string, serviceName: string): readonly string[] {
    // While a restarted slice informer lists again, the last complete view answers (metal would
    // otherwise see no endpoint nodes and withdraw its announcements for a moment).
    const index = this.previousIndex && !this.slices?.synced() ? this.previousIndex : this.endpointNodeIndex;
    return index.nodesOf(namespace, serviceName);
  }
}
