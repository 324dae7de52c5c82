// The L2 speaker's Prometheus metrics (prom-client), on their own Registry so several speakers can
// share a process (tests). Reuses a metric already in the registry, as createControllerMetrics does.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface SpeakerMetrics {
  registry: Registry;
  /** Addresses this node holds on its interface now. */
  announcedAddresses: Gauge;
  leaseRenewFailures: Counter;
  /** 1 while this node can announce (interface present and up, routes found), else 0. */
  canAnnounce: Gauge;
  /** Gratuitous ARP / unsolicited NA sent, by outcome. */
  announcements: Counter<'outcome'>;
  /** Addresses this node put on or took off its interface. */
  ownershipChanges: Counter<'change'>;
  /** Other speakers the direct path (UDP probes) holds alive now. */
  peersAlive: Gauge;
  /** Round-trip time of answered direct probes, seconds. */
  probeRtt: Histogram;
  /** Speakers this node declared dead (no ack, direct or indirect). */
  detections: Counter;
  /** Times this speaker was declared dead by others while alive, and refuted it. */
  falseSuspicions: Counter;
}

export function createSpeakerMetrics(registry: Registry = new Registry(), options: { processMetrics?: boolean } = {}): SpeakerMetrics {
  const make = <T>(name: string, build: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? build();
  // Process metrics (memory, CPU, event-loop lag) once per process: only the CLI asks for them.
  if (options.processMetrics && !registry.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register: registry });
  return {
    registry,
    announcedAddresses: make(
      'kube_lb_speaker_announced_addresses',
      () => new Gauge({ name: 'kube_lb_speaker_announced_addresses', help: 'Load-balancer addresses this node announces now', registers: [registry] }),
    ),
    leaseRenewFailures: make(
      'kube_lb_speaker_lease_renew_failures_total',
      () => new Counter({ name: 'kube_lb_speaker_lease_renew_failures_total', help: 'Failed renewals of this node\'s speaker Lease', registers: [registry] }),
    ),
    canAnnounce: make(
      'kube_lb_speaker_can_announce',
      () =>
        new Gauge({
          name: 'kube_lb_speaker_can_announce',
          help: 'Whether this node can announce (1) or not (0: interface missing or down, or no route towards an address); at 0 it takes no part in ownership',
          registers: [registry],
        }),
    ),
    announcements: make(
      'kube_lb_speaker_announcements_total',
      () =>
        new Counter({
          name: 'kube_lb_speaker_announcements_total',
          help: 'Gratuitous ARP / unsolicited neighbour advertisements sent, by outcome (ok, error)',
          labelNames: ['outcome'] as const,
          registers: [registry],
        }),
    ),
    ownershipChanges: make(
      'kube_lb_speaker_ownership_changes_total',
      () =>
        new Counter({
          name: 'kube_lb_speaker_ownership_changes_total',
          help: 'Addresses this node put on its interface (added: took, or re-added after they vanished) or took off it (removed)',
          labelNames: ['change'] as const,
          registers: [registry],
        }),
    ),
    peersAlive: make(
      'kube_lb_speaker_liveness_peers_alive',
      () => new Gauge({ name: 'kube_lb_speaker_liveness_peers_alive', help: 'Other speakers the UDP liveness probes hold alive now', registers: [registry] }),
    ),
    probeRtt: make(
      'kube_lb_speaker_liveness_probe_rtt_seconds',
      () =>
        new Histogram({
          name: 'kube_lb_speaker_liveness_probe_rtt_seconds',
          help: 'Round-trip time of answered direct liveness probes',
          buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
          registers: [registry],
        }),
    ),
    detections: make(
      'kube_lb_speaker_liveness_detections_total',
      () => new Counter({ name: 'kube_lb_speaker_liveness_detections_total', help: 'Speakers this node declared dead (no answer to direct nor indirect probes)', registers: [registry] }),
    ),
    falseSuspicions: make(
      'kube_lb_speaker_liveness_false_suspicions_total',
      () =>
        new Counter({
          name: 'kube_lb_speaker_liveness_false_suspicions_total',
          help: 'Times this speaker learned it had been declared dead while alive (it refuted with a higher incarnation)',
          registers: [registry],
        }),
    ),
  };
}
