/**
 * Handing work to another machine through QStash: a message published here is delivered (and
 * retried) to the destination, which checks QStash's signature before doing anything.
 */
import { Client } from "@upstash/qstash";
import { config, ConfigError } from "../config.js";
import { JobPublishError } from "./errors.js";
import { describedError } from "../errors.js";

/**
 * Deliveries QStash tries after the first fails, with its default backoff (12 s, 2 min 28 s,
 * 30 min: about 33 minutes before it gives up and calls the failure callback).
 */
const RETRIES = 3;

/** The worker's job endpoints, by job. */
export const WORKER_JOB_PATHS = { backup: "/api/jobs/backup", "dr-drill": "/api/jobs/dr-drill" } as const;
export type WorkerJob = keyof typeof WORKER_JOB_PATHS;

/** Where QStash reports a job it gave up delivering, on the deployment (PUBLIC_URL), not the worker that may be down. */
const JOB_FAILURE_PATH = "/api/jobs/failed";

/** The failure callback's URL under PUBLIC_URL: what QStash calls and signs; undefined without PUBLIC_URL. */
export function jobFailureUrl(): string | undefined {
  const { publicUrl } = config();
  return publicUrl ? `${publicUrl}${JOB_FAILURE_PATH}` : undefined;
}

/** The job a destination URL delivers to, by its path. */
export function workerJobOf(destination: string): WorkerJob | undefined {
  let pathname: string;
  try {
    pathname = new URL(destination).pathname;
  } catch {
    return undefined;
  }
  return (Object.keys(WORKER_JOB_PATHS) as WorkerJob[]).find((job) => WORKER_JOB_PATHS[job] === pathname);
}

/** Where the worker at `workerUrl` takes `job`: the URL messages are published to and signed for. */
export function workerJobUrl(workerUrl: string, job: WorkerJob): string {
  return new URL(WORKER_JOB_PATHS[job], workerUrl).toString();
}

/** QStash's API at QSTASH_URL; a request the network lost is sent again, twice at most. */
export function qstashClient(token: string): Client {
  return new Client({ baseUrl: config().qstash.url, token, devMode: false, enableTelemetry: false, retry: { retries: 2, backoff: () => 250 } });
}

export interface PublishedJob {
  messageId: string;
}

/** QStash allows letters, digits and a few marks in a deduplication id; anything else becomes `_`. */
export function deduplicationIdOf(parts: readonly string[]): string {
  return parts.join(".").replace(/[^A-Za-z0-9_.:-]/g, "_");
}

/**
 * Publishes `body` to `destination`, retried by QStash. The deduplication id makes a repeated
 * publish of the same message one delivery. With PUBLIC_URL known, QStash calls the failure
 * callback there once it has given up. A refusal is a JobPublishError whose message never holds
 * `destination` (an alert webhook's URL is its secret).
 */
async function published(what: string, destination: string, body: Record<string, unknown>, deduplicationId: string | undefined): Promise<PublishedJob> {
  const { token } = config().qstash;
  if (!token) throw new ConfigError(`Invalid configuration: QSTASH_TOKEN must be set to publish the ${what} to QStash`);
  const client = qstashClient(token);
  try {
    const failureCallback = jobFailureUrl();
    const response = await client.publishJSON({
      url: destination,
      body,
      retries: RETRIES,
      ...(deduplicationId ? { deduplicationId } : {}),
      ...(failureCallback ? { failureCallback } : {}),
    });
    return { messageId: response.messageId };
  } catch (error) {
    const reason = describedError(error).replaceAll(destination, "<destination>");
    throw new JobPublishError(`QStash did not take the ${what}: ${reason}`, { cause: error });
  }
}

/** Hands a job to the worker at `destination` (a cron delivered twice is one job: the deduplication id). */
export function publishJob(destination: string, body: Record<string, unknown>, deduplicationId: string): Promise<PublishedJob> {
  return published("job", destination, body, deduplicationId);
}

/** Hands an alert message to QStash for the webhook at `destination` (ALERT_WEBHOOK_URL). */
export function publishAlertMessage(destination: string, body: { text: string; alert: object }, deduplicationId: string | undefined): Promise<PublishedJob> {
  return published("alert message", destination, body, deduplicationId);
}
