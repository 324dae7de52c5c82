// Comparing status.loadBalancer.ingress, so the status is patched only when it really changed.
import type { V1LoadBalancerIngress } from '@kubernetes/client-node';
import type { LoadBalancerIngress } from '../../providers/provider.js';

function canonical(list: readonly (LoadBalancerIngress | V1LoadBalancerIngress)[]): string {
  return JSON.stringify(
    list
      .map((i) => ({
        ip: i.ip ?? '',
        hostname: i.hostname ?? '',
        ipMode: i.ipMode ?? '',
        ports: (i.ports ?? [])
          .map((p) => `${p.protocol ?? 'TCP'}/${p.port}/${p.error ?? ''}`)
          .sort(),
      }))
      .sort((a, b) => (a.ip + a.hostname < b.ip + b.hostname ? -1 : 1)),
  );
}

export function sameIngress(a: readonly (LoadBalancerIngress | V1LoadBalancerIngress)[], b: readonly (LoadBalancerIngress | V1LoadBalancerIngress)[]): boolean {
  return canonical(a) === canonical(b);
}

/** The status subresource body for a merge patch (ingress replaced as a whole, as lists are). */
// A merge patch removes a field with null, so clearing the status sends ingress: null.
export function statusPatch(ingress: readonly LoadBalancerIngress[]): { status: { loadBalancer: { ingress: LoadBalancerIngress[] | null } } } {
  return { status: { loadBalancer: { ingress: ingress.length > 0 ? [...ingress] : null } } };
}
