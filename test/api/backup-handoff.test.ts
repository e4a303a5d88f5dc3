/**
 * The backup cron on Vercel hands each run to the worker through QStash; the worker checks
 * QStash's signature and runs it once, however often it is delivered. QStash itself is a
 * fake that records the exact request; the worker is this project's own server.
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { directDb } from "../../lib/db/pool.js";
import { useConfig } from "../harness/config.js";
import { serve, type RunningServer } from "../harness/http.js";
import { fakeQstash, qstashSignature, type FakeQstash } from "../harness/qstash.js";
import { commandAvailable } from "../harness/services.js";

const SECRET = "cron-secret-0123456789abcdef";
const CURRENT_KEY = "sig_current_0123456789abcdefghij";
const NEXT_KEY = "sig_next_0123456789abcdefghijklm";
const TOKEN = "qstash-token-0123456789";
const withPgTools = commandAvailable("pg_dump") && commandAvailable("pg_restore");
let qstash: FakeQstash;
let worker: RunningServer;
let backupDir: string;
let jobUrl: string;

beforeAll(async () => {
  qstash = await fakeQstash();
  worker = await serve();
  backupDir = await mkdtemp(path.join(tmpdir(), "gap-handoff-"));
  jobUrl = `${worker.baseUrl}/api/jobs/backup`;
  await useConfig({
    CRON_SECRET: SECRET,
    BACKUP_WORKER_URL: worker.baseUrl,
    BACKUP_DIR: backupDir,
    QSTASH_URL: qstash.url,
    QSTASH_TOKEN: TOKEN,
    QSTASH_CURRENT_SIGNING_KEY: CURRENT_KEY,
    QSTASH_NEXT_SIGNING_KEY: NEXT_KEY,
  });
});
afterAll(async () => {
  await worker.close();
  await qstash.close();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(() => {
  qstash.published.length = 0;
  qstash.answer(201);
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  vi.spyOn(console, "log").mockImplementation(() => undefined);
  return () => {
    vi.restoreAllMocks();
  };
});

async function cron(): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${worker.baseUrl}/api/cron/backup`, { headers: { authorization: `Bearer ${SECRET}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A delivery as QStash makes it, signed with `key` for `signedUrl` and `signedBody`. */
async function deliver(body: string, { key = CURRENT_KEY, signedUrl = jobUrl, signedBody = body, signature }: { key?: string; signedUrl?: string; signedBody?: string; signature?: string | null } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const value = signature === undefined ? await qstashSignature(key, signedUrl, signedBody) : signature;
  if (value !== null) headers["upstash-signature"] = value;
  const response = await fetch(jobUrl, { method: "POST", headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function backupRow(id: string) {
  const [row] = await directDb()`select status, error, sha256 from ops.backups where id = ${id}`;
  return row;
}

describe("the backup cron with a worker", () => {
  it("records a requested run and publishes it to the worker through QStash: this exact request", async () => {
    const handed = await cron();
    expect(handed).toMatchObject({ status: 200, body: { status: "handed-off", messageId: "msg_1" } });
    const id = String(handed.body.id);
    expect(await backupRow(id)).toMatchObject({ status: "requested" });
    expect(qstash.published).toHaveLength(1);
    const [request] = qstash.published;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe(`/v2/publish/${jobUrl}`);
    expect(request?.headers).toMatchObject({
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
      "upstash-retries": "3",
      "upstash-deduplication-id": `backup-${id}`,
      "upstash-method": "POST",
    });
    expect(JSON.parse(request?.body ?? "")).toEqual({ backupId: id });
  });

  it("marks the run failed, answers 503 and alerts when QStash does not take it", async () => {
    qstash.answer(500);
    const refused = await cron();
    expect(refused).toMatchObject({ status: 503, body: { error: { code: "SERVICE_UNAVAILABLE", message: expect.stringMatching(/^QStash did not take the job: /) } } });
    const [row] = await directDb()`select status, error from ops.backups order by id desc limit 1`;
    expect(row).toMatchObject({ status: "failed", error: expect.stringMatching(/^could not hand the run to the worker: QStash did not take the job/) });
    // QStash answered: the client retries only what never got an answer.
    expect(qstash.published).toHaveLength(1);
    const logged = vi.mocked(console.error).mock.calls.map((c) => String(c[0]));
    expect(logged.find((line) => line.includes('"message":"alert firing"'))).toContain('"key":"job:backup"');
  });
});

describe.skipIf(!withPgTools)("the worker's job endpoint", () => {
  it("runs a delivered run once: a redelivery of the same message does nothing", async () => {
    const { body } = await cron();
    const id = String(body.id);
    const message = JSON.stringify({ backupId: id });
    const first = await deliver(message);
    expect(first).toMatchObject({ status: 200, body: { status: "succeeded", id, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(await backupRow(id)).toMatchObject({ status: "succeeded", sha256: first.body.sha256 });
    const again = await deliver(message);
    expect(again).toMatchObject({ status: 200, body: { status: "not-pending", id } });
    const archives = (await readdir(backupDir)).filter((file) => file.endsWith(".dump"));
    expect(archives).toHaveLength(1);
  });

  it("accepts the next signing key (a rotation in progress)", async () => {
    const { body } = await cron();
    expect(await deliver(JSON.stringify({ backupId: String(body.id) }), { key: NEXT_KEY })).toMatchObject({ status: 200, body: { status: "succeeded" } });
  });

  it("refuses, with 401 and without running anything, a delivery not signed by QStash for this URL and body", async () => {
    const { body } = await cron();
    const id = String(body.id);
    const message = JSON.stringify({ backupId: id });
    const refusals = [
      await deliver(message, { signature: null }),
      await deliver(message, { key: "sig_someone_else_0123456789abcdef" }),
      await deliver(message, { signedUrl: `${worker.baseUrl}/api/jobs/other` }),
      await deliver(message, { signedBody: JSON.stringify({ backupId: "1" }) }),
      await deliver(message, { signature: "not.a.jwt" }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    for (const refusal of refusals) expect(refusal.body).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    expect(await backupRow(id)).toMatchObject({ status: "requested" });
  });

  it("answers a signed but malformed message 400, naming the problem", async () => {
    expect(await deliver(JSON.stringify({ backupId: "drop table" }))).toMatchObject({ status: 400, body: { error: { code: "BAD_REQUEST", message: expect.stringContaining("backupId") } } });
    expect(await deliver("not json")).toMatchObject({ status: 400, body: { error: { message: "body is not valid JSON" } } });
  });
});

describe.skipIf(!withPgTools)("the weekly drill with a worker", () => {
  it("publishes one drill a day to the worker, which runs it when QStash delivers it signed", async () => {
    const cronResponse = await fetch(`${worker.baseUrl}/api/cron/dr-drill`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(cronResponse.status).toBe(200);
    expect(await cronResponse.json()).toEqual({ status: "handed-off", messageId: "msg_1" });
    const drillUrl = `${worker.baseUrl}/api/jobs/dr-drill`;
    expect(qstash.published.map((r) => [r.path, r.headers["upstash-deduplication-id"], r.body])).toEqual([
      [`/v2/publish/${drillUrl}`, `dr-drill-${new Date().toISOString().slice(0, 10)}`, "{}"],
    ]);
    const unsigned = await fetch(drillUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(unsigned.status).toBe(401);
    const delivered = await fetch(drillUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "upstash-signature": await qstashSignature(CURRENT_KEY, drillUrl, "{}") },
      body: "{}",
    });
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toMatchObject({ applicationCheck: expect.stringMatching(/^(read agent|no agents to read)/), kept: false });
    const [drill] = await directDb()`select status from ops.dr_drills order by id desc limit 1`;
    expect(drill?.status).toBe("succeeded");
  });
});
