/**
 * The QStash Schedules the schedules table wants for a deployment, against those that exist.
 * Each has a stable id made of its job and the deployment's URL: applying twice changes nothing,
 * and deployments sharing a QStash account never touch each other's schedules.
 */
import { createHash } from "node:crypto";
import type { Client } from "@upstash/qstash";
import { fetchFailureOf } from "../fetch-failure.js";
import { ScheduleSyncError } from "./errors.js";
import { scheduleEntries, scheduleUrl, type ScheduledJob } from "./schedules.js";

/** Deliveries QStash tries after one fails. */
export const SCHEDULE_RETRIES = 3;
/**
 * Milliseconds before each of them (`retried` counts from 0): 20 s, 40 s, 80 s, all inside the
 * 5-minute slot. QStash's default backoff reaches 30 minutes, by when the next scheduled run
 * has done the same work.
 */
export const SCHEDULE_RETRY_DELAY = "pow(2, retried) * 20000";
/** QStash's own default; the endpoints take GET as well, for Vercel Cron. */
const SCHEDULE_METHOD = "POST";

export interface WantedSchedule {
  job: ScheduledJob;
  scheduleId: string;
  destination: string;
  cron: string;
}

export interface ExistingSchedule {
  scheduleId: string;
  destination: string;
  cron: string;
  method: string;
  retries: number;
  retryDelay: string | undefined;
  paused: boolean;
}

export type ScheduleChange =
  | { action: "create"; wanted: WantedSchedule }
  | { action: "update"; wanted: WantedSchedule; existing: ExistingSchedule; differences: string[] }
  | { action: "keep"; wanted: WantedSchedule; existing: ExistingSchedule }
  | { action: "remove"; existing: ExistingSchedule };

export interface SchedulesDiff {
  changes: ScheduleChange[];
  /** Schedules of the account that are not this deployment's, left alone. */
  others: number;
  /**
   * Of those, the ones delivering to one of the table's paths on another base URL: another
   * deployment's, or this one's under an earlier PUBLIC_URL (then refused, and retried, forever).
   */
  elsewhere: ExistingSchedule[];
}

/** The id of `job`'s QStash Schedule for the deployment at `publicUrl`. */
export function qstashScheduleId(job: ScheduledJob, publicUrl: string): string {
  const deployment = createHash("sha256").update(publicUrl).digest("hex").slice(0, 12);
  return `agent-platform-${job}-${deployment}`;
}

/** The QStash Schedules the table wants for the deployment at `publicUrl`. */
export function wantedSchedules(publicUrl: string): WantedSchedule[] {
  return scheduleEntries()
    .filter((entry) => entry.trigger === "qstash")
    .map((entry) => ({ job: entry.job, scheduleId: qstashScheduleId(entry.job, publicUrl), destination: scheduleUrl(publicUrl, entry.job), cron: entry.cron }));
}

/** How `existing` differs from what is wanted, as a person reads it; empty when it is as wanted. */
function differencesOf(wanted: WantedSchedule, existing: ExistingSchedule): string[] {
  const differences: string[] = [];
  const compare = (name: string, has: string | number | undefined, wants: string | number | undefined, same = has === wants) => {
    if (!same) differences.push(`${name} ${has ?? "unset"} -> ${wants ?? "unset"}`);
  };
  const unspaced = (expression: string | undefined) => expression?.replace(/\s+/g, "");
  compare("cron", existing.cron, wanted.cron);
  compare("destination", existing.destination, wanted.destination);
  compare("method", existing.method, SCHEDULE_METHOD);
  compare("retries", existing.retries, SCHEDULE_RETRIES);
  // QStash may hand the expression back spaced otherwise.
  compare("retry delay", existing.retryDelay, SCHEDULE_RETRY_DELAY, unspaced(existing.retryDelay) === unspaced(SCHEDULE_RETRY_DELAY));
  if (existing.paused) differences.push("paused -> running");
  return differences;
}

/**
 * What changes `existing` into `wanted`. This deployment's schedules are those with one of its
 * ids (for any job of the table) or a destination under its cron paths; one not wanted (a job
 * moved to Vercel Cron, a schedule made by hand) is removed.
 */
export function schedulesDiff(wanted: WantedSchedule[], existing: ExistingSchedule[], publicUrl: string): SchedulesDiff {
  const entries = scheduleEntries();
  const ours = new Set(entries.map((entry) => qstashScheduleId(entry.job, publicUrl)));
  const cronPaths = `${publicUrl}/api/cron/`;
  const isOurs = (schedule: ExistingSchedule) => ours.has(schedule.scheduleId) || schedule.destination.startsWith(cronPaths);
  const wantedIds = new Set(wanted.map((schedule) => schedule.scheduleId));
  const tablePaths = new Set<string>(entries.map((entry) => entry.path));
  const changes: ScheduleChange[] = wanted.map((schedule) => {
    const found = existing.find((candidate) => candidate.scheduleId === schedule.scheduleId);
    if (!found) return { action: "create", wanted: schedule };
    const differences = differencesOf(schedule, found);
    return differences.length ? { action: "update", wanted: schedule, existing: found, differences } : { action: "keep", wanted: schedule, existing: found };
  });
  const removed = existing.filter((schedule) => isOurs(schedule) && !wantedIds.has(schedule.scheduleId));
  return {
    changes: [...changes, ...removed.map((schedule): ScheduleChange => ({ action: "remove", existing: schedule }))],
    others: existing.filter((schedule) => !isOurs(schedule)).length,
    elsewhere: existing.filter((schedule) => !isOurs(schedule) && tablePaths.has(pathOf(schedule.destination))),
  };
}

/** A destination's path, or "" for one that is not a URL (a URL group's name). */
function pathOf(destination: string): string {
  try {
    return new URL(destination).pathname;
  } catch {
    return "";
  }
}

/** QStash's own answer when it gave one (QstashError), else why it could not be reached. */
function failure(what: string, error: unknown): ScheduleSyncError {
  const reason = error instanceof Error && error.message !== "fetch failed" ? error.message : `unreachable (${fetchFailureOf(error)})`;
  return new ScheduleSyncError(`QStash did not ${what}: ${reason}`, { cause: error });
}

/** Every schedule of the account behind the client's token. */
export async function existingSchedules(client: Client): Promise<ExistingSchedule[]> {
  const schedules = await client.schedules.list().catch((error: unknown) => {
    throw failure("list its schedules", error);
  });
  return schedules.map((schedule) => ({
    scheduleId: schedule.scheduleId,
    destination: schedule.destination,
    cron: schedule.cron,
    method: schedule.method,
    retries: schedule.retries,
    retryDelay: schedule.retryDelayExpression,
    paused: schedule.isPaused,
  }));
}

/** Creates `wanted`, or replaces the schedule of its id (QStash discards the old one). */
export async function putSchedule(client: Client, wanted: WantedSchedule): Promise<void> {
  await client.schedules
    .create({
      scheduleId: wanted.scheduleId,
      destination: wanted.destination,
      cron: wanted.cron,
      method: SCHEDULE_METHOD,
      retries: SCHEDULE_RETRIES,
      retryDelay: SCHEDULE_RETRY_DELAY,
    })
    .catch((error: unknown) => {
      throw failure(`take the schedule of ${wanted.job} (${wanted.scheduleId})`, error);
    });
}

export async function deleteSchedule(client: Client, scheduleId: string): Promise<void> {
  await client.schedules.delete(scheduleId).catch((error: unknown) => {
    throw failure(`remove the schedule ${scheduleId}`, error);
  });
}

export async function resumeSchedule(client: Client, scheduleId: string): Promise<void> {
  await client.schedules.resume({ schedule: scheduleId }).catch((error: unknown) => {
    throw failure(`resume the schedule ${scheduleId}`, error);
  });
}
