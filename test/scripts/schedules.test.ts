/** `npm run jobs:schedules` as an operator runs it after a deploy, against QStash's schedules API as a fake that records every request. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { qstashScheduleId, SCHEDULE_RETRIES, SCHEDULE_RETRY_DELAY } from "../../lib/jobs/qstash-schedules.js";
import { freePort } from "../harness/net.js";
import { fakeQstashSchedules, type FakeQstashSchedules } from "../harness/qstash.js";
import { runScript } from "../harness/scripts.js";

const TOKEN = "qstash-token-0123456789";
const PUBLIC_URL = "https://platform.example.com";
const snapshotId = qstashScheduleId("stats-snapshot", PUBLIC_URL);
const rpoId = qstashScheduleId("backup-rpo", PUBLIC_URL);

let qstash: FakeQstashSchedules;

beforeAll(async () => {
  qstash = await fakeQstashSchedules(TOKEN);
});
afterAll(() => qstash.close());
beforeEach(() => {
  qstash.schedules.clear();
  qstash.requests.length = 0;
});

function schedules(args: string[], env: Record<string, string> = {}) {
  return runScript("schedules", args, { QSTASH_URL: qstash.url, QSTASH_TOKEN: TOKEN, PUBLIC_URL, ...env });
}

/** The requests that changed something, as QStash received them. */
function changes() {
  return qstash.requests.filter((request) => request.method !== "GET");
}

function createRequest(job: string, scheduleId: string, cron: string) {
  return expect.objectContaining({
    method: "POST",
    path: `/v2/schedules/${PUBLIC_URL}/api/cron/${job}`,
    body: "",
    headers: expect.objectContaining({
      authorization: `Bearer ${TOKEN}`,
      "upstash-schedule-id": scheduleId,
      "upstash-cron": cron,
      "upstash-method": "POST",
      "upstash-retries": String(SCHEDULE_RETRIES),
      "upstash-retry-delay": SCHEDULE_RETRY_DELAY,
    }),
  });
}

describe("npm run jobs:schedules", () => {
  it("names everything it is missing in one line, exits 1 and asks QStash nothing", async () => {
    const both = await schedules([], { QSTASH_TOKEN: "", PUBLIC_URL: "", VERCEL_PROJECT_PRODUCTION_URL: "" });
    expect(both.code).toBe(1);
    expect(both.stderr.trim()).toBe(
      "error: Invalid configuration: QSTASH_TOKEN and PUBLIC_URL (the deployment's public base URL, e.g. https://your-app.vercel.app) must be set to manage the QStash schedules",
    );
    const token = await schedules([], { QSTASH_TOKEN: "" });
    expect(token.code).toBe(1);
    expect(token.stderr.trim()).toBe("error: Invalid configuration: QSTASH_TOKEN must be set to manage the QStash schedules");
    expect(qstash.requests).toEqual([]);
  });

  it("shows what the table wants against what exists, changing nothing without --apply", async () => {
    const run = await schedules([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/stats-snapshot\s+\*\/5 \* \* \* \*\s+QStash\s+missing: --apply creates it/);
    expect(run.stdout).toMatch(/backup-rpo\s+\*\/15 \* \* \* \*\s+QStash\s+missing: --apply creates it/);
    expect(run.stdout).toMatch(/backup\s+0 3 \* \* \*\s+Vercel Cron\s+vercel\.json/);
    expect(run.stdout).toContain("2 changes to make: run npm run jobs:schedules -- --apply");
    expect(qstash.requests.map((request) => `${request.method} ${request.path}`)).toEqual(["GET /v2/schedules"]);

    // On Vercel, PUBLIC_URL defaults to the production URL Vercel sets.
    const onVercel = await schedules([], { PUBLIC_URL: "", VERCEL_PROJECT_PRODUCTION_URL: "platform.example.com" });
    expect(onVercel.stdout).toContain("QStash schedules for https://platform.example.com (UTC):");
  });

  it("--apply creates each frequent job's schedule under its stable id, then changes nothing when run again", async () => {
    const first = await schedules(["--apply"]);
    expect(first.code).toBe(0);
    expect(changes()).toEqual([createRequest("stats-snapshot", snapshotId, "*/5 * * * *"), createRequest("backup-rpo", rpoId, "*/15 * * * *")]);
    expect(first.stdout).toContain(`created stats-snapshot: ${snapshotId} -> ${PUBLIC_URL}/api/cron/stats-snapshot (*/5 * * * *)`);
    expect([...qstash.schedules.keys()].sort()).toEqual([rpoId, snapshotId].sort());

    qstash.requests.length = 0;
    const again = await schedules(["--apply"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("QStash has every schedule of the table; nothing to change.");
    expect(again.stdout).toContain(`scheduled (${snapshotId})`);
    expect(changes()).toEqual([]);
  });

  it("--apply updates a drifted schedule, resumes a paused one, removes this deployment's unwanted ones and leaves everyone else's alone", async () => {
    const base = { method: "POST", retries: SCHEDULE_RETRIES, retryDelayExpression: SCHEDULE_RETRY_DELAY };
    qstash.seed({ ...base, scheduleId: snapshotId, destination: `${PUBLIC_URL}/api/cron/stats-snapshot`, cron: "*/10 * * * *" });
    // Paused, its retry delay handed back unspaced: only the pause differs.
    qstash.seed({
      ...base,
      scheduleId: rpoId,
      destination: `${PUBLIC_URL}/api/cron/backup-rpo`,
      cron: "*/15 * * * *",
      isPaused: true,
      retryDelayExpression: SCHEDULE_RETRY_DELAY.replaceAll(" ", ""),
    });
    // Made by hand for a job Vercel Cron runs: it would run the backup twice.
    qstash.seed({ ...base, scheduleId: "scd_by_hand", destination: `${PUBLIC_URL}/api/cron/backup`, cron: "0 3 * * *" });
    // An id of this deployment for a job the table gives Vercel Cron.
    qstash.seed({
      ...base,
      scheduleId: qstashScheduleId("dr-drill", PUBLIC_URL),
      destination: "https://old-name.example.com/api/cron/dr-drill",
      cron: "0 4 * * 0",
    });
    // Another deployment's schedules, and another application's.
    const staging = qstashScheduleId("stats-snapshot", "https://staging.example.com");
    qstash.seed({ ...base, scheduleId: staging, destination: "https://staging.example.com/api/cron/stats-snapshot", cron: "*/5 * * * *" });
    qstash.seed({ ...base, scheduleId: "scd_other_app", destination: "https://other.example.com/tick", cron: "* * * * *" });

    const shown = await schedules([]);
    expect(shown.stdout).toContain("differs (cron */10 * * * * -> */5 * * * *): --apply updates it");
    expect(shown.stdout).toContain("differs (paused -> running): --apply updates it");
    expect(shown.stdout).toContain(`not in the table: scd_by_hand -> ${PUBLIC_URL}/api/cron/backup (0 3 * * *): --apply removes it`);
    expect(shown.stdout).toContain("2 other schedules of this QStash account left alone.");
    expect(shown.stdout).toContain(
      `note: ${staging} delivers to https://staging.example.com/api/cron/stats-snapshot, not under PUBLIC_URL: another deployment's, or this one's under an earlier PUBLIC_URL`,
    );
    expect(shown.stdout).not.toContain("note: scd_other_app");
    expect(changes()).toEqual([]);

    const applied = await schedules(["--apply"]);
    expect(applied.code).toBe(0);
    expect(changes()).toEqual([
      createRequest("stats-snapshot", snapshotId, "*/5 * * * *"),
      createRequest("backup-rpo", rpoId, "*/15 * * * *"),
      expect.objectContaining({ method: "PATCH", path: `/v2/schedules/${rpoId}/resume` }),
      expect.objectContaining({ method: "DELETE", path: "/v2/schedules/scd_by_hand" }),
      expect.objectContaining({ method: "DELETE", path: `/v2/schedules/${qstashScheduleId("dr-drill", PUBLIC_URL)}` }),
    ]);
    expect([...qstash.schedules.keys()].sort()).toEqual([rpoId, snapshotId, staging, "scd_other_app"].sort());
    expect(qstash.schedules.get(snapshotId)?.cron).toBe("*/5 * * * *");
    expect(qstash.schedules.get(rpoId)?.isPaused).toBe(false);
  });

  it("says what QStash answered when it refuses the token, with exit 1 and no stack trace", async () => {
    const run = await schedules(["--apply"], { QSTASH_TOKEN: "not-the-token" });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: QStash did not list its schedules: .*invalid token/m);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(changes()).toEqual([]);
  });

  it("says QStash is unreachable when it is, with exit 1", async () => {
    const run = await schedules([], { QSTASH_URL: `http://127.0.0.1:${await freePort()}` });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: QStash did not list its schedules: unreachable \(ECONNREFUSED\)$/m);
  });
});
