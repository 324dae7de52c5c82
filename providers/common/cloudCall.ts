// The one edge every cloud call goes through: a client-side rate limit per API family, retries
// with exponential backoff and jitter on throttling and 5xx (p-retry), and call accounting.
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
}

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
      randomize: true,
    },
  );
}
