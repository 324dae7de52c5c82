import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';

export const addressPoolSchema = z.object({
  name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a pool name is a DNS label (lowercase letters, digits, -)'),
  /** CIDRs ("192.0.2.0/28") or ranges ("192.0.2.10-192.0.2.20"), IPv4 or IPv6. */
  addresses: z.array(z.string()).min(1),
  autoAssign: z.boolean().default(true),
  avoidBuggyIPs: z.boolean().default(false),
  priority: z.number().int().default(0),
  namespaces: z.array(z.string()).default([]),
  serviceSelector: z.record(z.string(), z.string()).default({}),
});

export const metalConfigSchema = z.object({
  type: z.literal('metal'),
  ...providerEntryBase,
  pools: z.array(addressPoolSchema).min(1),
});
export type MetalConfig = z.infer<typeof metalConfigSchema>;
