// What runs only while this replica leads: start-up (providers, ownership), the workers and the
// periodic resync. Started when leadership is won, stopped when it is lost; stop() lets in-flight
// reconciles finish and aborts a start-up that is still retrying.
import type { WorkQueue } from '../controller/workQueue.js';
import type { Logger } from '../observability/logger.js';

export interface LeaderWorkDeps {
  logger: Logger;
  queue: WorkQueue;
  waitForSync(): Promise<void>;
  /** Start-up steps, in order, each retried with backoff until it succeeds or stop() aborts it. */
  startUp: ReadonlyArray<{ what: string; run(): Promise<void> }>;
  enqueueAll(): void;
  resync(): Promise<unknown>;
  /** 0 disables the periodic resync. */
  resyncPeriodMs: number;
  workers: number;
  handle(key: string): Promise<void>;
}

export class LeaderWork {
  private working: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private abortStart: () => void = () => {};
  private closed = false;
  /** Start-up finished and the workers run. */
  started = false;

  constructor(private readonly deps: LeaderWorkDeps) {}

  async start(): Promise<void> {
    if (this.working || this.closed) return;
    const { queue, logger } = this.deps;
    queue.reopen();
    let done: () => void = () => {};
    this.working = new Promise<void>((resolve) => (done = resolve));
    let aborted = false;
    const abort = new Promise<void>((resolve) => (this.abortStart = () => ((aborted = true), resolve())));
    const untilDone = async (what: string, step: () => Promise<void>) => {
      for (let attempt = 0; !aborted; attempt++) {
        try {
          return await step();
        } catch (error) {
          logger.warn({ err: String(error) }, `${what} failed; retrying`);
          await Promise.race([new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt))), abort]);
        }
      }
    };
    await Promise.race([this.deps.waitForSync(), abort]);
    for (const { what, run } of this.deps.startUp) await untilDone(what, run);
    if (aborted) {
      done();
      return;
    }
    this.deps.enqueueAll();
    if (this.deps.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => void this.deps.resync().catch((e: unknown) => logger.warn({ err: String(e) }, 'resync failed')), this.deps.resyncPeriodMs);
      this.resyncTimer.unref();
    }
    this.started = true;
    void queue
      .run(this.deps.workers, this.deps.handle, (key, error) => logger.error({ service: key, err: String(error) }, 'reconcile threw'))
      .finally(() => done());
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    this.abortStart();
    this.deps.queue.shutDown(); // in-flight reconciles finish; nothing new starts
    await this.working;
    this.working = undefined;
    this.started = false;
  }

  /** Stops for good: a later start() (leadership won again while shutting down) does nothing. */
  close(): void {
    this.closed = true;
  }
}
