// The edge to AWS: every SDK call goes through cloudCall (token bucket per API family, p-retry with
// jitter on throttling and 5xx, call accounting). The SDK's own retries are off so they do not
// multiply with ours into a call storm.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { cloudCall, type CloudCallPolicy } from '../common/cloudCall.js';
import { TokenBucket } from '../common/tokenBucket.js';
import type { CallRecorder } from '../provider.js';
import type { AwsConfig } from './config.js';

const THROTTLE_CODES = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'SlowDown', 'PriorRequestNotComplete']);
const TRANSIENT_NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

/** The AWS error code of an SDK error (its name), or undefined for anything else. */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return typeof e.code === 'string' ? e.code : undefined;
}

export function classifyAwsError(error: unknown): 'throttled' | 'transient' | 'fatal' {
  const code = awsErrorCode(error) ?? '';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (THROTTLE_CODES.has(code) || status === 429) return 'throttled';
  if ((status !== undefined && status >= 500) || TRANSIENT_NETWORK.has(code) || (error as { $fault?: string } | null)?.$fault === 'server') return 'transient';
  return 'fatal';
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(error);
  return code !== undefined && codes.includes(code);
}

export type RateFamily = 'registration' | 'describe' | 'modify' | 'other' | 'ec2';

/** Which client-side bucket an ELB action takes its token from (ELBv2 limits these families separately). */
export function elbRateFamily(operation: string): Exclude<RateFamily, 'ec2'> {
  if (operation === 'RegisterTargets' || operation === 'DeregisterTargets') return 'registration';
  if (operation.startsWith('Describe')) return 'describe';
  if (operation.startsWith('Modify')) return 'modify';
  return 'other';
}

export interface AwsClients {
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
}

/**
 * When AWS throttles one call, the others in flight would be throttled too. While throttling lasts,
 * callers of the family are paced through a shared gate (one every penalty/4 ms, after a jittered
 * cool-down); the penalty doubles on each throttle and halves on each success. This keeps a
 * throttling storm from turning into a call storm.
 */
class ThrottleGate {
  private until = 0;
  private penaltyMs = 0;

  async pass(): Promise<void> {
    if (this.penaltyMs === 0) return;
    const now = Date.now();
    const slot = Math.max(now, this.until);
    this.until = slot + this.penaltyMs / 4;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
  }

  throttled(): void {
    this.penaltyMs = Math.min(5_000, this.penaltyMs === 0 ? 100 : this.penaltyMs * 2);
    this.until = Math.max(this.until, Date.now() + this.penaltyMs * (0.5 + Math.random() / 2));
  }

  succeeded(): void {
    this.penaltyMs = this.penaltyMs < 25 ? 0 : this.penaltyMs / 2;
  }
}

export class AwsApi {
  private readonly gates = { elb: new ThrottleGate(), ec2: new ThrottleGate() };
  private readonly policy: CloudCallPolicy;
  private readonly buckets: Record<RateFamily, TokenBucket>;

  constructor(
    private readonly clients: AwsClients,
    config: Pick<AwsConfig, 'rateLimits' | 'retries'>,
    record: CallRecorder,
    timing: { minTimeoutMs?: number; maxTimeoutMs?: number } = {},
  ) {
    const limits = config.rateLimits;
    const bucket = (family: RateFamily) => new TokenBucket(limits[family].ratePerSecond, limits[family].burst);
    this.buckets = { registration: bucket('registration'), describe: bucket('describe'), modify: bucket('modify'), other: bucket('other'), ec2: bucket('ec2') };
    this.policy = { provider: 'aws', record, classify: classifyAwsError, retries: config.retries, ...timing };
  }

  elb<T>(operation: string, mutating: boolean, fn: (client: ElasticLoadBalancingV2Client) => Promise<T>): Promise<T> {
    const limiter = this.buckets[elbRateFamily(operation)];
    return cloudCall(this.policy, { operation, mutating, limiter }, () => this.gated(this.gates.elb, () => fn(this.clients.elbv2)));
  }

  private async gated<T>(gate: ThrottleGate, fn: () => Promise<T>): Promise<T> {
    await gate.pass();
    try {
      const value = await fn();
      gate.succeeded();
      return value;
    } catch (error) {
      if (classifyAwsError(error) === 'throttled') gate.throttled();
      throw error;
    }
  }

  ec2<T>(operation: string, mutating: boolean, fn: (client: EC2Client) => Promise<T>): Promise<T> {
    return cloudCall(this.policy, { operation, mutating, limiter: this.buckets.ec2 }, () => this.gated(this.gates.ec2, () => fn(this.clients.ec2)));
  }
}

/** cloudCall wraps fatal errors in p-retry's AbortError; this unwraps them for code checks. */
export function rootError(error: unknown): unknown {
  let e = error;
  for (let i = 0; i < 3; i++) {
    const inner = (e as { originalError?: unknown } | null)?.originalError;
    if (inner === undefined) break;
    e = inner;
  }
  return e;
}
