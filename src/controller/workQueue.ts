// The work queue: keyed and deduplicated, one worker per key at a time, N workers, delayed adds
// and per-key exponential backoff with jitter. Time is injected so tests drive it by hand.
//
// Semantics (as client-go's workqueue): a key added while queued is a no-op; a key added while a
// worker holds it is marked dirty and queued again when that worker is done, so no change is lost
// and no key is ever processed twice at once. One difference: keys coming back from a delay (a
// load balancer that was provisioning, a retry) go ahead of fresh keys, so work already started
// finishes (and its Service gets its address) before a storm of new Services is worked through.

export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Fraction of spread around the exponential delay: 0.2 gives delay * [0.8, 1.2]. */
  jitter: number;
}

/** The delay for the n-th consecutive failure (n >= 1), clamped to [initialMs, maxMs]. Pure. */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: number): number {
  const exp = policy.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 40);
  const jittered = Math.min(exp, policy.maxMs) * (1 - policy.jitter + 2 * policy.jitter * random);
  return Math.round(Math.min(policy.maxMs, Math.max(policy.initialMs, jittered)));
}

export interface WorkQueueOptions {
  backoff: BackoffPolicy;
  scheduler?: Scheduler;
  random?: () => number;
  onDepthChange?: (depth: number) => void;
}

export type Handler = (key: string) => Promise<void>;

export class WorkQueue {
  private readonly queue: string[] = [];
  /** Keys whose delay ran out; served before `queue`. */
  private readonly soon: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly scheduler: Scheduler;
  private readonly random: () => number;

  constructor(private readonly options: WorkQueueOptions) {
    this.scheduler = options.scheduler ?? realScheduler;
    this.random = options.random ?? Math.random;
  }

  get depth(): number {
    return this.queue.length + this.soon.length;
  }

  /** Keys waiting, being worked on, or scheduled for later. */
  get pending(): number {
    return this.queued.size + this.processing.size + this.timers.size;
  }

  add(key: string, ahead = false): void {
    if (this.shuttingDown) return;
    const timer = this.timers.get(key);
    if (timer) {
      this.scheduler.clearTimeout(timer.handle);
      this.timers.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    const waiter = this.waiters.shift();
    if (waiter) {
      this.queued.delete(key);
      this.processing.add(key);
      waiter(key);
    } else if (ahead) {
      this.soon.push(key);
    } else {
      this.queue.push(key);
    }
    this.options.onDepthChange?.(this.depth);
  }

  /** Adds the key after `ms`; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    if (this.queued.has(key)) return;
    const at = this.scheduler.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.scheduler.clearTimeout(existing.handle);
    const handle = this.scheduler.setTimeout(() => {
      this.timers.delete(key);
      this.add(key, true);
    }, ms);
    this.timers.set(key, { at, handle });
  }

  /**
   * Records a failure and re-adds the key after its backoff delay; returns the delay. `slow` goes
   * straight to the longest delay: for a failure only the user can fix (a change to the object
   * re-adds the key at once anyway), so it costs no cloud calls meanwhile.
   */
  addRateLimited(key: string, options: { slow?: boolean } = {}): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = options.slow ? backoffDelay(this.options.backoff, Number.MAX_SAFE_INTEGER, this.random()) : backoffDelay(this.options.backoff, n, this.random());
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets a key's failures (call after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves with the next key (now held by the caller), or undefined when shut down. */
  get(): Promise<string | undefined> {
    const key = this.soon.shift() ?? this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      this.options.onDepthChange?.(this.depth);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Releases a key taken with get(); re-queues it if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Runs `workers` loops calling `handler` for each key; resolves when shut down and drained. */
  async run(workers: number, handler: Handler, onError?: (key: string, error: unknown) => void): Promise<void> {
    const loop = async () => {
      for (;;) {
        const key = await this.get();
        if (key === undefined) return;
        try {
          await handler(key);
        } catch (error) {
          onError?.(key, error);
        } finally {
          this.done(key);
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, loop));
  }

  /** Stops handing out keys (in-flight work finishes), cancels delayed adds, wakes idle workers. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.timers.values()) this.scheduler.clearTimeout(handle);
    this.timers.clear();
    this.queue.length = 0;
    this.soon.length = 0;
    this.queued.clear();
    this.dirty.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** Accepts work again after shutDown (a replica that regains leadership). */
  reopen(): void {
    this.shuttingDown = false;
  }
}
