import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';

export const gcpConfigSchema = z.object({
  type: z.literal('gcp'),
  ...providerEntryBase,
  project: z.string().min(1),
  region: z.string().min(1),
  network: z.string().default('default'),
  /**
   * Shared VPC: the host project that owns the network (cloud-provider-gcp's network-project-id).
   * Firewall rules are made there, and network and subnetwork names resolve there.
   */
  networkProject: z.string().min(1).optional(),
  /** Subnetwork for internal load balancers (networking.gke.io/load-balancer-type: Internal). */
  subnetwork: z.string().optional(),
  /**
   * Instance groups made by others (node pools, Ingress) whose names start with this prefix are
   * reused as backends when they hold only eligible nodes, as cloud-provider-gcp's
   * external-instance-groups-prefix does: a VM can be in only one load-balanced group.
   */
  externalInstanceGroupsPrefix: z.string().min(1).optional(),
  /** Network tags of the nodes; firewall rules target them. Empty: every instance in the network. */
  nodeTags: z.array(z.string().min(1)).default([]),
  /** Override the Compute API endpoint (the fake in tests): a host name, or a URL with scheme and port. */
  apiEndpoint: z.string().optional(),
  /** How long a reconcile waits before polling a running operation again. */
  pollIntervalMs: z.number().int().positive().default(2000),
  /** Client-side rate limit for Compute API calls (GCP's default quota is 20/s per project). */
  apiRatePerSecond: z.number().positive().default(20),
  apiBurst: z.number().int().positive().default(40),
  /** How long the shared instance-group membership read stays fresh before it is read again. */
  instanceGroupCacheMs: z.number().int().min(0).default(10_000),
  /** How long one list of the region's addresses (to find a loadBalancerIP's owner) serves every Service. */
  addressListCacheMs: z.number().int().min(0).default(10_000),
  /**
   * How long a converged Service's resources, as last read, may stand in for a new read. Node
   * churn then costs no per-Service reads; any other change re-reads first. 0 reads every time.
   */
  observeCacheMs: z.number().int().min(0).default(60_000),
});
export type GcpConfig = z.infer<typeof gcpConfigSchema>;
