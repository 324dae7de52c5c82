// A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. Pure apart from the
// injected clock, so tests drive time by hand. take() answers how long to wait for a token.

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new Error(`token bucket needs rate > 0 and burst >= 1 (got ${ratePerSecond}/${burst})`);
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Reserves one token; returns the milliseconds to wait before using it (0 if available now). */
  reserve(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
  }

  /** Resolves when a token is available. Reservations queue fairly in call order. */
  async take(): Promise<void> {
    const wait = this.reserve();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
