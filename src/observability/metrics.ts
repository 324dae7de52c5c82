// The controller's Prometheus metrics (prom-client), each set on its own Registry so several
// controllers can share a process (tests, benchmarks). createCallRecorder is what providers get as
// ProviderDeps.record: every cloud API call, by provider, operation, mutating and outcome.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CallRecorder } from '../../providers/provider.js';

export interface ControllerMetrics {
  registry: Registry;
  reconcileTotal: Counter<'provider' | 'result'>;
  reconcileDuration: Histogram<'provider'>;
  reconcileErrors: Counter<'provider' | 'kind'>;
  queueDepth: Gauge;
  providerCalls: Counter<'provider' | 'operation' | 'mutating' | 'outcome'>;
  garbageCollected: Counter<'provider'>;
  leader: Gauge;
  record: CallRecorder;
}

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/** Counts provider API calls in `registry` (idempotent: reuses the counter if already there). */
export function createCallRecorder(registry: Registry): CallRecorder {
  const name = 'kube_lb_provider_api_calls_total';
  const counter =
    existing<Counter<'provider' | 'operation' | 'mutating' | 'outcome'>>(registry, name) ??
    new Counter({
      name,
      help: 'Cloud API calls made by providers, by operation and outcome',
      labelNames: ['provider', 'operation', 'mutating', 'outcome'] as const,
      registers: [registry],
    });
  return ({ provider, operation, mutating, outcome }) => counter.inc({ provider, operation, mutating: String(mutating), outcome });
}

export function createControllerMetrics(registry: Registry = new Registry()): ControllerMetrics {
  const record = createCallRecorder(registry);
  const providerCalls = registry.getSingleMetric('kube_lb_provider_api_calls_total') as Counter<'provider' | 'operation' | 'mutating' | 'outcome'>;
  const make = <T>(name: string, build: () => T): T => existing<T>(registry, name) ?? build();
  return {
    registry,
    record,
    providerCalls,
    reconcileTotal: make(
      'kube_lb_reconcile_total',
      () => new Counter({ name: 'kube_lb_reconcile_total', help: 'Reconciles by provider and result', labelNames: ['provider', 'result'] as const, registers: [registry] }),
    ),
    reconcileDuration: make(
      'kube_lb_reconcile_duration_seconds',
      () =>
        new Histogram({
          name: 'kube_lb_reconcile_duration_seconds',
          help: 'Time one reconcile took',
          labelNames: ['provider'] as const,
          buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [registry],
        }),
    ),
    reconcileErrors: make(
      'kube_lb_reconcile_errors_total',
      () => new Counter({ name: 'kube_lb_reconcile_errors_total', help: 'Failed reconciles by kind (config, provider)', labelNames: ['provider', 'kind'] as const, registers: [registry] }),
    ),
    queueDepth: make('kube_lb_workqueue_depth', () => new Gauge({ name: 'kube_lb_workqueue_depth', help: 'Keys waiting in the work queue', registers: [registry] })),
    garbageCollected: make(
      'kube_lb_garbage_collected_total',
      () => new Counter({ name: 'kube_lb_garbage_collected_total', help: 'Orphaned load balancers deleted by the resync', labelNames: ['provider'] as const, registers: [registry] }),
    ),
    leader: make('kube_lb_leader', () => new Gauge({ name: 'kube_lb_leader', help: '1 while this replica holds the leader lease', registers: [registry] })),
  };
}
