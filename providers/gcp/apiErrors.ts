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

/** Where google-gax keeps the raw body of a failed REST call (googleError.setRawHttpResponsePayload). */
const RAW_PAYLOAD = Symbol.for('google-gax.rawHttpResponsePayload');

/**
 * The Compute error `reason` ("conditionNotMet", "resourceNotReady", "memberAlreadyExists", ...).
 * gax keeps only an ErrorInfo reason; Compute puts its reason in error.errors[0].reason, which gax
 * drops from the error but keeps in the raw payload. Reasons are stable; messages are not.
 */
export function reasonOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { reason?: unknown; cause?: unknown; [RAW_PAYLOAD]?: unknown };
  if (typeof e.reason === 'string' && e.reason !== '') return e.reason;
  const raw = e[RAW_PAYLOAD];
  if (typeof raw === 'string') {
    try {
      const parsed = JSON.parse(raw) as { error?: { errors?: Array<{ reason?: unknown }> } };
      const reason = parsed.error?.errors?.[0]?.reason;
      if (typeof reason === 'string') return reason;
    } catch {
      // not JSON: no reason to read
    }
  }
  if (e.cause && e.cause !== error) return reasonOf(e.cause);
  return undefined;
}

export function classifyComputeError(error: unknown): 'throttled' | 'transient' | 'fatal' {
  const status = httpStatusOf(error);
  if (status === 429) return 'throttled';
  // GCP also answers rate limits as 403 rateLimitExceeded / userRateLimitExceeded.
  if (status === 403 && (/rateLimitExceeded$/i.test(reasonOf(error) ?? '') || /rate ?limit/i.test(messageOf(error)))) return 'throttled';
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

/** 412 conditionNotMet: the fingerprint sent is stale; read the resource again and retry. */
export function isStaleFingerprint(error: unknown): boolean {
  return httpStatusOf(error) === 412 || reasonOf(error) === 'conditionNotMet';
}

/** 400 resourceNotReady: a resource the request touches has an operation running; try again later. */
export function isResourceNotReady(error: unknown): boolean {
  return reasonOf(error) === 'resourceNotReady';
}

/** A request the user must fix: bad request, quota, permission. */
export function isUserFacing(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 400 || status === 403;
}

