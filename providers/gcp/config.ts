import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';

export const gcpConfigSchema = z.object({
  type: z.literal('gcp'),
  ...providerEntryBase,
  project: z.string().min(1),
  region: z.string().min(1),
  network: z.string().default('default'),
  /** Override the Compute API endpoint (the fake in tests). */
  apiEndpoint: z.string().optional(),
});
export type GcpConfig = z.infer<typeof gcpConfigSchema>;
