/** The one way an error is put into words: its message, or the thrown value itself when it is not an Error. */
export function describedError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
