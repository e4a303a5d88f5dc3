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
import { fakeQstash, qstashFailureReport, qstashSignature, type FakeQstash, TEST_QSTASH } from "../harness/qstash.js";
import { commandAvailable } from "../harness/services.js";
import { quietConsole } from "../harness/console.js";

const { currentSigningKey: CURRENT_KEY, nextSigningKey: NEXT_KEY, token: TOKEN } = TEST_QSTASH;

const SECRET = "cron-secret-0123456789abcdef";
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
    PUBLIC_URL: worker.baseUrl,
  });
});
afterAll(async () => {
  await worker.close();
  await qstash.close();
  await rm(backupDir, { recursive: true, force: true });
});
beforeEach(async () => {
  qstash.published.length = 0;
  qstash.answer(201);
  // Each test is a delivery of another day's cron: the slots of earlier tests are not held.
  await directDb()`update ops.backups set slot = null`;
  return quietConsole("error", "log");
});

async function cron(): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${worker.baseUrl}/api/cron/backup`, { headers: { authorization: `Bearer ${SECRET}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A delivery as QStash makes it, signed with `key` for `signedUrl` and `signedBody`. */
async function deliver(
  body: string,
  {
    key = CURRENT_KEY,
    signedUrl = jobUrl,
    signedBody = body,
    signature,
  }: { key?: string; signedUrl?: string; signedBody?: string; signature?: string | null } = {},
) {
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
      "upstash-failure-callback": `${worker.baseUrl}/api/jobs/failed`,
    });
    expect(JSON.parse(request?.body ?? "")).toEqual({ backupId: id });
  });

  it("hands one run a day: a repeated delivery of the cron (a Vercel Cron repeat, a replayed POST) publishes nothing more", async () => {
    const first = await cron();
    expect(first).toMatchObject({ status: 200, body: { status: "handed-off" } });
    const slot = `daily-${new Date().toISOString().slice(0, 10)}`;
    for (let i = 0; i < 3; i++) expect(await cron()).toEqual({ status: 200, body: { status: "duplicate", slot, id: first.body.id } });
    expect(qstash.published).toHaveLength(1);
    const rows = await directDb()`select id::text as id, status from ops.backups where slot = ${slot}`;
    expect(rows).toEqual([{ id: first.body.id, status: "requested" }]);
  });

  it("runs a day's slot again when its run failed: a new attempt, under a new message id", async () => {
    qstash.answer(500);
    const refused = await cron();
    expect(refused.status).toBe(503);
    qstash.answer(201);
    const retried = await cron();
    expect(retried).toMatchObject({ status: 200, body: { status: "handed-off" } });
    expect(retried.body.id).not.toBe(String((await directDb()`select min(id)::text as id from ops.backups where status = 'failed'`)[0]?.id));
    expect(qstash.published.map((request) => request.headers["upstash-deduplication-id"])).toEqual([
      expect.stringMatching(/^backup-\d+$/),
      `backup-${String(retried.body.id)}`,
    ]);
    expect(qstash.published[0]?.headers["upstash-deduplication-id"]).not.toBe(qstash.published[1]?.headers["upstash-deduplication-id"]);
  });

  it("marks the run failed, answers 503 and alerts when QStash does not take it", async () => {
    qstash.answer(500);
    const refused = await cron();
    expect(refused).toMatchObject({
      status: 503,
      body: { error: { code: "SERVICE_UNAVAILABLE", message: expect.stringMatching(/^QStash did not take the job: /) } },
    });
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
    const archives = (await readdir(backupDir)).filter((file) => file.endsWith(".dump.zst"));
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
    expect(await deliver(JSON.stringify({ backupId: "drop table" }))).toMatchObject({
      status: 400,
      body: { error: { code: "BAD_REQUEST", message: expect.stringContaining("backupId") } },
    });
    expect(await deliver("not json")).toMatchObject({ status: 400, body: { error: { message: "body is not valid JSON" } } });
  });
});

describe.skipIf(!withPgTools)("the weekly drill with a worker", () => {
  it("publishes one drill a day to the worker, which runs it when QStash delivers it signed", async () => {
    const cronResponse = await fetch(`${worker.baseUrl}/api/cron/dr-drill`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(cronResponse.status).toBe(200);
    const handed = (await cronResponse.json()) as { id: string };
    expect(handed).toEqual({ status: "handed-off", id: expect.stringMatching(/^\d+$/), messageId: "msg_1" });
    const slot = `dr-drill-${new Date().toISOString().slice(0, 10)}`;
    const [requested] = await directDb()`select status, slot from ops.dr_drills where id = ${handed.id}`;
    expect(requested).toEqual({ status: "requested", slot });
    const drillUrl = `${worker.baseUrl}/api/jobs/dr-drill`;
    const message = JSON.stringify({ drillId: handed.id });
    expect(qstash.published.map((r) => [r.path, r.headers["upstash-deduplication-id"], r.body])).toEqual([
      [`/v2/publish/${drillUrl}`, `dr-drill-${handed.id}`, message],
    ]);
    const again = await fetch(`${worker.baseUrl}/api/cron/dr-drill`, { headers: { authorization: `Bearer ${SECRET}` } });
    expect(await again.json()).toEqual({ status: "duplicate", slot, id: handed.id });
    expect(qstash.published).toHaveLength(1);
    const unsigned = await fetch(drillUrl, { method: "POST", headers: { "content-type": "application/json" }, body: message });
    expect(unsigned.status).toBe(401);
    const delivered = await fetch(drillUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "upstash-signature": await qstashSignature(CURRENT_KEY, drillUrl, message) },
      body: message,
    });
    expect(delivered.status).toBe(200);
    expect(await delivered.json()).toMatchObject({ id: handed.id, applicationCheck: expect.stringMatching(/^(read agent|no agents to read)/), kept: false });
    const [drill] = await directDb()`select status from ops.dr_drills where id = ${handed.id}`;
    expect(drill?.status).toBe("succeeded");
  });
});

/** QStash's report that it gave up delivering `message` to `destination`, as it sends it. */
function failureReport(destination: string, message: string, status = 502): string {
  return qstashFailureReport({
    destination,
    message,
    messageId: "msg_26hZCxZCuWyyTWPmSVBrNC1RADwpgWxPcak2rQD51EMjFMuzcW7qYXpPiDyw",
    status,
    answer: '{"error":"bad gateway"}',
    retried: 3,
  });
}

async function reportFailure(body: string, { key = CURRENT_KEY, signedUrl, signature }: { key?: string; signedUrl?: string; signature?: string | null } = {}) {
  const url = `${worker.baseUrl}/api/jobs/failed`;
  const headers: Record<string, string> = { "content-type": "application/json" };
  const value = signature === undefined ? await qstashSignature(key, signedUrl ?? url, body) : signature;
  if (value !== null) headers["upstash-signature"] = value;
  const response = await fetch(url, { method: "POST", headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("QStash giving up on a delivery to the worker", () => {
  it("marks the backup failed and fires job:backup at once, on a report signed for our callback URL", async () => {
    const { body } = await cron();
    const id = String(body.id);
    const report = failureReport(jobUrl, JSON.stringify({ backupId: id }));
    const answered = await reportFailure(report);
    expect(answered).toEqual({ status: 200, body: { status: "recorded", job: "backup", id, marked: true } });
    expect(await backupRow(id)).toMatchObject({
      status: "failed",
      error: `QStash gave up delivering to the worker after 3 retries (its last answer was HTTP 502): is the worker running at ${worker.baseUrl}?`,
    });
    const logged = vi
      .mocked(console.error)
      .mock.calls.map((c) => String(c[0]))
      .filter((line) => line.includes('"message":"alert firing"'));
    expect(logged.at(-1)).toContain('"key":"job:backup"');
    expect(logged.at(-1)).toContain("QStash gave up delivering");
    // QStash retries its callbacks too: a repeated report changes nothing more.
    expect(await reportFailure(report)).toEqual({ status: 200, body: { status: "recorded", job: "backup", id, marked: false } });
  });

  it("marks a handed-off drill failed and fires job:dr-drill", async () => {
    await directDb()`delete from ops.dr_drills`;
    const response = await fetch(`${worker.baseUrl}/api/cron/dr-drill`, { headers: { authorization: `Bearer ${SECRET}` } });
    const { id } = (await response.json()) as { id: string };
    const answered = await reportFailure(failureReport(`${worker.baseUrl}/api/jobs/dr-drill`, JSON.stringify({ drillId: id }), 0));
    expect(answered.body).toEqual({ status: "recorded", job: "dr-drill", id, marked: true });
    const [drill] = await directDb()`select status, error from ops.dr_drills where id = ${id}`;
    expect(drill).toMatchObject({ status: "failed", error: expect.stringContaining("after 3 retries (it never answered)") });
    const logged = vi
      .mocked(console.error)
      .mock.calls.map((c) => String(c[0]))
      .filter((line) => line.includes('"message":"alert firing"'));
    expect(logged.at(-1)).toContain('"key":"job:dr-drill"');
  });

  it("refuses an unsigned or forged report with 401 and changes nothing", async () => {
    const { body } = await cron();
    const id = String(body.id);
    const report = failureReport(jobUrl, JSON.stringify({ backupId: id }));
    const refusals = [
      await reportFailure(report, { signature: null }),
      await reportFailure(report, { key: "sig_forger_0123456789abcdefghij" }),
      await reportFailure(report, { signedUrl: jobUrl }),
      await reportFailure(report, { signature: await qstashSignature(CURRENT_KEY, `${worker.baseUrl}/api/jobs/failed`, "{}") }),
    ];
    expect(refusals.map((r) => [r.status, (r.body.error as { code: string }).code])).toEqual([
      [401, "UNAUTHORIZED"],
      [401, "UNAUTHORIZED"],
      [401, "UNAUTHORIZED"],
      [401, "UNAUTHORIZED"],
    ]);
    expect(await backupRow(id)).toMatchObject({ status: "requested" });
  });

  it("answers a signed report that is not one 400, naming the field", async () => {
    expect(await reportFailure(JSON.stringify({ url: jobUrl }))).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringContaining("sourceBody") } },
    });
    expect(await reportFailure(failureReport(jobUrl, "not json"))).toMatchObject({
      status: 400,
      body: { error: { message: "sourceBody must be a base64 JSON object" } },
    });
  });
});
