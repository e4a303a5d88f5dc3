/**
 * Why an outgoing fetch failed, in a word a person can act on: fetch's own message is only
 * "fetch failed", the cause says what. Never the URL (a webhook's path is its secret).
 */
export function fetchFailureOf(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  if (error.name === "TimeoutError" || error.name === "AbortError") return "timed out";
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === "string") return cause.code;
  return typeof cause?.message === "string" ? cause.message : error.name;
}
