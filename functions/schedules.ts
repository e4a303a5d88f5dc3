/**
 * `jobs:schedules`: the QStash Schedules the schedules table wants for this deployment, against
 * those QStash has, and the changes that make them equal (create, update, remove), applied in an
 * order that never leaves a job unscheduled.
 */
import { config, ConfigError } from "../lib/config.js";
import { qstashClient } from "../lib/jobs/qstash.js";
import {
  deleteSchedule,
  existingSchedules,
  putSchedule,
  resumeSchedule,
  schedulesDiff,
  wantedSchedules,
  type ScheduleChange,
  type SchedulesDiff,
} from "../lib/jobs/qstash-schedules.js";

export interface SchedulesPlan extends SchedulesDiff {
  publicUrl: string;
}

/** QSTASH_TOKEN and PUBLIC_URL, both needed; a ConfigError names every one missing. */
function scheduleSettings(): { token: string; publicUrl: string } {
  const { token } = config().qstash;
  const { publicUrl } = config();
  if (token && publicUrl) return { token, publicUrl };
  const missing = [token ? [] : ["QSTASH_TOKEN"], publicUrl ? [] : ["PUBLIC_URL (the deployment's public base URL, e.g. https://your-app.vercel.app)"]].flat();
  throw new ConfigError(`Invalid configuration: ${missing.join(" and ")} must be set to manage the QStash schedules`);
}

export async function schedulesPlan(): Promise<SchedulesPlan> {
  const { token, publicUrl } = scheduleSettings();
  const existing = await existingSchedules(qstashClient(token));
  return { publicUrl, ...schedulesDiff(wantedSchedules(publicUrl), existing, publicUrl) };
}

/** Makes QStash's schedules those of `plan`: creates and updates first, then removes. Returns the changes made. */
export async function applySchedules(plan: SchedulesPlan): Promise<ScheduleChange[]> {
  const client = qstashClient(scheduleSettings().token);
  const made: ScheduleChange[] = [];
  for (const change of plan.changes) {
    if (change.action !== "create" && change.action !== "update") continue;
    await putSchedule(client, change.wanted);
    if (change.action === "update" && change.existing.paused) await resumeSchedule(client, change.wanted.scheduleId);
    made.push(change);
  }
  for (const change of plan.changes) {
    if (change.action !== "remove") continue;
    await deleteSchedule(client, change.existing.scheduleId);
    made.push(change);
  }
  return made;
}
