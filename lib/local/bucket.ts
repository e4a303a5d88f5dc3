/**
 * A bucket on this machine for trying backups to S3 without an account: s3rver (an
 * S3-compatible server, a dev dependency) in a child process, its objects on disk. Used by
 * `npm run bucket:local` and by the tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** s3rver's fixed credentials. */
export const LOCAL_BUCKET_KEY = "S3RVER";

export interface LocalBucketServer {
  endpoint: string;
  /** BACKUP_S3_* settings for `bucket` on this server. */
  settings(bucket: string, prefix?: string): Record<string, string>;
  stop(): Promise<void>;
}

function portAnswers(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** BACKUP_S3_* settings for `bucket` on an s3rver at `endpoint`. */
export function localBucketSettings(endpoint: string, bucket: string, prefix = "backups/"): Record<string, string> {
  return {
    BACKUP_S3_BUCKET: bucket,
    BACKUP_S3_PREFIX: prefix,
    BACKUP_S3_ENDPOINT: endpoint,
    BACKUP_S3_REGION: "us-east-1",
    BACKUP_S3_ACCESS_KEY_ID: LOCAL_BUCKET_KEY,
    BACKUP_S3_SECRET_ACCESS_KEY: LOCAL_BUCKET_KEY,
    BACKUP_S3_FORCE_PATH_STYLE: "true",
  };
}

/**
 * s3rver on `host:port` keeping its objects in `dir`, with `buckets` made at start; resolves once
 * it answers. A port in use, or s3rver missing (an install without dev dependencies), is one clear error.
 */
export async function startLocalBucket({
  dir,
  port,
  host = "127.0.0.1",
  buckets = [],
}: {
  dir: string;
  port: number;
  host?: string;
  buckets?: string[];
}): Promise<LocalBucketServer> {
  if (await portAnswers(port, host)) throw new Error(`port ${port} is in use; give another with --port`);
  const binary = path.join(ROOT, "node_modules/.bin/s3rver");
  const args = ["-d", dir, "-a", host, "-p", String(port), "--silent", "--no-vhost-buckets", ...buckets.flatMap((bucket) => ["--configure-bucket", bucket])];
  const child: ChildProcess = spawn(binary, args, { stdio: "ignore" });
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (error) => reject(new Error(`s3rver cannot start (${error.message}): it is a dev dependency; run npm install`)));
    child.once("exit", (code) => reject(new Error(`s3rver exited with ${code} before answering`)));
  });
  failed.catch(() => undefined);
  const answering = (async () => {
    for (let i = 0; i < 200; i++) {
      if (await portAnswers(port, host)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`s3rver did not answer on ${host}:${port} within 10 s`);
  })();
  try {
    await Promise.race([answering, failed]);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const endpoint = `http://${host}:${port}`;
  return {
    endpoint,
    settings: (bucket, prefix) => localBucketSettings(endpoint, bucket, prefix),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
