// Remembers the Compute operations this process started, per Service and per shared instance group
// zone, so the next reconcile can poll them instead of anyone waiting. Losing this memory (a
// restart) is safe: observe re-reads the resources, and a repeated insert answers 409 until the
// first one lands. Concurrent polls of one operation share a single API call.
import type { OperationRef, OperationStatus } from './computeApi.js';
import type { OperationFailure } from './observed.js';

export interface FinishedOperation {
  ref: OperationRef;
  status: OperationStatus;
}

export class OperationTracker {
  private readonly byService = new Map<string, Array<{ ref: OperationRef; field: string }>>();
  private readonly byZone = new Map<string, OperationRef>();
  private readonly claims = new Set<string>();
  private readonly failures = new Map<string, OperationFailure[]>();
  private readonly inFlight = new Map<string, Promise<OperationStatus>>();

  constructor(private readonly poll: (ref: OperationRef) => Promise<OperationStatus>) {}

  addForService(key: string, ref: OperationRef, field: string): void {
    this.byService.set(key, [...(this.byService.get(key) ?? []), { ref, field }]);
  }

  /**
   * Claims a zone's shared group before calling the API, synchronously, so concurrent reconciles
   * of many Services start one operation per zone. False when another one holds it.
   */
  claimZone(zone: string): boolean {
    if (this.zoneBusy(zone)) return false;
    this.claims.add(zone);
    return true;
  }

  releaseZone(zone: string): void {
    this.claims.delete(zone);
  }

  addForZone(zone: string, ref: OperationRef): void {
    this.claims.delete(zone);
    this.byZone.set(zone, ref);
  }

  zoneBusy(zone: string): boolean {
    return this.byZone.has(zone) || this.claims.has(zone);
  }

  busyZones(): string[] {
    return [...new Set([...this.byZone.keys(), ...this.claims])].sort();
  }

  private pollOnce(ref: OperationRef): Promise<OperationStatus> {
    let p = this.inFlight.get(ref.name);
    if (!p) {
      p = this.poll(ref).finally(() => this.inFlight.delete(ref.name));
      this.inFlight.set(ref.name, p);
    }
    return p;
  }

  /** Polls the Service's operations; answers the ones still running. Failures are kept for takeFailures. */
  async pollService(key: string): Promise<OperationRef[]> {
    const entries = this.byService.get(key) ?? [];
    if (entries.length === 0) return [];
    const results = await Promise.all(entries.map(async (e) => ({ e, status: await this.pollOnce(e.ref) })));
    const running = results.filter((r) => !r.status.done).map((r) => r.e);
    for (const { e, status } of results)
      if (status.done && status.error)
        this.failures.set(key, [...(this.failures.get(key) ?? []), { action: e.ref.description, field: e.field, status: status.error.status, message: status.error.message }]);
    if (running.length > 0) this.byService.set(key, running);
    else this.byService.delete(key);
    return running.map((r) => r.ref);
  }

  /** Polls the shared instance-group operations; answers those that finished (with their outcome). */
  async pollZones(): Promise<FinishedOperation[]> {
    const finished: FinishedOperation[] = [];
    await Promise.all(
      [...this.byZone.entries()].map(async ([zone, ref]) => {
        const status = await this.pollOnce(ref);
        if (status.done && this.byZone.get(zone) === ref) {
          this.byZone.delete(zone);
          finished.push({ ref, status });
        }
      }),
    );
    return finished;
  }

  takeFailures(key: string): OperationFailure[] {
    const f = this.failures.get(key) ?? [];
    this.failures.delete(key);
    return f;
  }

  hasService(key: string): boolean {
    return (this.byService.get(key)?.length ?? 0) > 0;
  }
}
