// HTTP status of an error from client-node (ApiException.code), or undefined for network errors.
export function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null) {
    const e = error as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}
