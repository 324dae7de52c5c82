// The one test for "a JSON object" (not null, not an array) that the API server's patch, apply and
// validation code share.

export function isJsonObject<T = unknown>(v: unknown): v is Record<string, T> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
