/**
 * `npm run bench:backups [-- --messages N]`: on an embedded PostgreSQL 15 with 1,000,000
 * messages (or N) and a real S3-compatible store (s3rver): pg_dump's own gzip against the
 * pipeline the backup uses (pg_dump -Z0 through zstd), each alone; the backup and the
 * disaster-recovery drill with an archive on this disk against the same with age encryption
 * and the bucket (the drill streams from the bucket: checksum, decryption, decompression,
 * restore, ANALYZE, checks, the application's read); then the peak memory of the upload for
 * archives of 30 MB and of 1 GB, each in a process of its own. Prints a Markdown report.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generateIdentity, identityToRecipient } from "age-encryption";
import postgres from "postgres";
import { takeBackup, type BackupResult } from "../functions/backup.js";
import { seedDemoData, DEFAULT_DEMO_SIZES } from "../scripts/demo/data.js";
import { disasterRecoveryDrill, type DrillResult } from "../functions/dr-drill.js";
import { compressingStage } from "../lib/backups/compression.js";
import { libpqConnection, pgTool, runPgTool } from "../lib/backups/pg-tools.js";
import { overrideConfig } from "../lib/config.js";
import { migrate } from "../lib/db/migrate.js";
import { closeDbPools } from "../lib/db/pool.js";
import { startEmbeddedPostgres } from "../lib/local/embedded.js";
import { startTestBucketStore } from "../test/harness/s3.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const { values: options } = parseArgs({ options: { messages: { type: "string", default: "1000000" } } });
const MESSAGES = Number(options.messages);
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

/** pg_dump of the platform's schemas into `file`, compressed by pg_dump itself (gzip) or by zstd after it: seconds and size. */
async function dumpAlone(url: string, file: string, compression: "gzip" | "zstd"): Promise<{ seconds: number; sizeBytes: number }> {
  const tool = pgTool("pg_dump", 15);
  const connection = libpqConnection(url, "gap-bench");
  const args = ["--format=custom", ...(compression === "zstd" ? ["--compress=0"] : []), "--schema=public", "--schema=ops", ...connection.args];
  const started = performance.now();
  if (compression === "gzip") await runPgTool(tool, [...args, "--file", file], connection.env);
  else {
    const dumped = new PassThrough();
    await Promise.all([runPgTool(tool, args, connection.env, { stdout: dumped }), pipeline(dumped, await compressingStage(), createWriteStream(file))]);
  }
  return { seconds: (performance.now() - started) / 1000, sizeBytes: (await stat(file)).size };
}

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

  log("pg_dump's gzip, then pg_dump -Z0 through zstd");
  const gzip = await dumpAlone(database.url, path.join(work, "gzip.dump"), "gzip");
  const zstd = await dumpAlone(database.url, path.join(work, "zstd.dump.zst"), "zstd");

  log("local: backup, then drill");
  overrideConfig({ ...base, BACKUP_DIR: path.join(work, "local") });
  const localBackup: BackupResult = await takeBackup();
  const localDrill: DrillResult = await disasterRecoveryDrill({ onPlan: (plan) => log(`drilling backup ${plan.backupId}`) });

  log("encrypted and in the bucket: backup, then drill from the bucket");
  overrideConfig({
    ...base,
    BACKUP_DIR: path.join(work, "offsite"),
    BACKUP_AGE_RECIPIENTS: await identityToRecipient(identity),
    BACKUP_AGE_IDENTITY: identity,
    ...store.settings(BUCKET),
  });
  const offsiteBackup: BackupResult = await takeBackup();
  const bucketDrill: DrillResult = await disasterRecoveryDrill({ onPlan: (plan) => log(`drilling backup ${plan.backupId} from the bucket`) });
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
      "| compression, pg_dump alone | seconds | archive |",
      "| --- | ---: | ---: |",
      `| pg_dump's own gzip (the backups before) | ${gzip.seconds.toFixed(2)} | ${mb(gzip.sizeBytes)} MB |`,
      `| pg_dump -Z0 through zstd -3 (the backups now) | ${zstd.seconds.toFixed(2)} | ${mb(zstd.sizeBytes)} MB |`,
      "",
      `- zstd / gzip: **${(zstd.seconds / gzip.seconds).toFixed(2)}x** the time, **${(zstd.sizeBytes / gzip.sizeBytes).toFixed(3)}x** the size`,
      "",
      "| run | archive | backup | drill (recovery time) | of which ANALYZE | restored database |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      `| archive on this disk, zstd | ${mb(localBackup.sizeBytes)} MB | ${localBackup.seconds} s | ${localDrill.recoverySeconds} s | ${localDrill.analyzeSeconds} s | ${mb(localDrill.restoredBytes)} MB |`,
      `| zstd and age, uploaded and read back; drill streamed from the bucket | ${mb(offsiteBackup.sizeBytes)} MB | ${offsiteBackup.seconds} s | ${bucketDrill.recoverySeconds} s | ${bucketDrill.analyzeSeconds} s | ${mb(bucketDrill.restoredBytes)} MB |`,
      "",
      `- recovery throughput (restored database over recovery time): **${mb(bucketDrill.restoredBytes / bucketDrill.recoverySeconds)} MB/s** from the bucket: a 100 GB database in about ${Math.round((100 * 1024 * MB) / (bucketDrill.restoredBytes / bucketDrill.recoverySeconds) / 60)} min on this machine`,
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
