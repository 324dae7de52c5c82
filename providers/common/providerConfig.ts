import { z } from 'zod';

/** Settings every provider entry has: which Services it serves. */
export const providerEntryBase = {
  /** spec.loadBalancerClass this provider serves. Omit to serve only class-less Services. */
  loadBalancerClass: z.string().min(1).optional(),
  /** Also serve Services that name no loadBalancerClass (at most one provider may say so). */
  default: z.boolean().default(false),
};
