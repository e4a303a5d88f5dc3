import { Redis as RedisClient } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { alerter, type Alerter } from "../../../lib/alerts/alerts.js";
import { loggedDelivery, webhookDelivery } from "../../../lib/alerts/delivery.js";
import { memoryStore, upstashStore, type CacheStore } from "../../../lib/cache/store.js";
import { startUpstashBridge, type UpstashBridge } from "../../fixtures/upstash-bridge.js";
import { freePort } from "../../harness/net.js";
import { redisAvailable, redisDatabaseUrl } from "../../harness/services.js";
import { webhookReceiver, type WebhookReceiver } from "../../harness/webhook.js";

const REPEAT_MS = 60 * 60 * 1000;
const REDIS_DB = 12;
const hasRedis = await redisAvailable();
let hook: WebhookReceiver;
let clock = Date.parse("2026-11-27T10:00:00Z");
const now = () => clock;

beforeAll(async () => {
  hook = await webhookReceiver();
});
afterAll(() => hook.close());
beforeEach(() => {
  hook.received.length = 0;
  hook.answer(200);
  vi.restoreAllMocks();
});

function alertsOn(store: CacheStore): Alerter {
  return alerter({ store, deliver: webhookDelivery(hook.url, { timeoutMs: 500, retryDelaysMs: [] }), repeatMs: REPEAT_MS, now });
}

const statusesSent = () => hook.received.map((r) => (r.body as { alert: { status: string } }).alert.status);

function dedupContract(name: string, makeStore: () => CacheStore) {
  describe(`deduplication with the ${name} store`, () => {
    let store: CacheStore;
    beforeAll(() => {
      store = makeStore();
    });

    it("sends an alert once, again after the repeat interval, and one resolved when cleared", async () => {
      const alerts = alertsOn(store);
      const key = `${name}:lock_wait`;
      const since = new Date(clock).toISOString();
      expect(await alerts.raise({ key, summary: "lock wait 512 ms", details: { value: 512 } })).toBe("sent");
      expect(hook.received).toEqual([
        {
          method: "POST",
          path: "/services/T0000/B0000/hook-secret-0123456789",
          contentType: "application/json",
          body: {
            text: `[FIRING] lock wait 512 ms (since ${since})`,
            alert: { key, status: "firing", summary: "lock wait 512 ms", since, at: since, details: { value: 512 } },
          },
        },
      ]);
      clock += 5 * 60 * 1000;
      expect(await alerts.raise({ key, summary: "lock wait 640 ms" })).toBe("suppressed");
      clock += REPEAT_MS;
      expect(await alerts.raise({ key, summary: "lock wait 700 ms" })).toBe("repeated");
      clock += 10 * 60 * 1000;
      expect(await alerts.clear(key, "lock wait 120 ms, back under 500 ms")).toBe("resolved");
      expect(await alerts.clear(key)).toBe("not-firing");
      expect(statusesSent()).toEqual(["firing", "firing", "resolved"]);
      expect(hook.received[2]?.body).toMatchObject({
        text: "[RESOLVED] lock wait 120 ms, back under 500 ms (fired for 75 min; it fired with: lock wait 700 ms)",
        alert: { key, status: "resolved", since, summary: "lock wait 120 ms, back under 500 ms", details: { fired: "lock wait 700 ms" } },
      });
    });

    it("sends once when many instances raise the same alert at the same moment", async () => {
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => alertsOn(store).raise({ key: `${name}:crowd`, summary: "down" })));
      expect(outcomes.filter((o) => o === "sent")).toHaveLength(1);
      expect(outcomes.filter((o) => o === "suppressed")).toHaveLength(9);
      expect(hook.received).toHaveLength(1);
    });

    it("does not count a failed delivery as sent: the next raise tries again", async () => {
      const alerts = alertsOn(store);
      hook.answer(500);
      expect(await alerts.raise({ key: `${name}:retry`, summary: "job failed" })).toBe("undelivered");
      hook.answer(200);
      expect(await alerts.raise({ key: `${name}:retry`, summary: "job failed" })).toBe("sent");
      expect(await alerts.raise({ key: `${name}:retry`, summary: "job failed" })).toBe("suppressed");
      hook.answer(503);
      expect(await alerts.clear(`${name}:retry`)).toBe("undelivered");
      hook.answer(200);
      expect(await alerts.clear(`${name}:retry`)).toBe("resolved");
      expect(statusesSent()).toEqual(["firing", "firing", "resolved", "resolved"]);
    });
  });
}

dedupContract("memory", () => memoryStore({ now }));

describe.skipIf(!hasRedis)("with Upstash (a real Redis behind an Upstash-compatible bridge)", () => {
  let bridge: UpstashBridge;
  beforeAll(async () => {
    const redis = new RedisClient(redisDatabaseUrl(REDIS_DB));
    await redis.flushdb();
    redis.disconnect();
    bridge = await startUpstashBridge(redisDatabaseUrl(REDIS_DB));
  });
  afterAll(() => bridge.close());
  dedupContract("upstash", () => upstashStore({ url: bridge.url, token: bridge.token, timeoutMs: 1000 }));
});

describe("when things fail", () => {
  it("sends the alert anyway when the store fails: a duplicate is better than a miss", async () => {
    const broken: CacheStore = {
      ...memoryStore({ now }),
      acquireLock: () => Promise.reject(new Error("connection refused")),
    };
    const warned = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const alerts = alertsOn(broken);
    expect(await alerts.raise({ key: "broken", summary: "database down" })).toBe("sent");
    expect(await alerts.raise({ key: "broken", summary: "database down" })).toBe("sent");
    expect(await alerts.clear("broken")).toBe("not-firing");
    expect(statusesSent()).toEqual(["firing", "firing"]);
    expect(warned.mock.calls.map((c) => String(c[0])).join("\n")).toContain("alert state unavailable: sending without deduplication");
  });

  it("gives up on a webhook that does not answer within the timeout, and says why without the URL", async () => {
    hook.answer(200, 2000);
    const started = Date.now();
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const deliver = loggedDelivery({ webhookUrl: hook.url, throughQstash: false, retryDelaysMs: [10, 10] });
    const slow = await webhookDelivery(hook.url, { timeoutMs: 200, retryDelaysMs: [] })({
      key: "k",
      status: "firing",
      summary: "s",
      since: "",
      at: "",
      details: {},
    });
    expect(slow).toEqual({ ok: false, reason: "webhook unreachable: timed out", attempts: 1 });
    expect(Date.now() - started).toBeLessThan(1500);
    // A 404 says the request is wrong: no second try.
    hook.answer(404);
    hook.received.length = 0;
    expect(await deliver({ key: "k", status: "firing", summary: "s", since: "", at: "", details: {} })).toEqual({
      ok: false,
      reason: "webhook answered 404",
      attempts: 1,
    });
    expect(hook.received).toHaveLength(1);
    // Nothing listening: tried again after each wait, then given up.
    const closed = new URL(hook.url);
    closed.port = String(await freePort());
    expect(
      await webhookDelivery(closed.toString(), { retryDelaysMs: [10, 10] })({ key: "k", status: "firing", summary: "s", since: "", at: "", details: {} }),
    ).toEqual({
      ok: false,
      reason: "webhook unreachable: ECONNREFUSED",
      attempts: 3,
    });
    const logged = errors.mock.calls.map((c) => String(c[0])).join("\n");
    expect(logged).toContain('"message":"alert firing"');
    expect(logged).toContain('"reason":"webhook answered 404"');
    expect(logged).not.toContain("hook-secret");
  });

  it("logs the alert when no webhook is configured", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const alerts = alerter({
      store: memoryStore({ now }),
      deliver: loggedDelivery({ webhookUrl: undefined, throughQstash: false, retryDelaysMs: [] }),
      repeatMs: REPEAT_MS,
      now,
    });
    expect(await alerts.raise({ key: "nohook", summary: "lock wait 512 ms" })).toBe("sent");
    const [line] = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(line).toMatchObject({ level: "error", message: "alert firing", key: "nohook", summary: "lock wait 512 ms", delivered: "no ALERT_WEBHOOK_URL" });
    expect(hook.received).toEqual([]);
  });
});
