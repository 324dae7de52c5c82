// The composition root: the whole controller in one process. It wires providers
// (providerSlots.ts), informers and their routing to the queue (controller/routing.ts), the
// workers, leader election, the periodic resync with garbage collection, and the HTTP endpoints.
// The CLI's `controller` and `playground` commands and the end-to-end tests run this; nothing
// under src/controller or src/kube imports it, so those two do not import each other through it.
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Service } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Registry } from 'prom-client';
import type { Provider, ProviderContext } from '../../providers/provider.js';
import { createProviderSlots, type CreateProvider } from './providerSlots.js';
import { routeClusterChanges } from '../controller/routing.js';
import { handleOutcome } from '../controller/outcomes.js';
import { LeaderWork } from './leaderWork.js';
import { serviceKey } from '../../providers/provider.js';
import type { ControllerConfig } from '../config/schema.js';
import { ClusterCache } from '../kube/clusterCache.js';
import { customResourceAccess } from '../kube/customResourceAccess.js';
import { EventRecorder } from '../kube/eventRecorder.js';
import { Reasons } from '../controller/events.js';
import { servedServices } from '../controller/servedServices.js';
import { LeaderElector } from '../kube/leaderElection.js';
import { ServiceWriter } from '../kube/serviceWriter.js';
import { withSharedConnections } from '../kube/sharedConnections.js';
import { startHealthServer, type HealthServer } from '../observability/healthServer.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createControllerMetrics, type ControllerMetrics } from '../observability/metrics.js';
import { collectGarbage, type GarbageHandlers } from '../controller/garbageCollect.js';
import type { ProviderSlot } from '../controller/ports.js';
import { Reconciler, type Outcome } from '../controller/reconcile.js';
import { concernsUs, serviceRefOf, wantedSlot } from '../controller/serviceSelection.js';
import { WorkQueue } from '../controller/workQueue.js';

/** Knobs that are not user configuration: tests and benchmarks turn them. */
export interface ControllerTuning {
  /** Node changes within this window are coalesced into one membership pass (default 500 ms). */
  nodeSyncDelayMs?: number;
  /** Resync period override in ms (config.resyncPeriodSeconds otherwise; 0 disables the timer). */
  resyncPeriodMs?: number;
  /** Upstream-like: a worker waits inline while the cloud is in progress (benchmarks only). */
  blockOnInProgress?: boolean;
  informerRestartMinMs?: number;
  informerRestartMaxMs?: number;
  /** Serve /healthz, /readyz and /metrics on config.metricsAddress (the CLI does). */
  serveHttp?: boolean;
}

export interface RunControllerOptions {
  kubeConfig: KubeConfig;
  config: ControllerConfig;
  logger?: Logger;
  createProvider?: CreateProvider;
  registry?: Registry;
  identity?: string;
  tuning?: ControllerTuning;
}

export interface RunningController {
  stop(): Promise<void>;
  isLeader(): boolean;
  /** Caches synced, providers started, and (when electing) this replica can act. */
  ready(): boolean;
  /** Runs one resync now (enqueue everything ours, garbage-collect orphans); resolves when GC is done. */
  resyncNow(): Promise<number>;
  /** Keys queued, in flight or scheduled. */
  pendingWork(): number;
  identity: string;
  httpUrl?: string;
  providers: ReadonlyArray<{ id: string; provider: Provider }>;
}

// Longer than a screen on purpose: it is the wiring, one step after another; every part it wires
// lives in a module of its own.
export async function runController(options: RunControllerOptions): Promise<RunningController> {
  const { config } = options;
  const kubeConfig = withSharedConnections(options.kubeConfig);
  const tuning = options.tuning ?? {};
  const logger = options.logger ?? createLogger(config.logLevel);
  const identity = options.identity ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const metrics = createControllerMetrics(options.registry);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const events = new EventRecorder(core, { component: 'kube-lb-provisioner', host: identity, logger });
  const writer = new ServiceWriter(core, events);

  const slots = await createProviderSlots(config, logger, metrics.record, metrics.registry, options.createProvider);
  const queue = new WorkQueue({
    backoff: { initialMs: config.backoff.initialSeconds * 1000, maxMs: config.backoff.maxSeconds * 1000, jitter: 0.2 },
    onDepthChange: (d) => metrics.queueDepth.set(d),
  });

  const enqueueAllOurs = () => {
    for (const s of cache.services()) if (concernsUs(s, slots)) queue.add(serviceKey(serviceRefOf(s)));
    for (const key of reconciler.ownedKeys()) queue.add(key);
  };

  // The handlers run only once the cache is started, after `reconciler` exists.
  const routing = routeClusterChanges({
    view: { service: (ns, name) => cache.service(ns, name), services: () => cache.services() },
    slots,
    ownerOf: (key) => reconciler.ownershipOf(key),
    enqueue: (key) => queue.add(key),
    nodeSyncDelayMs: tuning.nodeSyncDelayMs ?? 500,
  });
  const cache: ClusterCache = new ClusterCache(
    kubeConfig,
    routing,
    {
      logger,
      endpointSlices: slots.some((s) => s.provider.capabilities.followsEndpoints),
      ...(tuning.informerRestartMinMs !== undefined ? { informerRestartMinMs: tuning.informerRestartMinMs } : {}),
      ...(tuning.informerRestartMaxMs !== undefined ? { informerRestartMaxMs: tuning.informerRestartMaxMs } : {}),
    },
  );
  const reconciler = new Reconciler({
    view: cache,
    kube: writer,
    slots,
    clusterName: config.clusterName,
    blockOnInProgress: tuning.blockOnInProgress ?? false,
    onNodeSkipped: (node, message) => events.recordOnNode(node, 'Warning', Reasons.NodeWithoutProviderID, message),
  });

  // Providers may warm up from the Services they serve (metal rebuilds its address assignments).
  const context = providerContext({ cache, slots, reconciler, queue, writer, clusterName: config.clusterName, customResources: customResourceAccess(kubeConfig, { logger, events }) });

  const handle = async (key: string) => {
    const [ns = '', name = ''] = key.split('/');
    const svc: V1Service | undefined = cache.service(ns, name);
    const providerLabel = (svc && wantedSlot(svc, slots)?.id) ?? reconciler.ownershipOf(key)?.slotId ?? 'none';
    const end = metrics.reconcileDuration.startTimer({ provider: providerLabel });
    const outcome: Outcome = await reconciler.reconcile(key);
    end();
    handleOutcome(key, providerLabel, outcome, { queue, metrics, logger });
  };

  const resync = async (): Promise<number> => {
    enqueueAllOurs();
    return collectGarbage(cache, slots, garbageHandlers(reconciler, queue, metrics, logger));
  };

  // Each provider starts once; one whose start() fails is retried, on a synced cache.
  const providersStarted = new Set<string>();
  const startProviders = async () => {
    for (const slot of slots) {
      if (providersStarted.has(slot.id)) continue;
      await slot.provider.start?.(context(slot));
      providersStarted.add(slot.id);
    }
  };

  // ---- leading: workers and resync run only on the leader ------------------------------------
  const leading = new LeaderWork({
    logger,
    queue,
    waitForSync: () => cache.waitForSync(),
    // Providers start on a synced cache, so ctx.listServices() sees every Service (metal rebuilds
    // its assignments from their status before allocating anything).
    startUp: [
      { what: 'starting the providers', run: startProviders },
      { what: 'listing owned load balancers', run: () => reconciler.seedOwnership() },
    ],
    enqueueAll: enqueueAllOurs,
    resync,
    resyncPeriodMs: tuning.resyncPeriodMs ?? config.resyncPeriodSeconds * 1000,
    workers: config.workers,
    handle,
  });
  const startWorking = () => leading.start();
  const stopWorking = () => leading.stop();
  let stopping = false;

  const elector = config.leaderElection.enabled
    ? leaderElector(kubeConfig, config.leaderElection, identity, logger, {
        onStartedLeading: () => {
          metrics.leader.set(1);
          void startWorking();
        },
        onStoppedLeading: async () => {
          metrics.leader.set(0);
          await stopWorking();
        },
      })
    : undefined;

  cache.start();
  if (elector) elector.start();
  else void startWorking();

  let http: HealthServer | undefined;
  const ready = () => cache.synced() && (!elector || elector.isLeader() ? leading.started : true);
  if (tuning.serveHttp) http = await startHealthServer(config.metricsAddress, metrics.registry, ready);

  logger.info({ identity, providers: slots.map((s) => ({ id: s.id, class: s.loadBalancerClass ?? null, default: s.default })) }, 'controller started');

  const running: RunningController = {
    identity,
    providers: slots.map((s) => ({ id: s.id, provider: s.provider })),
    isLeader: () => (elector ? elector.isLeader() : true),
    ready,
    pendingWork: () => queue.pending,
    resyncNow: () => resync(),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      leading.close();
      routing.cancel();
      if (elector) await elector.stop(stopWorking);
      await stopWorking();
      metrics.leader.set(0);
      await cache.stop();
      await events.flush();
      for (const slot of slots) await slot.provider.stop?.();
      await http?.close();
      logger.info({ identity }, 'controller stopped');
    },
  };
  if (http) running.httpUrl = http.url;
  return running;
}

/** What a provider gets from the controller: the Services it serves, requeues, Events, its custom resources. */
function providerContext(deps: {
  cache: ClusterCache;
  slots: readonly ProviderSlot[];
  reconciler: Reconciler;
  queue: WorkQueue;
  writer: ServiceWriter;
  clusterName: string;
  customResources: NonNullable<ProviderContext['customResources']>;
}): (slot: ProviderSlot) => ProviderContext {
  const { cache, slots, reconciler, queue, writer, clusterName } = deps;
  return (slot) => ({
    customResources: deps.customResources,
    listServices: () => servedServices(cache, slots, slot, { clusterName, targets: reconciler.targetsFor(slot) }),
    requeue: (ref) => queue.add(serviceKey(ref)),
    emit: (event) => {
      const s = cache.service(event.ref.namespace, event.ref.name);
      if (s) writer.event(s, event.type, event.reason, event.message);
    },
  });
}

/** The resync's garbage collection, told to the reconciler's records, the queue, metrics and logs. */
function garbageHandlers(reconciler: Reconciler, queue: WorkQueue, metrics: ControllerMetrics, logger: Logger): GarbageHandlers {
  return {
    onDeleted: (orphan) => {
      metrics.garbageCollected.inc({ provider: orphan.slotId });
      reconciler.forgetOwnership(serviceKey(orphan.ref), orphan.ref.uid);
      logger.info({ service: serviceKey(orphan.ref), uid: orphan.ref.uid, provider: orphan.slotId }, 'deleted orphaned load balancer');
    },
    onError: (orphan, error) => logger.warn({ service: orphan ? serviceKey(orphan.ref) : undefined, err: String(error) }, 'garbage collection failed'),
    onAwaitingCleanup: (owned) => {
      reconciler.recordOwnership(owned.ref, owned.slotId);
      queue.add(serviceKey(owned.ref));
    },
  };
}

function leaderElector(
  kubeConfig: KubeConfig,
  le: ControllerConfig['leaderElection'],
  identity: string,
  logger: Logger,
  callbacks: { onStartedLeading: () => void; onStoppedLeading: () => Promise<void> },
): LeaderElector {
  return new LeaderElector({
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: le.namespace,
    name: le.leaseName,
    identity,
    leaseDurationMs: le.leaseDurationSeconds * 1000,
    renewDeadlineMs: le.renewDeadlineSeconds * 1000,
    retryPeriodMs: le.retryPeriodSeconds * 1000,
    logger,
    ...callbacks,
  });
}
