// Fault injection for the fake Compute server: a rule matches calls by method and operation
// ("healthChecks.insert", "operations.get", ...) and answers the next `times` of them with an error
// in the Google JSON error shape, instead of serving them.

export interface FaultRule {
  /** Operation id as counted by the fake, e.g. "backendServices.insert"; a RegExp matches several. */
  operation: string | RegExp;
  status: number;
  reason?: string;
  message?: string;
  /** How many matching calls fail; default 1. */
  times?: number;
  /** Serve the request first, then answer with the error (a reply lost after the server acted). */
  afterServe?: boolean;
  /** Accept the request, but let its operation finish DONE with this error instead of acting. */
  inOperation?: boolean;
}

const defaultReasons: Record<number, string> = {
  400: 'invalid',
  403: 'quotaExceeded',
  404: 'notFound',
  409: 'alreadyExists',
  429: 'rateLimitExceeded',
  500: 'backendError',
  503: 'backendError',
};

export class FaultInjector {
  private rules: Array<FaultRule & { left: number }> = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.rules = [];
  }

  /** Consumes a matching rule, if any, and returns the error to answer with. */
  take(operation: string): { status: number; body: GoogleErrorBody; rule: FaultRule } | undefined {
    const rule = this.rules.find((r) => r.left > 0 && (typeof r.operation === 'string' ? r.operation === operation : r.operation.test(operation)));
    if (!rule) return undefined;
    rule.left -= 1;
    return { rule, status: rule.status, body: googleError(rule.status, rule.message ?? `injected ${rule.status} on ${operation}`, rule.reason) };
  }
}

export interface GoogleErrorBody {
  error: { code: number; message: string; errors: Array<{ domain: string; reason: string; message: string }> };
}

export function googleError(status: number, message: string, reason?: string): GoogleErrorBody {
  return {
    error: { code: status, message, errors: [{ domain: 'global', reason: reason ?? defaultReasons[status] ?? 'error', message }] },
  };
}
