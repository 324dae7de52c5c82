// The controller's configuration, validated with zod. Every field can come from the YAML file;
// the common ones also from flags and environment (see src/config/load.ts).
import { z } from 'zod';
import { awsConfigSchema } from '../../providers/aws/config.js';
import { gcpConfigSchema } from '../../providers/gcp/config.js';
import { metalConfigSchema } from '../../providers/metal/config.js';
import { simulatedConfigSchema } from '../../providers/simulated/config.js';

export const providerConfigSchema = z.discriminatedUnion('type', [
  simulatedConfigSchema,
  awsConfigSchema,
  gcpConfigSchema,
  metalConfigSchema,
]);
export type ProviderConfig = z.infer<typeof providerConfigSchema>;

export const controllerConfigSchema = z
  .object({
    /** Marks every cloud resource this cluster owns. Required for aws and gcp; else "kubernetes", as upstream. */
    clusterName: z.string().min(1, 'clusterName must not be empty: it marks every cloud resource this cluster owns').optional(),
    workers: z.number().int().min(1).max(256).default(8),
    resyncPeriodSeconds: z.number().int().min(10).default(300),
    backoff: z
      .object({
        initialSeconds: z.number().positive().default(5),
        maxSeconds: z.number().positive().default(300),
      })
      .default({ initialSeconds: 5, maxSeconds: 300 }),
    leaderElection: z
      .object({
        enabled: z.boolean().default(true),
        namespace: z.string().default('kube-system'),
        leaseName: z.string().default('kube-lb-provisioner'),
        leaseDurationSeconds: z.number().int().positive().default(15),
        renewDeadlineSeconds: z.number().int().positive().default(10),
        retryPeriodSeconds: z.number().int().positive().default(2),
      })
      .prefault({}),
    /** host:port for /healthz, /readyz and /metrics. */
    metricsAddress: z.string().default('0.0.0.0:8080'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
    providers: z.array(providerConfigSchema).min(1, 'configure at least one provider'),
  })
  .superRefine((config, ctx) => {
    const defaults = config.providers.filter((p) => p.default);
    if (defaults.length > 1) ctx.addIssue({ code: 'custom', path: ['providers'], message: 'at most one provider may be the default' });
    const classes = config.providers.map((p) => p.loadBalancerClass).filter((c): c is string => c !== undefined);
    const dup = classes.find((c, i) => classes.indexOf(c) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['providers'], message: `loadBalancerClass ${dup} is served by two providers` });
    // Cloud ownership tags and names must not collide with another cluster's in the same account.
    const shared = config.providers.filter((p) => p.type === 'aws' || p.type === 'gcp').map((p) => p.type);
    if (config.clusterName === undefined && shared.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['clusterName'], message: `clusterName is required with the ${shared[0]} provider: it marks every cloud resource this cluster owns, so it must be unique in the account` });
    }
  })
  .transform((config) => ({ ...config, clusterName: config.clusterName ?? DEFAULT_CLUSTER_NAME }));

/** Upstream's --cluster-name default, for providers that share nothing with other clusters. */
export const DEFAULT_CLUSTER_NAME = 'kubernetes';
export type ControllerConfig = z.infer<typeof controllerConfigSchema>;
