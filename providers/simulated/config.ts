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
});
export type SimulatedConfig = z.infer<typeof simulatedConfigSchema>;
