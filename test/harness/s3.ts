/**
 * A real S3-compatible server for tests: s3rver (npm) in a child process, speaking the S3
 * protocol multipart uploads included, with its objects on disk. In front of it, a TCP proxy
 * that can cut the store off mid-transfer, as a store that dies or a network that fails does.
 */
import { rm } from "node:fs/promises";
import { createServer, connect, type Server, type Socket } from "node:net";
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { LOCAL_BUCKET_KEY, localBucketSettings, startLocalBucket } from "../../lib/local/bucket.js";
import { freePort, sharedTempDir } from "./net.js";

export interface TestBucketStore {
  /** The proxy's endpoint, to give the platform. */
  endpoint: string;
  /** BACKUP_S3_* settings for `bucket` through the proxy. */
  settings(bucket: string, prefix?: string): Record<string, string>;
  createBucket(name: string): Promise<void>;
  keys(bucket: string, prefix?: string): Promise<string[]>;
  read(bucket: string, key: string): Promise<Buffer>;
  write(bucket: string, key: string, body: Buffer | string): Promise<void>;
  remove(bucket: string, key: string): Promise<void>;
  /** Once `bytes` more have gone to the store, every connection is cut and the store stops answering. */
  cutAfter(bytes: number): void;
  /** Whether the cut has happened. */
  cut(): boolean;
  /** Bytes the store has sent to its clients so far (bodies and headers). */
  sentBytes(): number;
  /** Puts the store back (after a cut). */
  restore(): void;
  close(): Promise<void>;
}

export async function startTestBucketStore(): Promise<TestBucketStore> {
  const dir = await sharedTempDir("gap-s3rver-");
  const s3rverPort = await freePort();
  const s3rver = await startLocalBucket({ dir, port: s3rverPort });
  const sockets = new Set<Socket>();
  let remaining = Infinity;
  let down = false;
  let sent = 0;
  const proxy: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(s3rverPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("data", (chunk: Buffer) => {
      remaining -= chunk.length;
      if (remaining <= 0 && !down) {
        down = true;
        for (const socket of sockets) socket.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => (sent += chunk.length));
    upstream.pipe(client);
    client.on("close", drop).on("error", drop);
    upstream.on("close", drop).on("error", drop);
  });
  const proxyPort = await freePort();
  await new Promise<void>((resolve) => proxy.listen(proxyPort, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${proxyPort}`;
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${s3rverPort}`,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: LOCAL_BUCKET_KEY, secretAccessKey: LOCAL_BUCKET_KEY },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    // Through the proxy, so a test can cut the store off.
    settings: (bucket, prefix) => localBucketSettings(endpoint, bucket, prefix),
    createBucket: async (name) => {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    keys: async (bucket, prefix = "") => {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (listed.Contents ?? []).map((item) => item.Key ?? "").sort();
    },
    read: async (bucket, key) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return Buffer.from(await (object.Body?.transformToByteArray() ?? Promise.resolve(new Uint8Array())));
    },
    write: async (bucket, key, body) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    remove: async (bucket, key) => {
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },
    cutAfter: (bytes) => {
      remaining = bytes;
    },
    cut: () => down,
    sentBytes: () => sent,
    restore: () => {
      down = false;
      remaining = Infinity;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      s3.destroy();
      await s3rver.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
