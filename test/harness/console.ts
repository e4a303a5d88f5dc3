/** Keeps the log lines of failures a test provokes out of the run's output. */
import { vi } from "vitest";

/** For `beforeEach`: console's `methods` print nothing until the test ends (the returned cleanup restores every mock). */
export function quietConsole(...methods: Array<"error" | "log" | "warn">): () => void {
  for (const method of methods) vi.spyOn(console, method).mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
}
