/**
 * The frequent jobs as QStash Schedules run them: schedules made by `applySchedules` in a fake of
 * QStash's API, delivered by it, signed as QStash signs, to the real endpoints over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applySchedules, schedulesPlan } from "../../functions/schedules.js";
import { overrideConfig } from "../../lib/config.js";
import { closeDbPools, directDb } from "../../lib/db/pool.js";
import { qstashScheduleId } from "../../lib/jobs/qstash-schedules.js";
import { useConfig } from "../harness/config.js";
import { TEST_DATABASE_URL } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { freePort } from "../harness/net.js";
import { fakeQstashSchedules, qstashSignature, type FakeQstashSchedules, TEST_QSTASH } from "../harness/qstash.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";

const { currentSigningKey: CURRENT, nextSigningKey: NEXT, token: TOKEN } = TEST_QSTASH;

const CRON_SECRET = "cron-secret-0123456789abcdef";

let server: RunningServer;
let qstash: FakeQstashSchedules;
let hook: WebhookReceiver;
let snapshotSchedule: string;
let rpoSchedule: string;

beforeAll(async () => {
  server = await serve();
  qstash = await fakeQstashSchedules(TOKEN);
  hook = await webhookReceiver();
  await useConfig({
    PUBLIC_URL: server.baseUrl,
    QSTASH_URL: qstash.url,
    QSTASH_TOKEN: TOKEN,
    QSTASH_CURRENT_SIGNING_KEY: CURRENT,
    QSTASH_NEXT_SIGNING_KEY: NEXT,
    CRON_SECRET,
    ALERT_WEBHOOK_URL: hook.url,
  });
  await applySchedules(await schedulesPlan());
  snapshotSchedule = qstashScheduleId("stats-snapshot", server.baseUrl);
  rpoSchedule = qstashScheduleId("backup-rpo", server.baseUrl);
});
afterAll(async () => {
  await Promise.all([server.close(), qstash.close(), hook.close()]);
});

async function snapshotCount(): Promise<number> {
  const [row] = await directDb()`select count(*)::int as n from ops.db_stats_snapshots`;
  return row?.n ?? 0;
}

async function answer(response: Response) {
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The alert messages published to QStash for the webhook (with QSTASH_TOKEN set, alerts go through QStash). */
const sentAlerts = (key: string) =>
  qstash.requests
    .filter((r) => r.path === `/v2/publish/${hook.url}`)
    .map((r) => (JSON.parse(r.body) as { alert: { key: string; status: string } }).alert)
    .filter((alert) => alert.key === key);

/** A POST to the stats snapshot's endpoint with a signature made as given. */
async function signedSnapshotPost({
  key = CURRENT,
  signedUrl = `${server.baseUrl}/api/cron/stats-snapshot`,
  signedBody = "",
  body = "",
  at = new Date(),
} = {}) {
  return answer(
    await fetch(`${server.baseUrl}/api/cron/stats-snapshot`, {
      method: "POST",
      headers: { "upstash-signature": await qstashSignature(key, signedUrl, signedBody, { at }), "content-type": "application/json" },
      body,
    }),
  );
}

describe("scheduled endpoints refuse every caller but Vercel Cron and QStash", () => {
  it.each([
    ["no credentials at all", async () => answer(await fetch(`${server.baseUrl}/api/cron/stats-snapshot`, { method: "POST" }))],
    ["a signature made with another key", () => signedSnapshotPost({ key: "sig_attacker_0123456789abcdefgh" })],
    ["a signature for another job's URL", () => signedSnapshotPost({ signedUrl: `${server.baseUrl}/api/cron/backup-rpo` })],
    ["a signature for the same path on another host", () => signedSnapshotPost({ signedUrl: "https://attacker.example.com/api/cron/stats-snapshot" })],
    ["a signature over another body", () => signedSnapshotPost({ signedBody: "", body: '{"force":true}' })],
    ["a signature past its expiry", () => signedSnapshotPost({ at: new Date(Date.now() - 10 * 60_000) })],
  ])("%s: 401 with the one error shape, and no snapshot", async (_case, send) => {
    const refused = await send();
    expect(refused).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED", request_id: expect.any(String) } } });
    expect(await snapshotCount()).toBe(0);
  });

  it("a wrong bearer secret, by GET or POST: 401", async () => {
    for (const method of ["GET", "POST"]) {
      const response = await fetch(`${server.baseUrl}/api/cron/backup-rpo`, { method, headers: { authorization: "Bearer wrong-secret-0123456789" } });
      expect({ method, ...(await answer(response)) }).toMatchObject({ method, status: 401, body: { error: { code: "UNAUTHORIZED" } } });
    }
  });
});

describe("QStash's deliveries", () => {
  it("run the stats snapshot; a retried delivery in the same 5-minute slot changes nothing", async () => {
    const first = await answer(await qstash.deliver(snapshotSchedule, CURRENT));
    expect(first).toMatchObject({ status: 200, body: { status: "taken" } });
    const retried = await answer(await qstash.deliver(snapshotSchedule, CURRENT, { retried: 1 }));
    expect(retried).toMatchObject({ status: 200, body: { status: "duplicate", slot: first.body.slot } });
    // Vercel Cron's GET in the same slot (a job scheduled twice by mistake) changes nothing either.
    const fromVercel = await fetch(`${server.baseUrl}/api/cron/stats-snapshot`, { headers: { authorization: `Bearer ${CRON_SECRET}` } });
    expect(await answer(fromVercel)).toMatchObject({ status: 200, body: { status: "duplicate" } });
    expect(await snapshotCount()).toBe(1);
  });

  it("are taken when signed with the next signing key (QStash rotates its keys)", async () => {
    expect(await answer(await qstash.deliver(rpoSchedule, NEXT))).toMatchObject({ status: 200, body: { status: expect.stringMatching(/^(ok|late)$/) } });
  });

  it("run the recovery point watchdog: a late backup alerts once however often it is delivered", async () => {
    await directDb()`
      insert into ops.db_stats_snapshots (slot, taken_at, connections_by_state, database_size_bytes, blocked_sessions, longest_transaction_seconds, xid_age)
      values (now() - interval '30 hours', now() - interval '30 hours', '{}', 1, 0, 0, 1)`;
    for (const retried of [0, 1, 0]) {
      expect(await answer(await qstash.deliver(rpoSchedule, CURRENT, { retried }))).toMatchObject({ status: 200, body: { status: "late" } });
    }
    expect(sentAlerts("backup:rpo").map((alert) => alert.status)).toEqual(["firing"]);
  });

  it("answer 5xx when the run fails, so QStash retries; the job's alert fires once", async () => {
    await closeDbPools(0);
    overrideConfig({ DATABASE_URL: `postgres://nobody@127.0.0.1:${await freePort()}/none`, DB_CONNECTION_TIMEOUT: "500" });
    try {
      for (const retried of [0, 1]) {
        expect(await answer(await qstash.deliver(snapshotSchedule, CURRENT, { retried }))).toMatchObject({
          status: 503,
          body: { error: { code: "SERVICE_UNAVAILABLE" } },
        });
      }
    } finally {
      await closeDbPools(0);
      overrideConfig({ DATABASE_URL: TEST_DATABASE_URL, DB_CONNECTION_TIMEOUT: "" });
    }
    expect(sentAlerts("job:stats-snapshot").map((alert) => alert.status)).toEqual(["firing"]);
  });

  it("are refused with 503 while the deployment cannot check them (no PUBLIC_URL, no signing keys), running nothing", async () => {
    const before = await snapshotCount();
    overrideConfig({ PUBLIC_URL: "" });
    try {
      expect(await answer(await qstash.deliver(snapshotSchedule, CURRENT))).toMatchObject({ status: 503, body: { error: { code: "SERVICE_UNAVAILABLE" } } });
      overrideConfig({ PUBLIC_URL: server.baseUrl, QSTASH_CURRENT_SIGNING_KEY: "", QSTASH_NEXT_SIGNING_KEY: "" });
      expect(await answer(await qstash.deliver(snapshotSchedule, CURRENT))).toMatchObject({ status: 503, body: { error: { code: "SERVICE_UNAVAILABLE" } } });
    } finally {
      overrideConfig({ PUBLIC_URL: server.baseUrl, QSTASH_CURRENT_SIGNING_KEY: CURRENT, QSTASH_NEXT_SIGNING_KEY: NEXT });
    }
    expect(await snapshotCount()).toBe(before);
  });
});
