// AWS takes lists in bounded pieces: 20 names or ARNs per Describe* and AddTags call, a configured
// number of targets per Register/DeregisterTargets call.

/** At most 20 load balancer or target group names, ARNs or resources per ELB call. */
export const ELB_BATCH = 20;

/** items in consecutive pieces of at most `size`, in order. */
export function inBatches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
