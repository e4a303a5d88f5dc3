/**
 * Connection usage is the server's, not one database's: another client filling every slot from
 * another database must show in the metric, the snapshot's judgement, its alert and db:inspect.
 * On a server of its own (max_connections 20), so the rest of the suite keeps its connections.
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { inspectionReport } from "../../functions/inspection-report.js";
import { takeStatsSnapshot } from "../../functions/stats-snapshot.js";
import { migrate } from "../../lib/db/migrate.js";
import { directDb } from "../../lib/db/pool.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "../../lib/local/embedded.js";
import { useConfig } from "../harness/config.js";
import { TEST_DATABASE_URL, TEST_POOLER_URL } from "../harness/file-database.js";
import { serve, type RunningServer } from "../harness/http.js";
import { freePort, sharedTempDir } from "../harness/net.js";
import { databaseUrl } from "../harness/postgres-admin.js";
import { webhookReceiver, type WebhookReceiver } from "../harness/webhook.js";

const TOKEN = "metrics-token-0123456789abcdef";
let database: EmbeddedServer;
let dataRoot: string;
let server: RunningServer;
let hook: WebhookReceiver;
const others: postgres.Sql[] = [];

beforeAll(async () => {
  dataRoot = await sharedTempDir("gap-saturation-");
  database = await startEmbeddedPostgres({
    dataDir: path.join(dataRoot, "data"),
    port: await freePort(),
    settings: { max_connections: "20" },
    systemExtensions: [],
  });
  const admin = postgres(database.url, { max: 1, onnotice: () => undefined });
  await migrate(admin);
  await admin`create database other_app`;
  await admin.end();
  hook = await webhookReceiver();
  await useConfig({ DATABASE_URL: database.url, SUPABASE_POOLER_URL: "", METRICS_TOKEN: TOKEN, ALERT_WEBHOOK_URL: hook.url });
  server = await serve();
});
afterAll(async () => {
  await server.close();
  await Promise.all(others.map((sql) => sql.end({ timeout: 0 })));
  await useConfig({ DATABASE_URL: TEST_DATABASE_URL, SUPABASE_POOLER_URL: TEST_POOLER_URL, METRICS_TOKEN: "", ALERT_WEBHOOK_URL: "" });
  await hook.close();
  await database.stop();
  await rm(dataRoot, { recursive: true, force: true });
});

function value(body: string, series: string): number {
  const line = body.split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1));
}

describe("another database filling the server's connection slots", () => {
  it("shows in the usage ratio, the snapshot's judgement and its alert, and db:inspect, with this database's share beside it", async () => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await directDb()`select 1`;
    // 20 slots, 3 reserved for superusers: 17 usable. Fourteen other clients, and ours.
    for (let i = 0; i < 14; i++) {
      const client = postgres(databaseUrl(database.url, "other_app"), { max: 1, onnotice: () => undefined });
      await client`select 1`;
      others.push(client);
    }
    const response = await fetch(`${server.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = await response.text();
    expect(value(body, "gap_connection_usage_ratio")).toBeGreaterThan(0.85);
    expect(value(body, "gap_database_connection_usage_ratio")).toBeLessThan(0.2);

    const snapshot = await takeStatsSnapshot();
    if (snapshot.status !== "taken") throw new Error("expected a snapshot");
    expect(snapshot.thresholds.find((t) => t.metric === "connection_pool_usage_ratio")).toMatchObject({ status: "alert" });
    const alert = hook.received
      .map((r) => (r.body as { alert: { key: string; status: string } }).alert)
      .find((a) => a.key === "threshold:connection_pool_usage_ratio");
    expect(alert?.status).toBe("firing");

    const report = await inspectionReport(directDb(), ["connections"]);
    const [usage] = report.connections?.tables.usage as Array<{
      total: number;
      usable: number;
      usageRatio: number;
      thisDatabase: number;
      thisDatabaseRatio: number;
    }>;
    expect(usage).toMatchObject({ usable: 17 });
    expect(usage?.total).toBeGreaterThanOrEqual(15);
    expect(usage?.usageRatio).toBeGreaterThan(0.85);
    expect(usage?.thisDatabase).toBeLessThan(4);
    vi.restoreAllMocks();
  });
});
