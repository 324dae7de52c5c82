// Pool usage as Prometheus gauges: assigned and available addresses per pool and family.
import { Gauge, register, type Registry } from 'prom-client';
import type { PoolUsage } from './allocator.js';

export interface PoolMetrics {
  update(usage: PoolUsage[]): void;
}

const gaugesByRegistry = new WeakMap<Registry, { assigned: Gauge<'pool' | 'family'>; available: Gauge<'pool' | 'family'> }>();

/** Gauges are created once per registry, so several providers (or tests) can share one. */
export function poolMetrics(registry: Registry = register): PoolMetrics {
  let gauges = gaugesByRegistry.get(registry);
  if (!gauges) {
    gauges = {
      assigned: new Gauge({
        name: 'kube_lb_provisioner_metal_pool_addresses_assigned',
        help: 'Addresses of a metal pool held by at least one Service',
        labelNames: ['pool', 'family'],
        registers: [registry],
      }),
      available: new Gauge({
        name: 'kube_lb_provisioner_metal_pool_addresses_available',
        help: 'Usable addresses of a metal pool that no Service holds',
        labelNames: ['pool', 'family'],
        registers: [registry],
      }),
    };
    gaugesByRegistry.set(registry, gauges);
  }
  const { assigned, available } = gauges;
  return {
    update(usage) {
      for (const u of usage) {
        assigned.set({ pool: u.pool, family: u.family }, u.assigned);
        available.set({ pool: u.pool, family: u.family }, u.available);
      }
    },
  };
}
