/** Requests QStash delivers: signed (Upstash-Signature, a JWT over the URL and the body's hash) with the current or next signing key. */
import { Receiver } from "@upstash/qstash";
import type * as v from "valibot";
import { config, ConfigError } from "../config.js";
import { jobFailureUrl, workerJobUrl, type WorkerJob } from "../jobs/qstash.js";
import { ApiError } from "./errors.js";
import { bodyText, parsedJson, type Schema } from "./input.js";

/** A job message is a few ids at most. */
const MAX_JOB_MESSAGE_BYTES = 1024;
/** A failure report carries the message and the destination's last answer, both base64. */
const MAX_CALLBACK_BYTES = 64 * 1024;

/**
 * The raw body of a request QStash signed for `url` (the destination as published, so a
 * proxy in front changes nothing); 401 for a missing or wrong signature, 413 past `maxBytes`.
 */
export async function qstashSignedBody(request: Request, url: string, maxBytes: number): Promise<string> {
  const { currentSigningKey, nextSigningKey } = config().qstash;
  if (!currentSigningKey || !nextSigningKey) {
    throw new ConfigError("Invalid configuration: QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY must be set");
  }
  const body = await bodyText(request, maxBytes);
  const signature = request.headers.get("upstash-signature");
  if (!signature) throw new ApiError("UNAUTHORIZED", "an Upstash-Signature header is required");
  const receiver = new Receiver({ currentSigningKey, nextSigningKey, devMode: false });
  const valid = await receiver.verify({ signature, body, url }).catch(() => false);
  if (!valid) throw new ApiError("UNAUTHORIZED", "the Upstash-Signature is not valid for this request");
  return body;
}

/**
 * The message of `job` QStash delivered to this worker, signed for the job's URL under
 * BACKUP_WORKER_URL (503 when that is not set here), as JSON of `schema` (400 otherwise).
 */
export async function workerJobMessage<T extends Schema>(request: Request, job: WorkerJob, schema: T): Promise<v.InferOutput<T>> {
  const { workerUrl } = config().backups;
  if (!workerUrl) throw new ConfigError("Invalid configuration: BACKUP_WORKER_URL must be set on the worker");
  return parsedJson(await qstashSignedBody(request, workerJobUrl(workerUrl, job), MAX_JOB_MESSAGE_BYTES), schema);
}

/**
 * QStash's report of a job it gave up delivering, signed for the failure callback's URL under
 * PUBLIC_URL (503 when that is not set here), as JSON of `schema` (400 otherwise).
 */
export async function jobFailureReport<T extends Schema>(request: Request, schema: T): Promise<v.InferOutput<T>> {
  const url = jobFailureUrl();
  if (!url) throw new ConfigError("Invalid configuration: PUBLIC_URL must be set (on Vercel it defaults to the production URL)");
  return parsedJson(await qstashSignedBody(request, url, MAX_CALLBACK_BYTES), schema);
}
