/**
 * `npm run bucket:local -- [--port 4568] [--bucket gap-backups]`: an S3-compatible bucket on this
 * machine (s3rver, objects kept in LOCAL_DATA_DIR/bucket), for trying backups to a bucket, the
 * worker's hand-off and restores from the bucket alone. Prints the settings to use; Ctrl-C stops it.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { config } from "../lib/config.js";
import { startLocalBucket } from "../lib/local/bucket.js";
import { commandLine, runCli, UsageError } from "./cli.js";

const USAGE = `usage: npm run bucket:local -- [--port 4568] [--bucket gap-backups]`;

await runCli(async () => {
  const { values } = commandLine({ args: process.argv.slice(2), options: { port: { type: "string" }, bucket: { type: "string" } } }, USAGE);
  const port = Number(values.port ?? 4568);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be a TCP port (1 to 65535)\n${USAGE}`);
  const bucket = values.bucket ?? "gap-backups";
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new UsageError(`--bucket must be a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens\n${USAGE}`);
  const dir = path.resolve(config().localDataDir, "bucket");
  await mkdir(dir, { recursive: true });
  const server = await startLocalBucket({ dir, port, buckets: [bucket] });
  console.log(
    [
      `local bucket ${bucket} on ${server.endpoint} (s3rver; objects in ${dir})`,
      "Put these in .env (npm start, the db:* commands and the worker read it), or export them:",
      "",
      ...Object.entries(server.settings(bucket)).map(([name, value]) => `${name}=${value}`),
      "",
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await server.stop();
  console.log("stopped");
});
