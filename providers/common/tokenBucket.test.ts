import { describe, expect, it } from 'vitest';
import { TokenBucket } from './tokenBucket.js';

describe('TokenBucket', () => {
  it('allows the burst at once, then spaces calls at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(4, 20, { now: () => now });
    const waits = Array.from({ length: 22 }, () => bucket.reserve());
    expect(waits.slice(0, 20).every((w) => w === 0)).toBe(true);
    expect(waits[20]).toBe(250);
    expect(waits[21]).toBe(500);
    now = 10_000; // refills, but never past the burst
    const after = Array.from({ length: 21 }, () => bucket.reserve());
    expect(after.filter((w) => w === 0)).toHaveLength(20);
  });

  it('rejects a rate that could never refill', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(/rate > 0/);
  });
});
