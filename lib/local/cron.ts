/**
 * The local stand-in for Vercel Cron: runs each cron of vercel.json on its schedule (UTC,
 * as Vercel does) by calling its path on the local server with `Bearer CRON_SECRET`.
 */
import { readFile } from "node:fs/promises";
import { Cron } from "croner";
import * as v from "valibot";
import { log } from "../log.js";

const vercelJson = v.object({
  crons: v.optional(v.array(v.object({ path: v.pipe(v.string(), v.startsWith("/")), schedule: v.pipe(v.string(), v.minLength(1)) })), []),
});

export type CronEntry = v.InferOutput<typeof vercelJson>["crons"][number];

export async function vercelCrons(file: string): Promise<CronEntry[]> {
  return v.parse(vercelJson, JSON.parse(await readFile(file, "utf8"))).crons;
}

export interface CronRun {
  path: string;
  status: number | "failed";
}

export interface Scheduled {
  stop(): void;
}

/** Calls each entry's path on `baseUrl` on its schedule; a run still going when the next is due is not doubled. */
export function scheduleCrons(entries: CronEntry[], { baseUrl, secret, onRun }: { baseUrl: string; secret: string; onRun?: (run: CronRun) => void }): Scheduled {
  const jobs = entries.map(
    (entry) =>
      new Cron(entry.schedule, { timezone: "UTC", protect: true }, async () => {
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
