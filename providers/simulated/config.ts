import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';

export const simulatedConfigSchema = z.object({
  type: z.literal('simulated'),
  ...providerEntryBase,
  /** Addresses handed out to load balancers (CIDR). */
  addressPool: z.string().default('127.240.0.0/16'),
  /** Addresses the simulated account "owns", so spec.loadBalancerIP may ask for them. */
  staticAddresses: z.array(z.string()).default([]),
  /** Per-call latency of the simulated cloud. */
  latencyMs: z.number().int().min(0).default(0),
  /** Mutating calls per second before the cloud answers Throttling; 0 means unlimited. */
  mutatingCallsPerSecond: z.number().min(0).default(0),
  /** Client-side limit on mutating calls; defaults to mutatingCallsPerSecond (0: none). */
  clientMutatingCallsPerSecond: z.number().min(0).optional(),
  /** How long a new load balancer stays "provisioning" (the controller requeues meanwhile). */
  provisioningMs: z.number().int().min(0).default(0),
  /** Act like a cloud that addresses nodes by spec.providerID (nodes without one are skipped). */
  needsProviderID: z.boolean().default(false),
  /** Random faults: fraction of calls answering 5xx, and of calls that time out. */
  faults: z
    .object({
      errorRate: z.number().min(0).max(1).default(0),
      timeoutRate: z.number().min(0).max(1).default(0),
      timeoutMs: z.number().int().min(0).default(1_000),
    })
    .prefault({}),
  /** Retries of throttled / 5xx calls inside one reconcile (p-retry via cloudCall). */
  retries: z.number().int().min(0).default(3),
  retryMinMs: z.number().int().min(1).default(200),
  retryMaxMs: z.number().int().min(1).default(5_000),
  /**
   * Forward real TCP and UDP from each load balancer address (loopback) to the nodes' NodePorts,
   * health-checking the nodes, enforcing source ranges and ClientIP affinity (the playground).
   */
  forwardTraffic: z.boolean().default(false),
  /** How often the forwarding cloud health-checks each target. */
  healthCheckIntervalMs: z.number().int().min(50).default(1_000),
  /** Use the simulated cloud a running playground serves at this URL instead of a new one (plan). */
  endpoint: z.url().optional(),
});
export type SimulatedConfig = z.infer<typeof simulatedConfigSchema>;
