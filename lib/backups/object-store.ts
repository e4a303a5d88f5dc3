/**
 * The bucket backups are copied to: any S3-compatible store (AWS S3, Cloudflare R2, Supabase
 * Storage's S3 endpoint, MinIO), through the AWS SDK. Archives stream in multipart uploads of
 * a fixed part size and stream back out, so memory stays bounded whatever an archive's size.
 * The SDK is loaded on first use: functions of a deployment without a bucket never load it.
 */
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
// Loaded first: it turns off the SDK's Node version notice before the SDK is.
import "../config.js";
import type { BucketSettings } from "../config.js";
import { streamDigest, type Digest } from "./digest.js";
import { BackupNotFoundError, BackupStoreError } from "./errors.js";

/** 8 MiB parts, two in flight: about 16 MiB of buffers per upload. */
const PART_SIZE_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;
/** A store that stops answering mid-transfer fails the run instead of hanging it. */
const SOCKET_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5000;

export interface StoredObject {
  key: string;
  sizeBytes: number;
}

export interface ObjectStore {
  readonly bucket: string;
  readonly prefix: string;
  /** `s3://bucket/key`, the location recorded and shown. */
  location(key: string): string;
  /** Streams `body` to `key` (multipart above one part); `onProgress` hears the bytes sent so far. */
  upload(key: string, body: Readable, options?: { contentType?: string; onProgress?: (sentBytes: number) => void }): Promise<void>;
  /** Reads the object back whole, hashing it as it streams: what the store holds, not what was sent. */
  digest(key: string): Promise<Digest>;
  /** The object's bytes as they arrive, at most `maxBytes` + 1 of them (one more tells a larger object). */
  open(key: string, maxBytes: number): Promise<Readable>;
  /** The object's size as the store says, without reading it; undefined when there is no such object. */
  size(key: string): Promise<number | undefined>;
  /** A small object as text (a manifest), at most `maxBytes`. */
  text(key: string, maxBytes: number): Promise<string>;
  /** Every object under `prefix` (the whole listing, page by page). */
  list(prefix?: string): Promise<StoredObject[]>;
  remove(keys: string[]): Promise<void>;
}

/** What the store said, without the request's credentials: its error code and message, or the network's. */
function storeFailureReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { Code?: unknown; code?: unknown }).Code ?? (error as { code?: unknown }).code;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = typeof code === "string" ? code : error.name;
  const message = error.message && error.message !== name && error.message !== "UnknownError" ? `: ${error.message}` : "";
  return `${name}${message}${status ? ` (HTTP ${status})` : ""}`;
}

/** The object is not there (a missing bucket is a store failure, not this). */
function notFound(error: unknown): boolean {
  const name = (error as { Code?: unknown }).Code ?? (error as { name?: unknown }).name;
  return name === "NoSuchKey" || name === "NotFound";
}

async function client(settings: BucketSettings): Promise<S3Client> {
  const { S3Client } = await import("@aws-sdk/client-s3");
  return new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
    maxAttempts: 3,
    // R2, Supabase Storage and MinIO refuse or mishandle the SDK's default trailing checksums.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: SOCKET_TIMEOUT_MS },
  });
}

/** The store of `settings`; every failure is a BackupStoreError carrying the store's reason. */
export function objectStore(settings: BucketSettings): ObjectStore {
  const { bucket, prefix } = settings;
  let s3: Promise<S3Client> | undefined;
  const sdk = () => import("@aws-sdk/client-s3");
  const connected = () => (s3 ??= client(settings));
  const failed =
    (what: string) =>
    (error: unknown): never => {
      if (error instanceof BackupStoreError || error instanceof BackupNotFoundError) throw error;
      if (notFound(error)) throw new BackupNotFoundError(`${what}: no such object in bucket ${bucket}`);
      throw new BackupStoreError(`${what} failed: ${storeFailureReason(error)}`, { cause: error });
    };
  const bodyOf = async (key: string, range?: string): Promise<Readable> => {
    const { GetObjectCommand } = await sdk();
    const response = await (await connected()).send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
    if (!response.Body) throw new BackupStoreError(`reading s3://${bucket}/${key} returned no body`);
    return response.Body as Readable;
  };
  return {
    bucket,
    prefix,
    location: (key) => `s3://${bucket}/${key}`,
    async upload(key, body, { contentType = "application/octet-stream", onProgress } = {}) {
      try {
        const { Upload } = await import("@aws-sdk/lib-storage");
        const upload = new Upload({
          client: await connected(),
          params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
          partSize: PART_SIZE_BYTES,
          queueSize: PARTS_IN_FLIGHT,
          leavePartsOnError: false,
        });
        if (onProgress) upload.on("httpUploadProgress", (progress) => onProgress(progress.loaded ?? 0));
        await upload.done();
      } catch (error) {
        body.destroy();
        failed(`uploading s3://${bucket}/${key}`)(error);
      }
    },
    digest: (key) =>
      bodyOf(key)
        .then(streamDigest)
        .catch(failed(`reading back s3://${bucket}/${key}`)),
    async open(key, maxBytes) {
      try {
        return await bodyOf(key, `bytes=0-${maxBytes}`);
      } catch (error) {
        // A range starting at 0 is unsatisfiable only for an empty object.
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416) return Readable.from([]);
        return failed(`reading s3://${bucket}/${key}`)(error);
      }
    },
    async size(key) {
      try {
        const { HeadObjectCommand } = await sdk();
        const head = await (await connected()).send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return head.ContentLength ?? 0;
      } catch (error) {
        if (notFound(error)) return undefined;
        return failed(`reading s3://${bucket}/${key}`)(error);
      }
    },
    async text(key, maxBytes) {
      try {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of await bodyOf(key)) {
          size += (chunk as Buffer).length;
          if (size > maxBytes) throw new BackupStoreError(`s3://${bucket}/${key} is larger than ${maxBytes} bytes: not a manifest`);
          chunks.push(chunk as Buffer);
        }
        return Buffer.concat(chunks).toString("utf8");
      } catch (error) {
        return failed(`reading s3://${bucket}/${key}`)(error);
      }
    },
    async list(under = prefix) {
      try {
        const { ListObjectsV2Command } = await sdk();
        const objects: StoredObject[] = [];
        let token: string | undefined;
        do {
          const page = await (await connected()).send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken: token }));
          for (const item of page.Contents ?? []) if (item.Key) objects.push({ key: item.Key, sizeBytes: item.Size ?? 0 });
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return objects;
      } catch (error) {
        return failed(`listing s3://${bucket}/${under}`)(error);
      }
    },
    async remove(keys) {
      if (!keys.length) return;
      try {
        const { DeleteObjectCommand } = await sdk();
        // One request per key: Supabase Storage and some S3-compatible stores lack multi-object delete.
        for (const key of keys) await (await connected()).send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (error) {
        failed(`deleting from s3://${bucket}`)(error);
      }
    },
  };
}

/** The bucket and key of an `s3://bucket/key` URL, or undefined when it is not one. */
export function parsedS3Url(value: string): { bucket: string; key: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(value);
  return match?.[1] && match[2] ? { bucket: match[1], key: match[2] } : undefined;
}
