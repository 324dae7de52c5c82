import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';

export const awsConfigSchema = z.object({
  type: z.literal('aws'),
  ...providerEntryBase,
  region: z.string().min(1),
  /** Override the AWS endpoints (moto_server in tests, VPC endpoints in production). */
  endpoint: z.url().optional(),
  vpcId: z.string().optional(),
});
export type AwsConfig = z.infer<typeof awsConfigSchema>;
