// What the queue does with each reconcile's outcome: forget the key's failures, look again later
// (in progress, or settling), or back it off (slowly for a config error only the user can fix).
import type { Logger } from '../observability/logger.js';
import type { ControllerMetrics } from '../observability/metrics.js';
import type { Outcome } from './reconcile.js';
import type { WorkQueue } from './workQueue.js';

export interface OutcomeDeps {
  queue: Pick<WorkQueue, 'forget' | 'addAfter' | 'addRateLimited'>;
  metrics: Pick<ControllerMetrics, 'reconcileTotal' | 'reconcileErrors'>;
  logger: Logger;
}

export function handleOutcome(key: string, provider: string, outcome: Outcome, { queue, metrics, logger }: OutcomeDeps): void {
  switch (outcome.kind) {
    case 'done':
      queue.forget(key);
      metrics.reconcileTotal.inc({ provider, result: outcome.action });
      if (outcome.recheckAfterMs !== undefined) queue.addAfter(key, outcome.recheckAfterMs);
      return;
    case 'retryAfter':
      metrics.reconcileTotal.inc({ provider, result: 'inProgress' });
      queue.addAfter(key, outcome.ms);
      return;
    case 'failed': {
      const delay = queue.addRateLimited(key, { slow: outcome.configError });
      metrics.reconcileTotal.inc({ provider, result: 'error' });
      metrics.reconcileErrors.inc({ provider, kind: outcome.configError ? 'config' : 'provider' });
      const err = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      // Once per attempt: when a Warning Event told of it, the recorder has logged it already.
      (outcome.reported ? logger.debug : logger.warn).call(logger, { service: key, err, retryInMs: delay, configError: outcome.configError }, 'reconcile failed');
      return;
    }
  }
}
