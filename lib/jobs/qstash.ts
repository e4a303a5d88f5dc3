/**
 * Handing work to another machine through QStash: a message published here is delivered (and
 * retried) to the destination, which checks QStash's signature before doing anything.
 */
import { Client } from "@upstash/qstash";
import { config, ConfigError } from "../config.js";
import { JobPublishError } from "./errors.js";

/** Deliveries QStash tries after the first fails. */
export const JOB_RETRIES = 3;

/** The worker's job endpoints, by job. */
export const WORKER_JOB_PATHS = { backup: "/api/jobs/backup", "dr-drill": "/api/jobs/dr-drill" } as const;
export type WorkerJob = keyof typeof WORKER_JOB_PATHS;

/** Where the worker at `workerUrl` takes `job`: the URL messages are published to and signed for. */
export function workerJobUrl(workerUrl: string, job: WorkerJob): string {
  return new URL(WORKER_JOB_PATHS[job], workerUrl).toString();
}

export interface PublishedJob {
  messageId: string;
}

/**
 * Publishes `body` to `destination`. The deduplication id makes a repeated publish of the
 * same job (a cron delivered twice) one delivery.
 */
export async function publishedJob(destination: string, body: Record<string, unknown>, deduplicationId: string): Promise<PublishedJob> {
  const { url, token } = config().qstash;
  if (!token) throw new ConfigError("Invalid configuration: QSTASH_TOKEN must be set to hand work to a worker");
  const client = new Client({ baseUrl: url, token, devMode: false, enableTelemetry: false, retry: { retries: 2, backoff: () => 250 } });
  try {
    const response = await client.publishJSON({ url: destination, body, retries: JOB_RETRIES, deduplicationId });
    return { messageId: response.messageId };
  } catch (error) {
    throw new JobPublishError(`QStash did not take the job: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
