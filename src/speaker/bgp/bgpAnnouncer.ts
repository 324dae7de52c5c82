// The speaker's BGP side: from the Services it serves and its own Node, renders this node's FRR
// configuration (nodeBgpPlan + renderFrrConfig, pure) and applies it when the text changed. One
// apply at a time, the latest wanted text wins. A failed apply (FRR still starting, a reload that
// lost a race) is retried on its own timer with a doubling delay: in steady state no update comes
// to retry it. It also polls FRR's session state for the per-peer metrics, logs sessions going up
// or down, and re-applies when FRR lost its configuration (its daemons restarted under us).
import type { Logger } from '../../observability/logger.js';
import type { AnnouncedService } from '../announcementOwnership.js';
import type { BgpConfig } from '../../metallb/configuration.js';
import type { FrrControl, PeerSession } from './frrDaemons.js';
import type { BgpMetrics } from './bgpMetrics.js';
import { nodeBgpPlan, servicePeers, type BgpNode } from './nodeBgpPlan.js';
import { renderFrrConfig } from './frrConfig.js';

export interface BgpAnnouncerOptions {
  config: BgpConfig;
  nodeName: string;
  frr: FrrControl;
  logger: Logger;
  metrics?: BgpMetrics;
  /** First retry delay after a failed apply; doubles up to maxRetryDelayMs. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export class BgpAnnouncer {
  private wanted: string | undefined;
  private applied: string | undefined;
  private applying: Promise<void> | undefined;
  private lastStates = new Map<string, string>();
  private lastPlanPeers = new Map<string, string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;

  private config: BgpConfig;

  constructor(private readonly options: BgpAnnouncerOptions) {
    this.config = options.config;
  }

  /** A new configuration; applied with the next update(). */
  setConfig(config: BgpConfig): void {
    this.config = config;
  }

  /** Called with every evaluation of the speaker; cheap when nothing changed. */
  update(services: readonly AnnouncedService[], node: BgpNode | undefined): void {
    // Our own Node not in the cache (yet): change nothing. A restarted speaker's first evaluation
    // can come before the Node informer synced; withdrawing then would drop live routes.
    if (node === undefined) return;
    const self = node;
    const plan = nodeBgpPlan(this.config, self, services);
    this.lastPlanPeers = new Map(plan.peers.map((p) => [p.address, p.name]));
    const text = renderFrrConfig(plan);
    this.options.metrics?.advertisedPrefixes.reset();
    for (const peer of plan.peers) this.options.metrics?.advertisedPrefixes.set({ peer: peer.name }, plan.prefixes.get(peer.name)?.length ?? 0);
    this.want(text);
  }

  /** Service key -> the BGPPeers this node sends its prefixes to, with the current configuration. */
  servicePeers(services: readonly AnnouncedService[], node: BgpNode): Map<string, string[]> {
    return servicePeers(this.config, node, services);
  }

  /** Withdraws everything (shutdown): sessions stay configured, no prefix is sent. No retries after. */
  async withdrawAll(): Promise<void> {
    const plan = nodeBgpPlan(this.config, { name: this.options.nodeName, labels: {}, eligible: false }, []);
    this.want(renderFrrConfig(plan));
    await this.settled();
    this.stop();
  }

  /** FRR was restarted empty: apply the wanted configuration again now, whatever the backoff. */
  reapplyNow(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.failures = 0;
    this.applied = undefined;
    if (this.wanted !== undefined) this.want(this.wanted);
  }

  /** Cancels a pending retry; nothing is applied after this. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Resolves once the latest wanted configuration was applied (or failed). */
  async settled(): Promise<void> {
    while (this.applying) await this.applying;
  }

  /** The configuration text last applied, for tests and logs. */
  appliedConfig(): string | undefined {
    return this.applied;
  }

  private want(text: string): void {
    this.wanted = text;
    if (this.applying || this.retryTimer || this.stopped || text === this.applied) return;
    this.applying = (async () => {
      while (this.wanted !== undefined && this.wanted !== this.applied) {
        const next = this.wanted;
        const started = Date.now();
        try {
          const method = await this.options.frr.apply(next, this.applied);
          this.applied = next;
          this.failures = 0;
          this.options.metrics?.reloads.inc({ outcome: 'ok', method });
          this.options.logger.info({ node: this.options.nodeName, method, tookMs: Date.now() - started }, 'speaker: FRR configuration applied');
        } catch (error) {
          this.options.metrics?.reloads.inc({ outcome: 'failed', method: 'frr-reload' });
          // What FRR runs is now unknown (a reload can fail half-way): the next apply is a full one.
          this.applied = undefined;
          const delay = Math.min((this.options.retryDelayMs ?? 500) * 2 ** this.failures++, this.options.maxRetryDelayMs ?? 30_000);
          this.options.logger.warn({ err: error, retryInMs: delay }, 'speaker: applying the FRR configuration failed; retrying');
          if (!this.stopped) {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              if (this.wanted !== undefined) this.want(this.wanted);
            }, delay);
            this.retryTimer.unref();
          }
          break;
        }
      }
    })().finally(() => {
      this.applying = undefined;
    });
  }

  /** Reads FRR's sessions into the metrics; logs each change of state. */
  async pollSessions(): Promise<PeerSession[]> {
    const sessions = await this.options.frr.sessions();
    // Peers we configured but FRR does not know: its daemons restarted with an empty
    // configuration. Forget what we applied so the wanted text goes in again.
    if (this.applied !== undefined && this.applied === this.wanted && !this.applying && [...this.lastPlanPeers.keys()].some((a) => !sessions.some((s) => s.address === a))) {
      this.options.logger.warn({ node: this.options.nodeName }, 'speaker: FRR lost its configuration (restarted?); applying it again');
      this.applied = undefined;
      if (this.wanted !== undefined) this.want(this.wanted);
    }
    const metrics = this.options.metrics;
    metrics?.sessionUp.reset();
    metrics?.bfdUp.reset();
    for (const s of sessions) {
      const peer = this.lastPlanPeers.get(s.address) ?? s.address;
      metrics?.sessionUp.set({ peer, address: s.address }, s.established ? 1 : 0);
      metrics?.sessionsDropped.set({ peer, address: s.address }, s.connectionsDropped);
      if (s.bfd !== undefined) metrics?.bfdUp.set({ peer, address: s.address }, s.bfd === 'up' ? 1 : 0);
      const was = this.lastStates.get(s.address);
      if (was !== undefined && was !== s.state && (was === 'Established' || s.established)) {
        this.options.logger.info({ peer, address: s.address, from: was, to: s.state }, s.established ? 'speaker: BGP session up' : 'speaker: BGP session down');
      }
      this.lastStates.set(s.address, s.state);
    }
    return sessions;
  }
}
