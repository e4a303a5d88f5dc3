/**
 * `npm run bench:backups`: on an embedded PostgreSQL 15 with 1,000,000 messages and a real
 * S3-compatible store (s3rver), the backup and the disaster-recovery drill as they were (an
 * archive on this disk) against the same with age encryption and the bucket (the drill reads
 * the bucket: download, checksum, decryption, restore, checks, the application's read); then
 * the peak memory of the upload for archives of 30 MB and of 1 GB, each in a process of its own.
 * Prints a Markdown report.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import postgres from "postgres";
import { takeBackup, type BackupResult } from "../functions/backup.js";
import { seedDemoData, DEFAULT_DEMO_SIZES } from "../functions/demo-data.js";
import { disasterRecoveryDrill, type DrillResult } from "../functions/dr-drill.js";
import { overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { startTestBucketStore } from "../test/harness/s3.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MESSAGES = 1_000_000;
const BUCKET = "bench-backups";
const MB = 1024 * 1024;

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function randomFile(file: string, bytes: number): Promise<void> {
  const out = createWriteStream(file);
  for (let written = 0; written < bytes; written += 4 * MB) {
    if (!out.write(randomBytes(Math.min(4 * MB, bytes - written)))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

async function uploadInChild(file: string, endpoint: string): Promise<{ sizeBytes: number; seconds: number; peakRssBytes: number }> {
  const child = spawn(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "bench/upload-memory.ts"), file, endpoint, BUCKET], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number];
  if (code !== 0) throw new Error(`upload of ${file} exited with ${code}`);
  return JSON.parse(output) as { sizeBytes: number; seconds: number; peakRssBytes: number };
}

const mb = (bytes: number) => (bytes / MB).toFixed(1);

const work = await mkdtemp(path.join(tmpdir(), "gap-bench-backups-"));
await chmod(work, 0o755);
const database = await startEmbeddedPostgres({ dataDir: path.join(work, "pg"), port: 55000 + Math.floor(Math.random() * 5000) });
const store = await startTestBucketStore();
try {
  const sql = postgres(database.url, { max: 2, onnotice: () => undefined });
  await migrate(sql);
  log(`seeding ${MESSAGES} messages`);
  await seedDemoData(sql, { ...DEFAULT_DEMO_SIZES, messages: MESSAGES });
  await sql.end();
  await store.createBucket(BUCKET);
  const identity = await generateIdentity();
  const base = {
    DATABASE_URL: database.url,
    DB_POOL_PROFILE: "worker",
    BACKUP_SIGNING_KEY: randomBytes(32).toString("base64url"),
    PG_BIN_DIR: "",
  };

  log("local: backup, then drill");
  overrideConfig({ ...base, BACKUP_DIR: path.join(work, "local") });
  const localBackup: BackupResult = await takeBackup();
  const localDrill: DrillResult = await disasterRecoveryDrill();

  log("encrypted and in the bucket: backup, then drill from the bucket");
  overrideConfig({
    ...base,
    BACKUP_DIR: path.join(work, "offsite"),
    BACKUP_AGE_RECIPIENTS: await identityToRecipient(identity),
    BACKUP_AGE_IDENTITY: identity,
    ...store.settings(BUCKET),
  });
  const offsiteBackup: BackupResult = await takeBackup();
  const bucketDrill: DrillResult = await disasterRecoveryDrill();
  await closeDbPools();
  if (!bucketDrill.source.startsWith("s3://")) throw new Error(`the drill read ${bucketDrill.source}, not the bucket`);

  log("upload memory: 30 MB, then 1 GB");
  const small = path.join(work, "archive-30mb.bin");
  const large = path.join(work, "archive-1gb.bin");
  await randomFile(small, 30 * MB);
  await randomFile(large, 1024 * MB);
  const smallUpload = await uploadInChild(small, store.endpoint);
  const largeUpload = await uploadInChild(large, store.endpoint);

  const ratio = bucketDrill.recoverySeconds / localDrill.recoverySeconds;
  const extraMb = (largeUpload.peakRssBytes - smallUpload.peakRssBytes) / MB;
  console.log(
    [
      "## Backups off-site (`npm run bench:backups`)",
      "",
      `Embedded PostgreSQL 15, ${MESSAGES.toLocaleString("en")} messages (${localBackup.rows} rows in ${localBackup.tables} tables); s3rver on this machine as the bucket.`,
      "",
      "| run | archive | backup | drill (recovery time) |",
      "| --- | ---: | ---: | ---: |",
      `| archive on this disk, in clear (as before) | ${mb(localBackup.sizeBytes)} MB | ${localBackup.seconds} s | ${localDrill.recoverySeconds} s |`,
      `| age-encrypted, uploaded and read back; drill from the bucket | ${mb(offsiteBackup.sizeBytes)} MB | ${offsiteBackup.seconds} s | ${bucketDrill.recoverySeconds} s |`,
      "",
      `- drill from the bucket / local drill: **${ratio.toFixed(2)}x** (goal ≤ 2x), ${bucketDrill.recoverySeconds} s (goal < 120 s); the bucket's drill includes the download, the checksum and the decryption`,
      `- both drills: ${bucketDrill.rows} rows, row counts matching; ${bucketDrill.applicationCheck}`,
      "",
      "| upload + read-back, own process | seconds | peak RSS |",
      "| --- | ---: | ---: |",
      `| ${mb(smallUpload.sizeBytes)} MB archive | ${smallUpload.seconds.toFixed(2)} | ${mb(smallUpload.peakRssBytes)} MB |`,
      `| ${mb(largeUpload.sizeBytes)} MB archive | ${largeUpload.seconds.toFixed(2)} | ${mb(largeUpload.peakRssBytes)} MB |`,
      "",
      `- peak memory, 1 GB against 30 MB: **${extraMb >= 0 ? "+" : ""}${extraMb.toFixed(1)} MB** (goal: within 50 MB)`,
    ].join("\n"),
  );
} finally {
  await store.close();
  await database.stop();
  await rm(work, { recursive: true, force: true });
}
