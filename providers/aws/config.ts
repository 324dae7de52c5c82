import { z } from 'zod';
import { providerEntryBase } from '../common/providerConfig.js';
import { AWS_DEFAULT_QUOTAS } from './quotas.js';

const bucket = z.object({ ratePerSecond: z.number().positive(), burst: z.number().int().min(1) });

export const awsConfigSchema = z.object({
  type: z.literal('aws'),
  ...providerEntryBase,
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, the AWS config file's profile, then instance metadata. */
  region: z.string().min(1).optional(),
  /** Override the AWS endpoints (moto_server in tests, VPC endpoints in production). */
  endpoint: z.url().optional(),
  vpcId: z.string().optional(),
  /**
   * Security groups of the nodes, where the NodePorts are opened to the load balancer's security
   * group. Default: every security group tagged kubernetes.io/cluster/<cluster> that is not one of ours.
   */
  nodeSecurityGroupIds: z.array(z.string().min(1)).optional(),
  /** The cluster's NodePort range (kube-apiserver --service-node-port-range), opened to the NLBs once. */
  nodePortRange: z
    .string()
    .regex(/^\d+-\d+$/, 'a range like 30000-32767')
    .default('30000-32767'),
  /**
   * Client-side rate limits, one token bucket per family of actions. The ELB defaults are the AWS
   * Load Balancer Controller's, which follow ELBv2's own limits; EC2 throttles per action with
   * buckets of 100 refilled at 20/s for describes (EC2 API request throttling), shared here.
   */
  rateLimits: z
    .object({
      /** ELB RegisterTargets / DeregisterTargets. */
      registration: bucket.default({ ratePerSecond: 4, burst: 20 }),
      /** ELB Describe*. */
      describe: bucket.default({ ratePerSecond: 50, burst: 200 }),
      /** ELB Modify* (ModifyListener, ModifyTargetGroup, ModifyTargetGroupAttributes). */
      modify: bucket.default({ ratePerSecond: 3, burst: 20 }),
      /** Every other ELB action (Create*, Delete*, AddTags, SetSubnets). */
      other: bucket.default({ ratePerSecond: 10, burst: 40 }),
      /** Every EC2 action. */
      ec2: bucket.default({ ratePerSecond: 20, burst: 100 }),
    })
    .prefault({}),
  /** How long subnets, Elastic IPs and node security groups are cached between reads. */
  environmentCacheSeconds: z.number().int().min(0).default(300),
  /**
   * The deep cycle: a Service's listeners, targets and attributes are read again after at most this
   * long (between half and all of it, spread per Service), and at once after any change of the
   * Service, its nodes or endpoints, or any write. In between, resyncs compare list-level reads.
   */
  deepReadIntervalSeconds: z.number().min(0).default(1800),
  /** How long one list-level read of every NLB, target group and tag serves the observes of a resync. */
  listSnapshotSeconds: z.number().min(0).default(30),
  /** How soon to look again at a load balancer that is still provisioning. */
  provisioningRetrySeconds: z.number().positive().default(15),
  /** Targets per RegisterTargets/DeregisterTargets call. */
  targetChunkSize: z.number().int().min(1).max(500).default(100),
  retries: z.number().int().min(0).default(6),
  /** An owned target group no listener uses and no Service wants is deleted after this long (two resyncs apart). */
  targetGroupSweepAgeSeconds: z.number().int().min(0).default(600),
  /** The account's quotas, checked before the call that would exceed them (AWS's defaults; raise them with yours). */
  quotas: z
    .object({
      listenersPerLoadBalancer: z.number().int().min(1).default(AWS_DEFAULT_QUOTAS.listenersPerLoadBalancer),
      targetsPerZonePerLoadBalancer: z.number().int().min(1).default(AWS_DEFAULT_QUOTAS.targetsPerZonePerLoadBalancer),
      loadBalancersPerRegion: z.number().int().min(1).default(AWS_DEFAULT_QUOTAS.loadBalancersPerRegion),
      tagsPerResource: z.number().int().min(1).default(AWS_DEFAULT_QUOTAS.tagsPerResource),
      inboundRulesPerSecurityGroup: z.number().int().min(1).default(AWS_DEFAULT_QUOTAS.inboundRulesPerSecurityGroup),
    })
    .prefault({}),
});
export type AwsConfig = z.infer<typeof awsConfigSchema>;
