/**
 * The platform's schedules: one table, read by everything that schedules. Vercel Cron runs what
 * runs at most daily (vercel.json repeats those entries; a test holds the two equal), so the
 * project deploys on every Vercel plan; QStash Schedules run the frequent ones (set up with
 * `npm run jobs:schedules -- --apply`); `npm start` runs every entry itself. Times are UTC.
 */

/** Who calls the path on its schedule once deployed, by the name a person knows it by. */
export const TRIGGER_NAMES = { vercel: "Vercel Cron", qstash: "QStash" } as const;

export type ScheduleTrigger = keyof typeof TRIGGER_NAMES;

export interface Schedule {
  /** The endpoint, under the deployment's base URL. */
  path: `/api/cron/${string}`;
  /** A five-field cron expression, UTC. */
  cron: string;
  trigger: ScheduleTrigger;
}

export const SCHEDULES = {
  "stats-snapshot": { path: "/api/cron/stats-snapshot", cron: "*/5 * * * *", trigger: "qstash" },
  "backup-rpo": { path: "/api/cron/backup-rpo", cron: "*/15 * * * *", trigger: "qstash" },
  backup: { path: "/api/cron/backup", cron: "0 3 * * *", trigger: "vercel" },
  "dr-drill": { path: "/api/cron/dr-drill", cron: "0 4 * * 0", trigger: "vercel" },
} as const satisfies Record<string, Schedule>;

export type ScheduledJob = keyof typeof SCHEDULES;

export interface ScheduleEntry extends Schedule {
  job: ScheduledJob;
}

/** Every schedule, in the table's order. */
export function scheduleEntries(): ScheduleEntry[] {
  return (Object.keys(SCHEDULES) as ScheduledJob[]).map((job) => ({ job, ...SCHEDULES[job] }));
}

/** Where a schedule delivers on the deployment at `publicUrl`: the URL QStash calls and signs. */
export function scheduleUrl(publicUrl: string, job: ScheduledJob): string {
  return `${publicUrl}${SCHEDULES[job].path}`;
}
