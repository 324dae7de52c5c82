// The playground's nodes, kept in step with the cluster: a kubelet stand-in gives each Node without
// an InternalIP (one added with kubectl) its own loopback address and Ready=True; the endpoints
// stand-in keeps each Service's EndpointSlice; and every up node listens on its sockets
// (nodeSockets.ts). Deleting a Node closes its sockets. Everything re-syncs on any watched change.
import { CoreV1Api, DiscoveryV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1EndpointSlice, type V1Node, type V1Service } from '@kubernetes/client-node';
import { startInformer, type RunningInformer } from '../../kube/informers.js';
import type { Logger } from '../../observability/logger.js';
import { Speaker } from '../../speaker/speaker.js';
import { LoopbackSegment } from './loopbackAnnouncer.js';
import { internalIP, nodeModel, wantedSockets } from './nodeModel.js';
import { NodeSockets } from './nodeSockets.js';
import { MANAGED_BY, placeEndpoints, sameSlice, simulatedSlice } from './simulatedEndpoints.js';

/** The loopback range playground nodes get addresses from: 127.1.0.1, 127.1.0.2, ... (127.2.0.1, ... for instance 1). */
export const nodeAddress = (i: number, instance = 0) => `127.${1 + instance}.${Math.floor(i / 254)}.${(i % 254) + 1}`;

export class PlaygroundNodes {
  readonly sockets: NodeSockets;
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly nodes: RunningInformer<V1Node>;
  private readonly services: RunningInformer<V1Service>;
  private readonly slices: RunningInformer<V1EndpointSlice>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Errors already logged, so a repeating one is logged once. */
  private readonly reported = new Set<string>();
  /** Metal: the load-balancer addresses the speakers hold, and one speaker per node. */
  readonly vips: LoopbackSegment | undefined;
  private readonly speakers = new Map<string, Speaker>();

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly logger: Logger,
    private readonly options: { metalSpeakers?: boolean; instance?: number } = {},
  ) {
    if (options.metalSpeakers) this.vips = new LoopbackSegment(() => this.schedule());
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    this.sockets = new NodeSockets((m) => this.warnOnce(m));
    const changed = { add: () => this.schedule(), update: () => this.schedule(), delete: () => this.schedule() };
    const informerOptions = { logger };
    this.nodes = startInformer<V1Node>(kubeConfig, '/api/v1/nodes', () => this.core.listNode(), changed, informerOptions);
    this.services = startInformer<V1Service>(kubeConfig, '/api/v1/services', () => this.core.listServiceForAllNamespaces(), changed, informerOptions);
    this.slices = startInformer<V1EndpointSlice>(kubeConfig, '/apis/discovery.k8s.io/v1/endpointslices', () => this.discovery.listEndpointSliceForAllNamespaces(), changed, informerOptions);
  }

  async waitForSync(): Promise<void> {
    await Promise.all([this.nodes.waitForSync(), this.services.waitForSync(), this.slices.waitForSync()]);
    this.schedule();
    await this.settled();
  }

  /** Resolves when the last scheduled sync has run. */
  async settled(): Promise<void> {
    while (this.timer) await new Promise((r) => setTimeout(r, 5));
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await Promise.all([...this.speakers.values()].map((s) => s.stop(true)));
    await Promise.all([this.nodes.stop(), this.services.stop(), this.slices.stop()]);
    await this.sockets.stop();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.running.then(() => this.sync()).catch((error: unknown) => this.warnOnce(`playground nodes: ${String(error)}`));
    }, 10);
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const nodes = this.nodes.cache.list();
    await this.giveAddresses(nodes);
    const services = this.services.cache.list();
    const model = nodeModel(nodes, services, this.slices.cache.list());
    if (this.vips) await this.keepSpeakers(this.vips, nodes.map((n) => n.metadata?.name ?? ''), new Set(model.nodes.keys()));
    await this.sockets.sync(model, wantedSockets(model, this.vips?.holders()));
    await this.keepSlices(services, [...model.nodes.keys()]);
  }

  /** The kubelet's part: an address and a Ready condition for Nodes that have none. */
  private async giveAddresses(nodes: readonly V1Node[]): Promise<void> {
    const taken = new Set(nodes.map(internalIP).filter((ip) => ip !== undefined));
    let i = 0;
    for (const node of nodes) {
      if (internalIP(node) !== undefined || node.metadata?.deletionTimestamp) continue;
      while (taken.has(nodeAddress(i, this.options.instance))) i++;
      const ip = nodeAddress(i, this.options.instance);
      taken.add(ip);
      const name = node.metadata?.name ?? '';
      const conditions = node.status?.conditions ?? [];
      const ready = conditions.some((c) => c.type === 'Ready')
        ? conditions
        : [...conditions, { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'playground node', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }];
      await this.core.patchNodeStatus(
        { name, body: { status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }], conditions: ready } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      this.logger.info({ node: name, ip }, 'playground node given a loopback address');
    }
  }

  /** The endpoints' part: one EndpointSlice per Service with a selector, none for the others. */
  private async keepSlices(services: readonly V1Service[], upNodes: string[]): Promise<void> {
    const order = [...upNodes].sort();
    const index = (node: string) => order.indexOf(node) + 1;
    const wanted = new Map<string, V1EndpointSlice>();
    for (const service of services) {
      const placed = placeEndpoints(service, upNodes);
      if ('error' in placed) {
        this.warnOnce(`${service.metadata?.namespace}/${service.metadata?.name}: ${placed.error}`);
        continue;
      }
      const slice = simulatedSlice(service, placed, index);
      if (slice) wanted.set(`${slice.metadata?.namespace}/${slice.metadata?.name}`, slice);
    }
    const ours = this.slices.cache.list().filter((s) => s.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'] === MANAGED_BY);
    for (const have of ours) {
      const key = `${have.metadata?.namespace}/${have.metadata?.name}`;
      const want = wanted.get(key);
      wanted.delete(key);
      const ref = { name: have.metadata?.name ?? '', namespace: have.metadata?.namespace ?? '' };
      if (!want) await this.discovery.deleteNamespacedEndpointSlice(ref).catch(() => {});
      else if (!sameSlice(have, want)) {
        const body = { ...want, metadata: { ...want.metadata, resourceVersion: have.metadata?.resourceVersion ?? '' } };
        // A conflict means our cache is behind; the watch event that follows schedules another pass.
        await this.discovery.replaceNamespacedEndpointSlice({ ...ref, body }).catch((error: unknown) => {
          if ((error as { code?: number }).code !== 409) throw error;
        });
      }
    }
    for (const slice of wanted.values()) {
      await this.discovery.createNamespacedEndpointSlice({ namespace: slice.metadata?.namespace ?? 'default', body: slice }).catch((error: unknown) => {
        if ((error as { code?: number }).code !== 409) throw error;
      });
    }
  }

  /**
   * One real speaker per up Node, announcing on the loopback segment. A deleted Node's speaker
   * stops and withdraws; a Node gone NotReady is a killed one: its speaker dies without a word and
   * the others take over once its Lease lapses (it comes back with the Node).
   */
  private async keepSpeakers(segment: LoopbackSegment, nodes: readonly string[], up: ReadonlySet<string>): Promise<void> {
    for (const [node, speaker] of this.speakers) {
      if (up.has(node)) continue;
      this.speakers.delete(node);
      const deleted = !nodes.includes(node);
      await speaker.stop(deleted);
      if (deleted) segment.forget(node);
    }
    for (const node of up) {
      if (this.speakers.has(node)) continue;
      const speaker = new Speaker({
        kubeConfig: this.kubeConfig,
        nodeName: node,
        namespace: 'default',
        effects: segment.effectsFor(node),
        logger: this.logger.child({ speaker: node }),
        renewIntervalMs: 1_000,
        lapseMs: 3_000,
      });
      this.speakers.set(node, speaker);
      void speaker.start().catch((error: unknown) => this.warnOnce(`speaker on ${node}: ${String(error)}`));
    }
  }

  private warnOnce(message: string): void {
    if (this.reported.has(message)) return;
    this.reported.add(message);
    this.logger.warn(message);
  }
}
