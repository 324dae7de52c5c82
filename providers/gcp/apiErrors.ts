// How Compute API errors are told apart (the google-gax REST transport raises GoogleError with
// httpStatusCode). Throttling and 5xx are retried by cloudCall; the rest is the caller's.

export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { httpStatusCode?: unknown; code?: unknown; cause?: unknown };
  if (typeof e.httpStatusCode === 'number') return e.httpStatusCode;
  // gRPC codes gax uses for transport failures: UNAVAILABLE, DEADLINE_EXCEEDED.
  if (e.code === 14 || e.code === 4) return 503;
  if (e.cause && e.cause !== error) return httpStatusOf(e.cause);
  return undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function classifyComputeError(error: unknown): 'throttled' | 'transient' | 'fatal' {
  const status = httpStatusOf(error);
  if (status === 429) return 'throttled';
  // GCP also answers rate limits as 403 rateLimitExceeded / userRateLimitExceeded.
  if (status === 403 && /rate ?limit/i.test(messageOf(error))) return 'throttled';
  if (status !== undefined && status >= 500) return 'transient';
  if (status === undefined) return 'transient';
  return 'fatal';
}

export function isNotFound(error: unknown): boolean {
  return httpStatusOf(error) === 404;
}

export function isAlreadyExists(error: unknown): boolean {
  return httpStatusOf(error) === 409;
}

/** A request the user must fix: bad request, quota, permission. */
export function isUserFacing(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 400 || status === 403;
}

/** p-retry wraps fatal errors in AbortError; this reaches the original. */
export function unwrapAbort(error: unknown): unknown {
  if (error instanceof Error && error.name === 'AbortError' && (error as { originalError?: unknown }).originalError) {
    return (error as { originalError?: unknown }).originalError;
  }
  return error;
}
