// Which node a new connection or UDP flow goes to, as a passthrough cloud load balancer decides it:
// - a client outside loadBalancerSourceRanges is refused (an empty list admits everyone);
// - only healthy targets get traffic; when none is healthy the load balancer fails open and uses
//   them all, as AWS NLB and GCP passthrough load balancers do;
// - with ClientIP affinity a client keeps its target until the timeout passes without traffic or
//   the target leaves the healthy set; otherwise targets take turns.
// Pure apart from its own round-robin cursor and affinity table; time is injected.
import ipaddr from 'ipaddr.js';
import type { SessionAffinityAttribute, Target } from './cloud.js';

/** Kubernetes' default spec.sessionAffinityConfig.clientIP.timeoutSeconds. */
const DEFAULT_AFFINITY_SECONDS = 10_800;

export function sourceAllowed(clientIp: string, sourceRanges: readonly string[]): boolean {
  if (sourceRanges.length === 0) return true;
  if (!ipaddr.isValid(clientIp)) return false;
  const client = ipaddr.process(clientIp);
  return sourceRanges.some((range) => {
    try {
      const [net, bits] = ipaddr.parseCIDR(range);
      return client.kind() === net.kind() && client.match(net, bits);
    } catch {
      return false;
    }
  });
}

export interface ChooseInput {
  clientIp: string;
  targets: readonly Target[];
  sourceRanges: readonly string[];
  isHealthy: (target: Target) => boolean;
  affinity?: SessionAffinityAttribute;
}

export type Choice = { target: Target } | { refused: 'sourceRange' | 'noTargets' };

export class TargetChooser {
  private cursor = 0;
  private readonly sticky = new Map<string, { target: string; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  choose(input: ChooseInput): Choice {
    if (!sourceAllowed(input.clientIp, input.sourceRanges)) return { refused: 'sourceRange' };
    const usable = input.targets.filter((t) => t.ip !== '');
    const healthy = usable.filter(input.isHealthy);
    const pool = healthy.length > 0 ? healthy : usable;
    if (pool.length === 0) return { refused: 'noTargets' };
    const now = this.now();
    if (input.affinity?.type === 'ClientIP') {
      const ttlMs = (input.affinity.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) * 1000;
      const held = this.sticky.get(input.clientIp);
      const kept = held && held.expiresAt > now ? pool.find((t) => t.name === held.target) : undefined;
      const target = kept ?? this.next(pool);
      this.sticky.set(input.clientIp, { target: target.name, expiresAt: now + ttlMs });
      return { target };
    }
    this.sticky.clear();
    return { target: this.next(pool) };
  }

  private next(pool: readonly Target[]): Target {
    const target = pool[this.cursor % pool.length] as Target;
    this.cursor = (this.cursor + 1) % 1_000_000;
    return target;
  }
}
