// cloudCall's retries stay bounded in time, so a throttled cloud never holds a worker for long:
// the error goes back to the reconcile (and the queue's backoff) once the time is spent.
import { describe, expect, it } from 'vitest';
import type { CallOutcome } from '../provider.js';
import { cloudCall } from './cloudCall.js';

describe('cloudCall', () => {
  it('stops retrying a throttled call once maxRetryTimeMs is spent, however many retries are left', async () => {
    const outcomes: CallOutcome[] = [];
    const policy = {
      provider: 'test',
      record: (c: { outcome: CallOutcome }) => outcomes.push(c.outcome),
      classify: () => 'throttled' as const,
      retries: 1_000,
      minTimeoutMs: 40,
      maxTimeoutMs: 40,
      maxRetryTimeMs: 300,
    };
    const started = Date.now();
    await expect(cloudCall(policy, { operation: 'Describe', mutating: false }, () => Promise.reject(new Error('Throttling')))).rejects.toThrow('Throttling');
    const took = Date.now() - started;
    expect(took).toBeLessThan(1_000);
    expect(took).toBeGreaterThanOrEqual(250);
    // Every attempt was a throttled one, and far fewer than the retries allowed.
    expect(outcomes.length).toBeGreaterThan(1);
    expect(outcomes.length).toBeLessThan(20);
    expect(new Set(outcomes)).toEqual(new Set(['throttled']));
  });

  it('still returns a value that arrives after a few throttled attempts', async () => {
    let attempts = 0;
    const policy = { provider: 'test', record: () => undefined, classify: () => 'throttled' as const, minTimeoutMs: 5, maxTimeoutMs: 5 };
    const value = await cloudCall(policy, { operation: 'Describe', mutating: false }, async () => {
      attempts += 1;
      if (attempts < 3) throw new Error('Throttling');
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(attempts).toBe(3);
  });
});
