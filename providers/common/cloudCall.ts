// The one edge every cloud call goes through: a client-side rate limit per API family, retries
// with exponential backoff and jitter on throttling and 5xx (p-retry), and call accounting.
// Retries are bounded in time as well as in number: a call never holds a worker longer than
// maxRetryTimeMs. Past that the error is the reconcile's, and the work queue backs the Service
// off without holding a worker.
import pRetry, { AbortError } from 'p-retry';
import type { CallOutcome, CallRecorder } from '../provider.js';
import type { TokenBucket } from './tokenBucket.js';

export interface CloudCallPolicy {
  provider: string;
  record: CallRecorder;
  /** Classifies an error: throttled and transient errors are retried, others fail at once. */
  classify(error: unknown): 'throttled' | 'transient' | 'fatal';
  retries?: number;
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
  /** Longest time one call may spend retrying (default 10 s); the last error is thrown after it. */
  maxRetryTimeMs?: number;
}

export const DEFAULT_MAX_RETRY_TIME_MS = 10_000;

export interface CallSpec {
  operation: string;
  mutating: boolean;
  limiter?: TokenBucket;
}

export async function cloudCall<T>(policy: CloudCallPolicy, spec: CallSpec, fn: () => Promise<T>): Promise<T> {
  const note = (outcome: CallOutcome) =>
    policy.record({ provider: policy.provider, operation: spec.operation, mutating: spec.mutating, outcome });
  return pRetry(
    async () => {
      await spec.limiter?.take();
      try {
        const value = await fn();
        note('ok');
        return value;
      } catch (error) {
        const kind = policy.classify(error);
        note(kind === 'throttled' ? 'throttled' : 'error');
        // Fatal errors are the caller's to handle (not found, bad request): no retry.
        if (kind === 'fatal') throw new AbortError(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
    },
    {
      retries: policy.retries ?? 5,
      factor: 2,
      minTimeout: policy.minTimeoutMs ?? 200,
      maxTimeout: policy.maxTimeoutMs ?? 10_000,
      maxRetryTime: policy.maxRetryTimeMs ?? DEFAULT_MAX_RETRY_TIME_MS,
      randomize: true,
    },
  );
}
