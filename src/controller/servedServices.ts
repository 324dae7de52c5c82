// What one provider serves right now, as DesiredLoadBalancers: handed to a provider's start() so it
// can warm up from the cluster (metal rebuilds its address assignments from Service status).
import type { DesiredLoadBalancer, NodeTarget } from '../../providers/provider.js';
import { desiredLoadBalancer } from './desiredLoadBalancer.js';
import type { ClusterView, ProviderSlot } from './ports.js';
import { serviceRefOf, wantedSlot } from './serviceSelection.js';

export function servedServices(
  view: ClusterView,
  slots: readonly ProviderSlot[],
  slot: ProviderSlot,
  options: { clusterName: string; targets: NodeTarget[] },
): DesiredLoadBalancer[] {
  const out: DesiredLoadBalancer[] = [];
  for (const s of view.services()) {
    if (wantedSlot(s, slots)?.id !== slot.id) continue;
    try {
      const ref = serviceRefOf(s);
      out.push(
        desiredLoadBalancer(s, view.endpointNodes(ref.namespace, ref.name), {
          clusterName: options.clusterName,
          targets: options.targets,
        }),
      );
    } catch {
      // A Service with bad input is reported by its own reconcile.
    }
  }
  return out;
}
