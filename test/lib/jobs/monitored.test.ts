/** A monitored job: its alert follows its outcome, and an alert that cannot be sent never hides the job's own error. */
import { describe, expect, it, onTestFinished } from "vitest";
import { alerter, type Alerter } from "../../../lib/alerts/alerts.js";
import { memoryStore } from "../../../lib/cache/store.js";
import { monitored } from "../../../lib/jobs/monitored.js";
import { quietConsole } from "../../harness/console.js";

function brokenAlerts(): Alerter {
  const broken = () => Promise.reject(new Error("alert store down"));
  return { raise: broken, clear: broken, retry: broken };
}

describe("monitored", () => {
  it("fires job:<name> when a run fails, rethrowing its error, and resolves it on the next success", async () => {
    const sent: string[] = [];
    const alerts = alerter({
      store: memoryStore(),
      deliver: async (message) => (sent.push(`${message.status} ${message.key} ${message.summary}`), { ok: true }),
      repeatMs: 60_000,
    });
    await expect(monitored("nightly", () => Promise.reject(new Error("disk full")), alerts)).rejects.toThrow("disk full");
    expect(await monitored("nightly", async () => 42, alerts)).toBe(42);
    expect(sent).toEqual(["firing job:nightly job nightly failed: disk full", "resolved job:nightly job nightly succeeded"]);
  });

  it("keeps the job's own error, and its result, when the alert cannot be sent", async () => {
    onTestFinished(quietConsole("error"));
    await expect(monitored("nightly", () => Promise.reject(new Error("disk full")), brokenAlerts())).rejects.toThrow("disk full");
    expect(await monitored("nightly", async () => "done", brokenAlerts())).toBe("done");
  });
});
