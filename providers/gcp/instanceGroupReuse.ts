// Which existing instance groups serve as backends in place of ours (pure). Compute lets a VM be in
// only one load-balanced unmanaged instance group ("instance may belong to at most one
// load-balanced instance group", 400 instanceInMultipleLoadBalancedIgs), so nodes that already sit
// in a group someone else made (a node pool's group, an Ingress's k8s-ig) cannot join ours.
// As cloud-provider-gcp does with its external-instance-groups-prefix setting: a group whose name
// has the configured prefix, and which holds only eligible nodes of its zone, is used as a backend
// as it is, and its nodes are left out of ours. A group that also holds anything else is not used,
// since it would send traffic to machines that are not eligible nodes.
import type { DesiredGroup } from './desiredGcp.js';
import type { ExternalGroup } from './observed.js';

export interface GroupReuse {
  /** Groups of others used as backends as they are. */
  reused: ExternalGroup[];
  /** What is left for our own group in each zone (zones with no node left are dropped). */
  remaining: DesiredGroup[];
}

export function reuseExternalGroups(external: ExternalGroup[], wanted: DesiredGroup[]): GroupReuse {
  const reused: ExternalGroup[] = [];
  const remaining: DesiredGroup[] = [];
  for (const group of wanted) {
    const eligible = new Set(group.instances);
    const usable = external.filter((e) => e.zone === group.zone && e.instances.length > 0 && e.instances.every((i) => eligible.has(i)));
    const covered = new Set(usable.flatMap((e) => e.instances));
    reused.push(...usable);
    const left = group.instances.filter((i) => !covered.has(i));
    if (left.length > 0) remaining.push({ zone: group.zone, instances: left, urls: group.urls });
  }
  reused.sort((a, b) => `${a.zone}/${a.name}`.localeCompare(`${b.zone}/${b.name}`));
  return { reused, remaining };
}
