// Per-peer BGP metrics of the speaker, on the speaker's registry (reusing a metric already there,
// so several speakers can share a process in tests). Names follow MetalLB's where they exist
// (metallb_bgp_session_up, metallb_bgp_announced_prefixes_total), under our prefix.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface BgpMetrics {
  sessionUp: Gauge<'peer' | 'address'>;
  bfdUp: Gauge<'peer' | 'address'>;
  sessionsDropped: Gauge<'peer' | 'address'>;
  advertisedPrefixes: Gauge<'peer'>;
  /** method: 'vtysh' (prefixes only) or 'frr-reload'; a failure is counted after the fallback failed. */
  reloads: Counter<'outcome' | 'method'>;
}

export function createBgpMetrics(registry: Registry): BgpMetrics {
  const make = <T>(name: string, build: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? build();
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]): Gauge<L> => make(name, () => new Gauge({ name, help, labelNames, registers: [registry] }));
  return {
    sessionUp: gauge('kube_lb_speaker_bgp_session_up', 'BGP session with the peer is Established (1) or not (0)', ['peer', 'address']),
    bfdUp: gauge('kube_lb_speaker_bfd_session_up', 'BFD session with the peer is up (1) or not (0)', ['peer', 'address']),
    sessionsDropped: gauge('kube_lb_speaker_bgp_sessions_dropped', 'Times the BGP session with the peer dropped since FRR started', ['peer', 'address']),
    advertisedPrefixes: gauge('kube_lb_speaker_bgp_advertised_prefixes', 'Prefixes this node sends to the peer', ['peer']),
    reloads: make('kube_lb_speaker_frr_reloads_total', () => new Counter({ name: 'kube_lb_speaker_frr_reloads_total', help: 'FRR configuration applies, by outcome and method (vtysh for prefix-only changes, frr-reload)', labelNames: ['outcome', 'method'], registers: [registry] })),
  };
}
