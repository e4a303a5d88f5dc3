/**
 * Failure alerts reach a webhook that is down for a while, once: through QStash (which retries
 * and, when it gives up, calls the failure callback) when QSTASH_TOKEN is set, else retried in
 * process and then by the next scheduled run. The webhook's URL (a Slack hook's path is its
 * secret) appears in no log line. QStash is a fake that records the exact publish request and
 * delivers as QStash does (deduplication, retries, the signed failure report).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { overview } from "../../functions/dashboard.js";
import { platformAlerts, redeliverAlerts } from "../../lib/alerts/alerts.js";
import { directDb } from "../../lib/db/pool.js";
import { monitored } from "../../lib/jobs/monitored.js";
import { useConfig } from "../harness/config.js";
import { serve, type RunningServer } from "../harness/http.js";
import { fakeQstash, qstashSignature, type FakeQstash, TEST_QSTASH } from "../harness/qstash.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";

const { currentSigningKey: CURRENT_KEY, nextSigningKey: NEXT_KEY, token: TOKEN } = TEST_QSTASH;

const SECRET_PATH = "hook-secret-0123456789";
let hook: WebhookReceiver;
let qstash: FakeQstash;
let server: RunningServer;
const METHODS = ["error", "log", "warn"] as const;
const consoles: Partial<Record<(typeof METHODS)[number], MockInstance>> = {};
const linesOf = (method: (typeof METHODS)[number]) => (consoles[method]?.mock.calls ?? []).map((c) => String(c[0]));

beforeAll(async () => {
  hook = await webhookReceiver();
  qstash = await fakeQstash({ signingKey: CURRENT_KEY, retryDelayMs: 20 });
  server = await serve();
});
afterAll(async () => {
  await server.close();
  await qstash.close();
  await hook.close();
});
beforeEach(async () => {
  hook.received.length = 0;
  hook.answer(200);
  qstash.published.length = 0;
  qstash.answer(201);
  await directDb()`delete from ops.alert_events`;
  for (const method of METHODS) consoles[method] = vi.spyOn(console, method).mockImplementation(() => undefined);
});
afterEach(() => {
  // Every line logged, firing or resolved, delivered or not: never the webhook's secret path.
  expect(METHODS.flatMap(linesOf).join("\n")).not.toContain(SECRET_PATH);
  vi.restoreAllMocks();
});

const throughQstash = () =>
  useConfig({
    ALERT_WEBHOOK_URL: hook.url,
    QSTASH_URL: qstash.url,
    QSTASH_TOKEN: TOKEN,
    QSTASH_CURRENT_SIGNING_KEY: CURRENT_KEY,
    QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
    PUBLIC_URL: server.baseUrl,
  });
// Three tries as in production, with shorter waits between them (ALERT_RETRY_DELAYS_MS).
const direct = () => useConfig({ ALERT_WEBHOOK_URL: hook.url, QSTASH_TOKEN: "", ALERT_RETRY_DELAYS_MS: "50,100" });

async function history() {
  return directDb()<{ key: string; status: string; delivery: string; reason: string | null; messageId: string | null; attempts: number }[]>`
    select key, status, delivery, delivery_reason as reason, qstash_message_id as "messageId", attempts from ops.alert_events order by id`;
}

const logLines = (method: (typeof METHODS)[number]) => linesOf(method).map((line) => JSON.parse(line) as Record<string, unknown>);

describe("alerts through QStash (QSTASH_TOKEN set)", () => {
  it("publishes each message to the webhook through QStash: this exact request, deduplicated by key, status and start time", async () => {
    await throughQstash();
    const alerts = platformAlerts();
    expect(await alerts.raise({ key: "job:backup", summary: "job backup failed: pg_dump exited 1", details: { job: "backup" } })).toBe("sent");
    expect(qstash.published).toHaveLength(1);
    const [request] = qstash.published;
    const body = JSON.parse(request?.body ?? "{}") as { text: string; alert: { since: string; at: string } };
    const since = body.alert.since;
    expect(request?.path).toBe(`/v2/publish/${hook.url}`);
    expect(request?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
      "upstash-retries": "3",
      "upstash-deduplication-id": `job:backup.firing.${since}`,
      "upstash-method": "POST",
      "upstash-failure-callback": `${server.baseUrl}/api/jobs/failed`,
    });
    // The body the webhook gets is the one a direct delivery sends: Slack's `text`, and `alert` for machines.
    expect(body).toEqual({
      text: `[FIRING] job backup failed: pg_dump exited 1 (since ${since})`,
      alert: { key: "job:backup", status: "firing", summary: "job backup failed: pg_dump exited 1", since, at: body.alert.at, details: { job: "backup" } },
    });
    await qstash.settled();
    expect(hook.accepted().map((r) => r.body)).toEqual([body]);
    expect(await history()).toEqual([{ key: "job:backup", status: "firing", delivery: "queued", reason: null, messageId: "msg_1", attempts: 1 }]);

    // A repeated raise within the repeat interval publishes nothing new; the resolution is its own message.
    expect(await alerts.raise({ key: "job:backup", summary: "job backup failed again" })).toBe("suppressed");
    expect(qstash.published).toHaveLength(1);
    expect(await alerts.clear("job:backup", "job backup succeeded")).toBe("resolved");
    expect(qstash.published.map((r) => r.headers["upstash-deduplication-id"])).toEqual([`job:backup.firing.${since}`, `job:backup.resolved.${since}`]);
    await qstash.settled();
    expect(hook.accepted().map((r) => (r.body as { alert: { status: string } }).alert.status)).toEqual(["firing", "resolved"]);
  });

  it("gets a message to a webhook that refuses its first two deliveries, once", async () => {
    await throughQstash();
    hook.refuseNext(2, 503);
    expect(await platformAlerts().raise({ key: "backup:rpo", summary: "the newest backup is 30 h old" })).toBe("sent");
    await qstash.settled();
    expect(hook.received).toHaveLength(3);
    expect(hook.accepted()).toHaveLength(1);
    expect((hook.accepted()[0]?.body as { alert: { key: string } }).alert.key).toBe("backup:rpo");
  });

  it("sends a repeated publish of the same message once: QStash answers it with the first message's id", async () => {
    await throughQstash();
    // The alert state lost between two raises (a cache flushed): the same message, the same deduplication id.
    const alerts = platformAlerts();
    await alerts.raise({ key: "threshold:lock_wait_ms", summary: "lock wait 900 ms" });
    const [first] = qstash.published;
    const dedup = first?.headers["upstash-deduplication-id"];
    const again = await fetch(`${qstash.url}/v2/publish/${hook.url}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", "upstash-deduplication-id": String(dedup) },
      body: first?.body ?? "",
    });
    expect(again.status).toBe(202);
    await qstash.settled();
    expect(hook.accepted()).toHaveLength(1);
  });

  it("marks the message undelivered with QStash's last answer when QStash gives up, logs it, and publishes nothing about it", async () => {
    await throughQstash();
    hook.answer(503);
    expect(await platformAlerts().raise({ key: "job:dr-drill", summary: "job dr-drill failed: restore exited 1" })).toBe("sent");
    await qstash.settled();
    expect(hook.received).toHaveLength(4);
    expect(await history()).toEqual([
      {
        key: "job:dr-drill",
        status: "firing",
        delivery: "undelivered",
        reason: "QStash gave up delivering it to ALERT_WEBHOOK_URL after 3 retries (its last answer was HTTP 503)",
        messageId: "msg_1",
        attempts: 1,
      },
    ]);
    expect(logLines("error").find((line) => line.message === "alert undelivered")).toMatchObject({
      key: "job:dr-drill",
      status: "firing",
      reason: "QStash gave up delivering it to ALERT_WEBHOOK_URL after 3 retries (its last answer was HTTP 503)",
      qstashMessageId: "msg_1",
      inHistory: true,
    });
    // Nothing loops: the alert about an undelivered alert is not itself published.
    expect(qstash.published).toHaveLength(1);
    // The dashboard's alert history says so.
    const { alerts } = await overview("24h");
    expect(alerts.history).toMatchObject([
      { key: "job:dr-drill", delivered: false, delivery: "undelivered", deliveryReason: expect.stringContaining("QStash gave up") as unknown },
    ]);
  });

  it("refuses a failure report for an alert that QStash did not sign", async () => {
    await throughQstash();
    await platformAlerts().raise({ key: "job:backup", summary: "job backup failed" });
    const [request] = qstash.published;
    const report = JSON.stringify({
      url: hook.url,
      sourceBody: Buffer.from(request?.body ?? "").toString("base64"),
      sourceMessageId: "msg_1",
      status: 503,
      retried: 3,
    });
    const callback = `${server.baseUrl}/api/jobs/failed`;
    const unsigned = await fetch(callback, { method: "POST", headers: { "content-type": "application/json" }, body: report });
    const forged = await fetch(callback, {
      method: "POST",
      headers: { "content-type": "application/json", "upstash-signature": await qstashSignature("sig_forger_0123456789abcdefghij", callback, report) },
      body: report,
    });
    expect([unsigned.status, forged.status]).toEqual([401, 401]);
    await qstash.settled();
    expect((await history()).map((row) => row.delivery)).toEqual(["queued"]);
  });

  it("keeps the message to send again, and names QStash's refusal without the webhook's URL, when QStash does not take it", async () => {
    await throughQstash();
    qstash.answer(400, `invalid destination ${hook.url}`);
    expect(await platformAlerts().raise({ key: "job:backup", summary: "job backup failed" })).toBe("undelivered");
    const [row] = await history();
    expect(row).toMatchObject({ delivery: "retrying", messageId: null });
    expect(row?.reason).toContain("QStash did not take the alert message");
    expect(row?.reason).toContain("<destination>");
    expect(row?.reason).not.toContain(SECRET_PATH);
    // QStash is back: the next scheduled run publishes it.
    qstash.answer(201);
    expect(await redeliverAlerts({ now: Date.now() + 120_000 })).toEqual({ retried: 1, delivered: 1, abandoned: 0 });
    expect((await history()).map((r) => r.delivery)).toEqual(["queued"]);
  });
});

describe("alerts without QStash", () => {
  it("gets a message to a webhook down for its first two tries, once, trying again in process", async () => {
    await direct();
    hook.refuseNext(2, 503);
    expect(await platformAlerts().raise({ key: "job:backup", summary: "job backup failed" })).toBe("sent");
    expect(hook.received).toHaveLength(3);
    expect(hook.accepted()).toHaveLength(1);
    expect(await history()).toEqual([{ key: "job:backup", status: "firing", delivery: "sent", reason: null, messageId: null, attempts: 3 }]);
    expect(qstash.published).toHaveLength(0);
  });

  it("sends a job's failure alert that no try reached again at the next scheduled run, once", async () => {
    await direct();
    hook.answer(503);
    await expect(monitored("backup", () => Promise.reject(new Error("pg_dump exited 1")))).rejects.toThrow("pg_dump exited 1");
    expect(hook.received).toHaveLength(3);
    expect(await history()).toMatchObject([{ key: "job:backup", delivery: "retrying", reason: "webhook answered 503", attempts: 3 }]);
    // A run within the minute leaves it to the one that made it.
    expect(await redeliverAlerts()).toEqual({ retried: 0, delivered: 0, abandoned: 0 });
    hook.answer(200);
    expect(await redeliverAlerts({ now: Date.now() + 120_000 })).toEqual({ retried: 1, delivered: 1, abandoned: 0 });
    expect(hook.accepted()).toHaveLength(1);
    expect((hook.accepted()[0]?.body as { text: string }).text).toMatch(/^\[FIRING\] job backup failed: pg_dump exited 1 \(since /);
    expect(await history()).toMatchObject([{ delivery: "sent", reason: null, attempts: 4 }]);
    // Delivered: the next runs send nothing more, and the alert's state knows it was heard (its resolution is sent).
    expect(await redeliverAlerts({ now: Date.now() + 240_000 })).toEqual({ retried: 0, delivered: 0, abandoned: 0 });
    await monitored("backup", () => Promise.resolve("ok"));
    expect(hook.accepted().map((r) => (r.body as { alert: { status: string } }).alert.status)).toEqual(["firing", "resolved"]);
  });

  it("tries once per message at the next run, and stops at the first that still fails: the run stays short while the webhook is down", async () => {
    await direct();
    hook.answer(503);
    await expect(monitored("backup", () => Promise.reject(new Error("pg_dump exited 1")))).rejects.toThrow();
    await expect(monitored("dr-drill", () => Promise.reject(new Error("restore exited 1")))).rejects.toThrow();
    hook.received.length = 0;
    expect(await redeliverAlerts({ now: Date.now() + 120_000 })).toEqual({ retried: 1, delivered: 0, abandoned: 0 });
    expect(hook.received).toHaveLength(1);
    expect(await history()).toMatchObject([
      { key: "job:backup", delivery: "retrying", attempts: 4 },
      { key: "job:dr-drill", delivery: "retrying", attempts: 3 },
    ]);
    hook.answer(200);
    expect(await redeliverAlerts({ now: Date.now() + 240_000 })).toEqual({ retried: 2, delivered: 2, abandoned: 0 });
    expect(hook.accepted().map((r) => (r.body as { alert: { key: string } }).alert.key)).toEqual(["job:backup", "job:dr-drill"]);
  });

  it("does not send a firing message again once the job has succeeded since", async () => {
    await direct();
    hook.answer(503);
    await expect(monitored("dr-drill", () => Promise.reject(new Error("restore exited 1")))).rejects.toThrow();
    hook.answer(200);
    await monitored("dr-drill", () => Promise.resolve("ok"));
    expect(await redeliverAlerts({ now: Date.now() + 120_000 })).toEqual({ retried: 1, delivered: 0, abandoned: 1 });
    expect(hook.accepted()).toHaveLength(0);
    expect(await history()).toMatchObject([{ delivery: "undelivered", reason: "not sent again: the alert was resolved or fired anew before it could be" }]);
  });
});
