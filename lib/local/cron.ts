/**
 * The local stand-in for Vercel Cron and QStash Schedules: runs every entry of the schedules
 * table (lib/jobs/schedules.ts) on its cron, in UTC as both do, by calling its path on the
 * local server with `Bearer CRON_SECRET`.
 */
import { Cron } from "croner";
import { log } from "../log.js";

export interface CronEntry {
  path: string;
  cron: string;
}

export interface CronRun {
  path: string;
  status: number | "failed";
}

export interface Scheduled {
  stop(): void;
}

/** Calls each entry's path on `baseUrl` on its schedule; a run still going when the next is due is not doubled. */
export function scheduleCrons(
  entries: CronEntry[],
  { baseUrl, secret, onRun }: { baseUrl: string; secret: string; onRun?: (run: CronRun) => void },
): Scheduled {
  const jobs = entries.map(
    (entry) =>
      new Cron(entry.cron, { timezone: "UTC", protect: true }, async () => {
        let status: CronRun["status"] = "failed";
        try {
          const response = await fetch(new URL(entry.path, baseUrl), { headers: { authorization: `Bearer ${secret}` } });
          await response.arrayBuffer();
          status = response.status;
        } catch (error) {
          log.warn("local cron could not reach its path", { path: entry.path, error });
        }
        onRun?.({ path: entry.path, status });
      }),
  );
  return { stop: () => jobs.forEach((job) => job.stop()) };
}
