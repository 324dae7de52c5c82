// The speaker on one node: keeps this node's Lease alive, watches Leases, Nodes and Services (never
// EndpointSlices: for Local Services the controller publishes the nodes with a ready endpoint on
// the Service, so an endpoint change costs the speakers one Service event, only when that set
// changes), computes who owns each address (announcementOwnership.ts, pure) and converges the
// interface (announcer.ts, effects injected). The owner reports itself on the Service (annotation
// and Event) so "where is my IP" has an answer.
//
// Liveness: the speakers probe each other over UDP (livenessProtocol.ts, livenessTransport.ts) and
// a dead one is known to all within about a quarter of a second, without the API server. The
// Lease (renewed every `renewIntervalMs`, 10 s by default, as kubelet's) is the fallback for the
// speakers the probes say nothing about; it counts as lapsed `lapseMs` after the last renewal
// this speaker SAW (its own clock, so clock skew between nodes does not matter). SIGTERM hands
// over: the others take the addresses and acknowledge before this speaker withdraws (stop()).
// Without liveness (port 0), Leases alone decide, as before: a speaker that cannot renew its own
// Lease keeps what it holds rather than withdrawing everything (see evaluate()).
//
// A speaker that cannot announce (its interface is missing or down, or no route leads towards an
// address: announceInterface.ts) takes no part in ownership: it releases its addresses, deletes
// its Lease and stops renewing it, so the others take its addresses over at once, and /readyz
// answers 503. Every speaker version understands a missing Lease. It checks again on every refresh
// and rejoins (renews) as soon as it can announce.
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type KubernetesObject,
  type V1Lease,
  type V1Node,
  type V1Service,
} from '@kubernetes/client-node';
import { ANNOUNCING_NODE_ANNOTATION, endpointNodesOf } from '../controller/ourAnnotations.js';
import { EventRecorder } from '../kube/eventRecorder.js';
import { listInPages, startInformer, type InformerHandlers, type RunningInformer } from '../kube/informers.js';
import { trimNode, trimServiceForSpeaker } from '../kube/objectTrimming.js';
import { loadBalancerServiceSelector } from '../kube/serviceTypeSelector.js';
import { wantedSlot, type SlotSelector } from '../controller/serviceSelection.js';
import type { Logger } from '../observability/logger.js';
import type { SpeakerMetrics } from '../observability/speakerMetrics.js';
import { addressOwners, nextLapseMs, nodeState, type AddressOwner, type AnnouncedService, type NodeState, type SpeakerLease } from './announcementOwnership.js';
import { Announcer } from './announcer.js';
import { countedNetEffects } from './countedNetEffects.js';
import type { NetEffects } from './netEffects.js';
import type { AnnounceReadiness } from './announceInterface.js';
import { RenewalObserver } from './renewalObserver.js';
import { DEFAULT_LIVENESS_TIMING, LivenessProtocol, type LivenessOutput, type LivenessTiming } from './livenessProtocol.js';
import { LivenessTransport } from './livenessTransport.js';
import type { SpeakerBgp } from './bgp/speakerBgp.js';
import { l2Placement, type L2Placement } from './l2Placement.js';
import type { MetallbView } from './metallbWatch.js';
import { bgpStatusBodies, l2StatusBodies } from './serviceStatusObjects.js';
import type { StatusObjectWriter } from './statusObjectWriter.js';

export { ANNOUNCING_NODE_ANNOTATION };
export const SPEAKER_LEASE_LABEL = 'kube-lb-provisioner.io/speaker';
export const EVENT_REASON_NODE_ASSIGNED = 'nodeAssigned';
const DEFAULT_HANDOVER_TIMEOUT_MS = 5_000;

export interface SpeakerOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  /** Namespace of the speakers' Leases (the speaker's own namespace). */
  namespace: string;
  /** Told of every watch event the speaker receives, by informer (benchmarks count them). */
  onWatchEvent?: (informer: string) => void;
  /** Serve Services of this spec.loadBalancerClass; undefined: Services without a class. */
  loadBalancerClass?: string;
  /** With a class: also serve Services without one (the metal provider is the default). */
  serveClassless?: boolean;
  effects: NetEffects;
  logger: Logger;
  renewIntervalMs?: number;
  lapseMs?: number;
  /** How often addresses are re-converged (and their lifetime refreshed) without any change. */
  refreshIntervalMs?: number;
  /** Where to count what the speaker does (src/observability/speakerMetrics.ts); none: not counted. */
  metrics?: SpeakerMetrics;
  /** /healthz turns 503 when no evaluation pass finished for this long (default 30 s). */
  stallMs?: number;
  /**
   * Liveness from the speakers themselves (UDP probes, livenessProtocol.ts); the Lease is then
   * only the fallback. Undefined: Leases alone, as before.
   */
  liveness?: { port: number; key: Buffer; timing?: Partial<LivenessTiming> };
  /**
   * SIGTERM: how long to wait for the others to take over before withdrawing (default 5 s). The
   * acks usually come within a probe interval; the margin is for a new owner on a loaded node,
   * where withdrawing early leaves the address unanswered until it announces.
   */
  handoverTimeoutMs?: number;
  /** BGP mode (src/speaker/bgp): told of every evaluation. */
  bgp?: SpeakerBgp;
  /**
   * MetalLB's resources, read live: L2 announces an address only as its L2Advertisements say
   * (l2Placement.ts). Absent: every address from every node (no MetalLB resources).
   */
  metallb?: MetallbView;
  /** Where this node's ServiceL2Status and ServiceBGPStatus objects are written; none: not written. */
  statusObjects?: StatusObjectWriter;
}


export function speakerLeaseName(node: string): string {
  return `speaker-${node}`;
}

function errorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export class Speaker {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  /** nodeAssigned Events, written as the controller writes its own (repeats aggregated, best effort). */
  private readonly events: EventRecorder;
  private readonly renewIntervalMs: number;
  private readonly lapseMs: number;
  private readonly refreshIntervalMs: number;
  private readonly announcer: Announcer;
  private informers: { leases: RunningInformer<V1Lease>; nodes: RunningInformer<V1Node>; services: RunningInformer<V1Service> } | undefined;
  private readonly renewals = new RenewalObserver();
  private lastOwnRenewal = 0;
  private leaseResourceVersion: string | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lapseTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private converging: Promise<void> | undefined;
  private dirty = false;
  /** service key -> node last reported by this speaker */
  private readonly reported = new Map<string, string>();
  private reporting: Promise<void> | undefined;
  private lastWanted = '';
  private apiUnreachableSince: number | undefined;
  private resumeAt: number | undefined;
  private renewFailing = false;
  private renewInFlightSince: number | undefined;
  private lastConverge = 0;
  private pendingReport: AddressOwner[] | undefined;
  private synced = false;
  /**
   * Set once the first renewal was tried. Before that our own Lease reads as lapsed, so an
   * evaluation would count this node dead and delete the status objects its predecessor wrote.
   */
  private joined = false;
  private lastEvaluated = 0;
  private readonly effects: NetEffects;
  /** Why this node cannot announce now; undefined: it can. It then holds no Lease, no address. */
  private cannotAnnounce: string | undefined;
  private lastAnnounceCheck = 0;
  private lastCheckedAddresses: string | undefined;
  private readonly renewalsInFlight = new Set<Promise<void>>();
  private liveness: LivenessTransport | undefined;
  private lastPeers = '';
  /** address -> interface, from the last readiness check that could announce */
  private interfaces = new Map<string, string>();
  /** Owners from the last evaluation, for tests and logs. */
  owners: AddressOwner[] = [];
  /** The class this speaker serves, as the controller's own selection sees a provider slot. */
  private readonly slots: SlotSelector[];

  constructor(private readonly options: SpeakerOptions) {
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.coordination = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.events = new EventRecorder(this.core, { component: 'kube-lb-provisioner-speaker', reportingComponent: 'kube-lb-provisioner.io/speaker', host: options.nodeName, logger: options.logger });
    this.renewIntervalMs = options.renewIntervalMs ?? 1000;
    this.lapseMs = options.lapseMs ?? 1500;
    this.refreshIntervalMs = options.refreshIntervalMs ?? 500;
    if (this.lapseMs <= this.renewIntervalMs) throw new Error(`lapse (${this.lapseMs} ms) must exceed the renew interval (${this.renewIntervalMs} ms)`);
    const slot: SlotSelector = { id: 'speaker', default: options.loadBalancerClass === undefined || options.serveClassless === true };
    if (options.loadBalancerClass !== undefined) slot.loadBalancerClass = options.loadBalancerClass;
    this.slots = [slot];
    this.effects = options.metrics ? countedNetEffects(options.effects, options.metrics) : options.effects;
    this.announcer = new Announcer(this.effects, options.logger);
  }

  async start(): Promise<void> {
    const kc = this.options.kubeConfig;
    const ns = this.options.namespace;
    // Every change is counted and evaluated; Nodes and Services are trimmed in place first (see
    // objectTrimming.ts): Nodes carry kilobytes of images and conditions, every object its
    // managedFields. A failed watch restarts with backoff (startInformer), as the controller's do.
    const handlers = <T extends KubernetesObject>(name: string, trim?: (obj: T) => void): InformerHandlers<T> => {
      const changed = () => {
        this.options.onWatchEvent?.(name);
        // BGP needs no ownership decision: a new address goes to FRR now, not after an evaluation
        // pass that may be busy with the interfaces (hundreds of ms on a loaded node).
        if (name !== 'leases' && this.synced && !this.stopped) this.updateBgp();
        this.evaluateSoon();
      };
      return { ...(trim ? { trim } : {}), add: changed, update: changed, delete: changed };
    };
    const logger = this.options.logger;
    // Only LoadBalancer Services matter here: on servers that can filter by type (1.31+), no other
    // Service reaches this node at all; a Service whose type changes away arrives as a deletion.
    const fieldSelector = await loadBalancerServiceSelector(this.core);
    logger.info({ fieldSelector: fieldSelector ?? null }, fieldSelector ? 'speaker: watching LoadBalancer Services only' : 'speaker: the API server cannot select Services by type (before 1.31); watching all Services');
    this.informers = {
      leases: startInformer<V1Lease>(kc, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, () => this.coordination.listNamespacedLease({ namespace: ns, labelSelector: SPEAKER_LEASE_LABEL }), handlers('leases'), {
        logger,
        labelSelector: SPEAKER_LEASE_LABEL,
      }),
      nodes: startInformer<V1Node>(kc, '/api/v1/nodes', () => listInPages((page) => this.core.listNode(page), trimNode), handlers('nodes', trimNode), { logger }),
      services: startInformer<V1Service>(kc, '/api/v1/services', () => listInPages((page) => this.core.listServiceForAllNamespaces({ ...page, ...(fieldSelector ? { fieldSelector } : {}) }), trimServiceForSpeaker), handlers('services', trimServiceForSpeaker), {
        logger,
        ...(fieldSelector ? { fieldSelector } : {}),
      }),
    };
    await Promise.all(Object.values(this.informers).map((i: RunningInformer<KubernetesObject>) => i.waitForSync()));
    this.options.metallb?.onChange(() => this.evaluateSoon());
    // The stall clock starts now: /healthz must not read the start-up below (announce check, Lease,
    // first pass, liveness probes) as a loop that stopped finishing passes.
    this.lastEvaluated = Date.now();
    this.synced = true;
    // Before the first renewal: a node that cannot announce never shows up as a live speaker.
    await this.checkAnnounce(Date.now());
    await this.renew();
    this.joined = true;
    // Make before break: take what this node owns (as the Leases tell) before the others hear it
    // is back and let go, or a restarted speaker leaves its addresses unanswered for a moment.
    if (this.options.liveness && this.cannotAnnounce === undefined) {
      this.evaluateSoon();
      await this.converging;
    }
    await this.startLiveness();
    this.lastEvaluated = Date.now();
    this.timers.push(setInterval(() => void this.renew(), this.renewIntervalMs));
    this.timers.push(setInterval(() => this.evaluateSoon(), this.refreshIntervalMs));
    this.evaluateSoon();
    this.options.logger.info({ node: this.options.nodeName, renewIntervalMs: this.renewIntervalMs, lapseMs: this.lapseMs }, 'speaker: started');
  }

  /**
   * Stops. `release` (graceful shutdown): remove every address and delete the Lease, so another
   * node takes over at once instead of after the lapse.
   */
  async stop(release = true): Promise<void> {
    if (release && this.liveness && !this.stopped && this.announcer.held().length > 0) {
      // Hand over first: the others take our addresses and acknowledge once they announce them;
      // only then do we withdraw, so some node answers at every moment.
      const pending = await this.liveness.leave(this.options.handoverTimeoutMs ?? DEFAULT_HANDOVER_TIMEOUT_MS);
      if (pending.length > 0) this.options.logger.warn({ pending }, 'speaker: not every speaker acknowledged the handover in time');
    } else if (this.liveness && !this.stopped) {
      await this.liveness.leave(Math.min(300, this.options.handoverTimeoutMs ?? DEFAULT_HANDOVER_TIMEOUT_MS));
    }
    this.stopped = true;
    this.liveness?.stop();
    for (const t of this.timers) clearInterval(t);
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    await Promise.all(Object.values(this.informers ?? {}).map((i: RunningInformer<KubernetesObject>) => i.stop().catch(() => undefined)));
    await this.converging;
    await this.reporting;
    await this.events.flush();
    if (!release) return this.options.statusObjects?.stop(false);
    await this.announcer.releaseAll();
    this.options.metrics?.announcedAddresses.set(0);
    await this.options.statusObjects?.stop(true);
    await this.deleteOwnLease();
  }

  private async deleteOwnLease(): Promise<void> {
    await this.coordination.deleteNamespacedLease({ name: speakerLeaseName(this.options.nodeName), namespace: this.options.namespace }).catch((error: unknown) => {
      if (errorCode(error) !== 404) this.options.logger.warn({ err: error }, 'speaker: could not delete its Lease');
    });
  }

  /**
   * /readyz: the caches are synced, this node can announce (its interface is there and up), and
   * its own Lease was renewed within the lapse.
   */
  ready(): boolean {
    return this.synced && !this.stopped && this.cannotAnnounce === undefined && this.lastOwnRenewal > 0 && Date.now() - this.lastOwnRenewal < this.lapseMs;
  }

  /** /healthz: the evaluation loop still finishes passes (it runs every refreshIntervalMs). */
  live(): boolean {
    return !this.synced || this.stopped || Date.now() - this.lastEvaluated < (this.options.stallMs ?? 30_000);
  }

  /** Addresses this node holds now. */
  held(): string[] {
    return this.announcer.held();
  }

  private async renew(): Promise<void> {
    // A speaker that cannot announce holds no Lease (see checkAnnounce).
    if (this.stopped || this.cannotAnnounce !== undefined) return;
    const renewal = this.renewOnce();
    this.renewalsInFlight.add(renewal);
    try {
      await renewal;
    } finally {
      this.renewalsInFlight.delete(renewal);
    }
  }

  private async renewOnce(): Promise<void> {
    const { nodeName, namespace } = this.options;
    const name = speakerLeaseName(nodeName);
    const now = new Date();
    this.renewInFlightSince ??= now.getTime();
    this.options.logger.trace('speaker: renewing its Lease');
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace, labels: { [SPEAKER_LEASE_LABEL]: 'true' }, resourceVersion: this.leaseResourceVersion },
      spec: { holderIdentity: nodeName, leaseDurationSeconds: Math.ceil(this.lapseMs / 1000), renewTime: new V1MicroTime(now.getTime()) },
    };
    try {
      let saved: V1Lease;
      try {
        saved = this.leaseResourceVersion
          ? await this.coordination.replaceNamespacedLease({ name, namespace, body })
          : await this.coordination.createNamespacedLease({ namespace, body });
      } catch (error) {
        // Someone else wrote it (or it exists from a previous run): take the current version and retry once.
        if (errorCode(error) !== 409 && errorCode(error) !== 404) throw error;
        if (errorCode(error) === 404) {
          body.metadata!.resourceVersion = undefined;
          saved = await this.coordination.createNamespacedLease({ namespace, body });
        } else {
          const current = await this.coordination.readNamespacedLease({ name, namespace });
          body.metadata!.resourceVersion = current.metadata?.resourceVersion;
          saved = await this.coordination.replaceNamespacedLease({ name, namespace, body });
        }
      }
      this.leaseResourceVersion = saved.metadata?.resourceVersion;
      this.lastOwnRenewal = Date.now();
      this.renewFailing = false;
      this.renewInFlightSince = undefined;
      const tookMs = this.lastOwnRenewal - now.getTime();
      if (tookMs > this.lapseMs - this.renewIntervalMs) this.options.logger.warn({ tookMs }, 'speaker: slow Lease renewal; others may briefly count this node dead');
      else this.options.logger.debug({ tookMs }, 'speaker: Lease renewed');
    } catch (error) {
      this.leaseResourceVersion = undefined;
      this.renewFailing = true;
      this.renewInFlightSince = undefined;
      this.options.metrics?.leaseRenewFailures.inc();
      this.options.logger.warn({ err: error }, 'speaker: cannot renew its Lease');
      this.evaluateSoon();
    }
  }

  private evaluateSoon(): void {
    if (this.stopped || !this.joined) return;
    this.dirty = true;
    if (this.converging) return;
    this.converging = (async () => {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        const pass = this.liveness?.beginPass();
        await this.evaluate().catch((error: unknown) => this.options.logger.error({ err: error }, 'speaker: evaluation failed'));
        if (pass !== undefined) this.liveness?.endPass(pass);
        this.lastEvaluated = Date.now();
        this.options.metrics?.announcedAddresses.set(this.announcer.held().length);
      }
    })().finally(() => {
      this.converging = undefined;
    });
  }

  private leaseView(now: number): SpeakerLease[] {
    const leases = this.renewals.observe(
      this.informers!.leases.cache.list(this.options.namespace).flatMap((l) => (l.spec?.holderIdentity ? [{ node: l.spec.holderIdentity, renewTime: l.spec.renewTime }] : [])),
      now,
    );
    // Our own liveness is what we know of our renewals, not what the watch echoed back.
    const own = leases.find((l) => l.node === this.options.nodeName);
    if (own) own.renewTimeMs = this.lastOwnRenewal;
    return leases;
  }

  private nodeView(): NodeState[] {
    return this.informers!.nodes.cache.list().map(nodeState);
  }

  /** Where L2 may announce what, by the L2Advertisements as they are now. */
  private placement(): L2Placement | undefined {
    const metallb = this.options.metallb;
    if (!metallb) return undefined;
    const labels = new Map(this.informers!.nodes.cache.list().map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
    return l2Placement(metallb.current(), (node) => labels.get(node) ?? {});
  }

  /** The Services L2 announces: the served addresses some L2Advertisement covers. */
  private serviceView(placement = this.placement()): AnnouncedService[] {
    const all = this.allServices();
    if (!placement) return all;
    return all.map((s) => ({ ...s, ips: s.ips.filter((ip) => placement.announced(ip)) })).filter((s) => s.ips.length > 0);
  }

  /** Served Services with addresses. Local ones carry the endpoint nodes the controller publishes. */
  private allServices(): AnnouncedService[] {
    const out: AnnouncedService[] = [];
    for (const svc of this.informers!.services.cache.list()) {
      if (!wantedSlot(svc, this.slots) || !svc.spec) continue;
      const ips = (svc.status?.loadBalancer?.ingress ?? []).filter((i) => i.ip && i.ipMode !== 'Proxy').map((i) => i.ip!);
      if (ips.length === 0) continue;
      const key = `${svc.metadata?.namespace}/${svc.metadata?.name}`;
      const local = svc.spec.externalTrafficPolicy === 'Local';
      out.push({ key, ips, trafficPolicy: local ? 'Local' : 'Cluster', endpointNodes: local ? endpointNodesOf(svc.metadata?.annotations) : [] });
    }
    return out;
  }

  /** Whether this speaker can reach the API server, judged by its own Lease renewals. */
  private apiReachable(now: number): boolean {
    if (this.renewFailing) return false;
    if (this.renewInFlightSince !== undefined && now - this.renewInFlightSince > this.lapseMs - this.renewIntervalMs) return false;
    return !(this.lastOwnRenewal > 0 && now - this.lastOwnRenewal >= this.lapseMs);
  }

  /**
   * Cut off from the API server: in an API outage nobody can renew, so every speaker would soon
   * count every Lease dead. Keep what we hold and keep it fresh rather than black out every
   * address. The price: a node cut off from the API alone keeps its addresses while another takes
   * them over, until it can renew again.
   */
  private async holdStill(now: number, why: string): Promise<void> {
    if (!this.apiUnreachableSince) {
      this.apiUnreachableSince = now;
      this.options.logger.warn({ held: this.announcer.held(), why }, 'speaker: keeping the addresses it holds until it can renew its Lease');
    }
    if (now - this.lastConverge >= this.refreshIntervalMs * 0.8) {
      await this.announcer.converge(this.announcer.held());
      this.lastConverge = now;
    }
  }

  /**
   * Asks the host whether every served address can be announced (on refresh, or when the set of
   * addresses changed). Leaves ownership when it cannot, rejoins when it can again.
   */
  private async checkAnnounce(now: number): Promise<void> {
    const placement = this.placement();
    // Only what this node may announce: an address its L2Advertisements keep from it needs no route here.
    const own = this.options.nodeName;
    const addresses = [...new Set(this.serviceView(placement).flatMap((s) => s.ips))].filter((ip) => placement?.mayAnnounce(ip, own) ?? true).sort();
    const allowed = new Map<string, string[]>();
    for (const ip of addresses) {
      const only = placement?.interfaces(ip, own);
      if (only) allowed.set(ip, only);
    }
    const key = `${addresses.join(',')} ${JSON.stringify([...allowed])}`;
    if (key === this.lastCheckedAddresses && now - this.lastAnnounceCheck < this.refreshIntervalMs * 0.8) return;
    this.lastCheckedAddresses = key;
    this.lastAnnounceCheck = now;
    let answer: AnnounceReadiness;
    try {
      answer = await this.effects.readiness(addresses, allowed.size > 0 ? allowed : undefined);
    } catch (error) {
      answer = { ready: false, reason: `cannot read the node's interfaces and routes: ${(error as Error).message}` };
    }
    if (answer.ready) this.interfaces = answer.interfaces;
    const reason = answer.ready ? undefined : answer.reason;
    this.options.metrics?.canAnnounce.set(reason === undefined ? 1 : 0);
    if (reason === this.cannotAnnounce) return;
    const was = this.cannotAnnounce;
    this.cannotAnnounce = reason;
    if (reason !== undefined) {
      this.options.logger.error({ node: this.options.nodeName, reason }, 'speaker: cannot announce; not ready, leaving its addresses to other nodes');
      await this.leaveOwnership();
    } else if (was !== undefined) {
      this.options.logger.info({ node: this.options.nodeName, was }, 'speaker: can announce again; rejoining');
      await this.renew();
    }
  }

  /** Withdraws every address and the Lease, so the others stop counting this node at once. */
  private async leaveOwnership(): Promise<void> {
    // A renewal already on its way would otherwise recreate the Lease after the delete.
    await Promise.all([...this.renewalsInFlight]);
    this.lastOwnRenewal = 0;
    this.leaseResourceVersion = undefined;
    this.renewFailing = false;
    this.apiUnreachableSince = undefined;
    this.resumeAt = undefined;
    this.owners = [];
    await this.releaseHeld(true);
    await this.deleteOwnLease();
  }

  /** Takes every address off (`all`: also marked leftovers this speaker does not know of). */
  private async releaseHeld(all = false): Promise<void> {
    if (!all && this.announcer.held().length === 0) return;
    const { removed } = await this.announcer.converge([]);
    this.options.statusObjects?.set('ServiceL2Status', new Map());
    this.lastWanted = '';
    this.options.metrics?.ownershipChanges.inc({ change: 'removed' }, removed.length);
    if (removed.length > 0) this.options.logger.info({ node: this.options.nodeName, removed }, 'speaker: addresses changed');
  }

  private async evaluate(): Promise<void> {
    const now = Date.now();
    this.updatePeers();
    // Only with every cache synced: a partial view would withdraw live routes after a restart.
    if (this.synced) this.updateBgp();
    await this.checkAnnounce(now);
    if (this.cannotAnnounce !== undefined) return this.releaseHeld();
    const direct = this.liveness?.verdicts();
    // With the direct path, a failing API does not freeze ownership: the probes still say who
    // lives, and Leases are read as of our last good renewal (see leaseClock). Without it (or
    // while this speaker hears no one) we hold still as before.
    if (!this.apiReachable(now) && (direct === undefined || direct.size === 0)) return this.holdStill(now, 'Lease renewal failing');
    if (this.apiUnreachableSince) {
      // Back in touch: let every watch resync and every speaker renew once before deciding
      // anything, or stale views of the others' Leases would move addresses for nothing.
      this.resumeAt = now + this.lapseMs;
      this.options.logger.info({ afterMs: now - this.apiUnreachableSince }, 'speaker: Lease renewed again; deciding ownership after a grace period');
      this.apiUnreachableSince = undefined;
    }
    if (this.resumeAt !== undefined) {
      if (now < this.resumeAt) {
        if (now - this.lastConverge >= this.refreshIntervalMs * 0.8) {
          await this.announcer.converge(this.announcer.held());
          this.lastConverge = now;
        }
        this.lapseTimerAt(this.resumeAt);
        return;
      }
      this.resumeAt = undefined;
    }
    const leases = this.leaseView(now);
    const placement = this.placement();
    this.owners = addressOwners({
      leases,
      nodes: this.nodeView(),
      services: this.serviceView(placement),
      nowMs: this.leaseClock(now),
      lapseMs: this.lapseMs,
      direct,
      ...(placement ? { mayAnnounce: placement.mayAnnounce } : {}),
    });
    const mine = this.owners.filter((o) => o.node === this.options.nodeName);
    // Touch the interface only when ownership changed or the periodic refresh is due: Lease
    // renewals arrive every second from every node and rarely change anything.
    const wanted = mine.map((o) => o.ip).sort().join(',');
    const held = new Set(this.announcer.held());
    // With the direct path the API server is never on the way to taking an address.
    if (!this.liveness && mine.some((o) => !held.has(o.ip)) && now - this.lastOwnRenewal > 250) {
      // About to take an address (maybe because another Lease lapsed): first make sure it is not
      // we who lost the API server. A renewal that fails here means: hold still.
      await this.renew();
      if (!this.apiReachable(Date.now())) return this.holdStill(Date.now(), 'Lease renewal failed before taking an address');
    }
    if (wanted !== this.lastWanted || now - this.lastConverge >= this.refreshIntervalMs * 0.8) {
      const { added, removed } = await this.announcer.converge(mine.map((o) => o.ip));
      this.lastWanted = wanted;
      this.lastConverge = now;
      this.options.metrics?.ownershipChanges.inc({ change: 'added' }, added.length);
      this.options.metrics?.ownershipChanges.inc({ change: 'removed' }, removed.length);
      if (added.length > 0 || removed.length > 0) this.options.logger.info({ node: this.options.nodeName, added, removed }, 'speaker: addresses changed');
    }
    this.scheduleLapseCheck(leases, now);
    this.reportSoon(mine);
    const took = Date.now() - now;
    if (took > 500) this.options.logger.warn({ tookMs: took }, 'speaker: slow evaluation');
  }

  /** Hands BGP the served Services and our Node; our ServiceBGPStatus objects follow its answer. */
  private updateBgp(): void {
    const bgp = this.options.bgp;
    if (!bgp) return;
    const services = this.allServices();
    const node = this.informers!.nodes.cache.get(this.options.nodeName);
    bgp.update(services, node);
    // Without our Node (not in the cache yet) BGP changes nothing, and neither do its statuses.
    if (node) this.options.statusObjects?.set('ServiceBGPStatus', bgpStatusBodies(this.options.nodeName, bgp.servicePeers(services, node)));
  }

  /**
   * The time at which Leases are judged: now, or, while our own renewals fail, the moment our
   * last renewal still counted. A lapse we cannot see past (the API is away for everyone) must
   * not read as the others' death.
   */
  private leaseClock(now: number): number {
    if (this.apiReachable(now) || this.lastOwnRenewal === 0) return now;
    return Math.min(now, this.lastOwnRenewal + this.lapseMs - 1);
  }

  private async startLiveness(): Promise<void> {
    const config = this.options.liveness;
    if (!config) return;
    const timing: LivenessTiming = { ...DEFAULT_LIVENESS_TIMING, ...config.timing };
    // The start time as incarnation: a restarted speaker outranks whatever was said of the old one.
    const protocol = new LivenessProtocol(this.options.nodeName, Date.now(), timing);
    this.liveness = new LivenessTransport({ protocol, port: config.port, key: config.key, logger: this.options.logger, onOutput: (out) => this.onLiveness(out, protocol) });
    await this.liveness.start();
    this.updatePeers();
    this.options.logger.info({ port: config.port, probeIntervalMs: timing.probeIntervalMs, probeTimeoutMs: timing.probeTimeoutMs }, 'speaker: liveness probes started');
  }

  private onLiveness(out: LivenessOutput, protocol: LivenessProtocol): void {
    const metrics = this.options.metrics;
    if (metrics) {
      for (const rtt of out.rttMs) metrics.probeRtt.observe(rtt / 1000);
      metrics.detections.inc(out.detections.length);
      metrics.falseSuspicions.inc(out.falseSuspicionsOfSelf);
    }
    if (out.changes.length === 0) return;
    metrics?.peersAlive.set(protocol.counts().alive);
    for (const change of out.changes) this.options.logger.info({ node: change.node, state: change.state, why: change.why }, 'speaker: peer liveness changed');
    this.evaluateSoon();
  }

  /** The peers to probe: every other Node with an InternalIP (the speakers run on the nodes). */
  private updatePeers(): void {
    if (!this.liveness || !this.informers) return;
    const peers = new Map<string, string>();
    for (const node of this.informers.nodes.cache.list()) {
      const name = node.metadata?.name;
      const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
      if (name && ip && name !== this.options.nodeName) peers.set(name, ip);
    }
    const key = [...peers].map(([n, ip]) => `${n}=${ip}`).sort().join(',');
    if (key === this.lastPeers) return;
    this.lastPeers = key;
    this.liveness.setPeers(peers);
  }

  private lapseTimerAt(at: number): void {
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    if (!this.stopped) this.lapseTimer = setTimeout(() => this.evaluateSoon(), Math.max(0, at - Date.now()) + 5);
  }

  /** Re-evaluates right when the next Lease lapses, and while announcements are still due. */
  private scheduleLapseCheck(leases: SpeakerLease[], now: number): void {
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    const at = nextLapseMs(leases, now, this.lapseMs);
    if (at === undefined || this.stopped) return;
    this.lapseTimer = setTimeout(() => this.evaluateSoon(), at - now + 5);
  }

  /**
   * Reporting talks to the API server, so it runs beside the convergence loop, never in it: a
   * slow API must not delay taking or refreshing an address. Only the latest state is reported.
   */
  private reportSoon(mine: AddressOwner[]): void {
    this.pendingReport = mine;
    if (this.reporting) return;
    this.reporting = (async () => {
      while (this.pendingReport && !this.stopped) {
        const next = this.pendingReport;
        this.pendingReport = undefined;
        await this.report(next).catch((error: unknown) => this.options.logger.warn({ err: error }, 'speaker: reporting failed'));
      }
    })().finally(() => {
      this.reporting = undefined;
    });
  }

  private async report(mine: AddressOwner[]): Promise<void> {
    const node = this.options.nodeName;
    const services = new Map(this.informers!.services.cache.list().map((s) => [`${s.metadata?.namespace}/${s.metadata?.name}`, s]));
    for (const owner of mine) {
      for (const key of owner.services) {
        const svc = services.get(key);
        if (!svc?.metadata?.name || !svc.metadata.namespace) continue;
        const annotated = svc.metadata.annotations?.[ANNOUNCING_NODE_ANNOTATION];
        if (annotated === node && this.reported.get(key) === node) continue;
        const { name, namespace } = svc.metadata;
        try {
          if (annotated !== node) {
            await this.core.patchNamespacedService(
              { name, namespace, body: { metadata: { annotations: { [ANNOUNCING_NODE_ANNOTATION]: node } } } },
              setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
            );
          }
          if (this.reported.get(key) !== node) this.recordEvent(svc, owner.ip);
          this.reported.set(key, node);
        } catch (error) {
          this.options.logger.warn({ err: error, service: key }, 'speaker: cannot report the announcing node');
        }
      }
    }
    const mineKeys = new Set(mine.flatMap((o) => o.services));
    for (const key of this.reported.keys()) if (!mineKeys.has(key)) this.reported.delete(key);
    // One ServiceL2Status per Service this node announces, naming the interfaces its addresses are on.
    const interfaces = new Map<string, string[]>();
    for (const owner of mine) {
      const on = this.interfaces.get(owner.ip);
      for (const key of owner.services) interfaces.set(key, [...(interfaces.get(key) ?? []), ...(on ? [on] : [])]);
    }
    // Only from a synced view: a restarted speaker's first pass (caches still empty) would delete
    // the objects its predecessor wrote, only to create them again a moment later.
    if (this.synced) this.options.statusObjects?.set('ServiceL2Status', l2StatusBodies(node, interfaces));
  }

  private recordEvent(svc: V1Service, ip: string): void {
    this.events.record(svc, 'Normal', EVENT_REASON_NODE_ASSIGNED, `announcing ${ip} from node "${this.options.nodeName}" with protocol "layer2"`);
  }

}
