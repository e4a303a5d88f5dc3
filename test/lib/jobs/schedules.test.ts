import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Cron } from "croner";
import { describe, expect, it } from "vitest";
import { scheduleEntries } from "../../../lib/jobs/schedules.js";

const ROOT = new URL("../../../", import.meta.url);

async function vercelJsonCrons(): Promise<Array<{ path: string; schedule: string }>> {
  const project = JSON.parse(await readFile(new URL("vercel.json", ROOT), "utf8")) as { crons?: Array<{ path: string; schedule: string }> };
  return project.crons ?? [];
}

/** The most runs `cron` makes on one UTC day, over its next 400 runs from the first second of 2026. */
function mostRunsInADay(cron: string): number {
  const runs = new Cron(cron, { timezone: "UTC", paused: true }).nextRuns(400, new Date("2025-12-31T23:59:59Z"));
  const perDay = new Map<string, number>();
  for (const run of runs) {
    const day = run.toISOString().slice(0, 10);
    perDay.set(day, (perDay.get(day) ?? 0) + 1);
  }
  return Math.max(...perDay.values());
}

describe("the schedules table", () => {
  it("is what vercel.json schedules: the same paths on the same crons, no more, no fewer", async () => {
    const fromTable = scheduleEntries()
      .filter((entry) => entry.trigger === "vercel")
      .map((entry) => ({ path: entry.path, schedule: entry.cron }));
    const fromVercel = await vercelJsonCrons();
    const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
    expect(fromVercel.toSorted(byPath)).toEqual(fromTable.toSorted(byPath));
    expect(fromVercel.length).toBeGreaterThan(0);
  });

  it("leaves vercel.json no cron that runs more than once a day, which Vercel's Hobby plan refuses to deploy", async () => {
    for (const cron of await vercelJsonCrons()) expect({ path: cron.path, runs: mostRunsInADay(cron.schedule) }).toEqual({ path: cron.path, runs: 1 });
    // The measure itself tells daily from more often.
    expect(mostRunsInADay("0 3 * * *")).toBe(1);
    expect(mostRunsInADay("0 4 * * 0")).toBe(1);
    expect(mostRunsInADay("0 3,15 * * *")).toBe(2);
    expect(mostRunsInADay("0 * * * *")).toBe(24);
    expect(mostRunsInADay("*/5 * * * *")).toBe(288);
  });

  it("gives QStash every job that runs more than once a day", () => {
    const frequent = scheduleEntries().filter((entry) => mostRunsInADay(entry.cron) > 1);
    expect(frequent.map((entry) => entry.job).sort()).toEqual(["backup-rpo", "stats-snapshot"]);
    for (const entry of frequent) expect(entry.trigger).toBe("qstash");
  });

  it("names every cron endpoint, each served for Vercel Cron's GET and QStash's POST", async () => {
    const cronDir = new URL("api/cron/", ROOT);
    const files = (await readdir(cronDir)).filter((file) => file.endsWith(".ts"));
    expect(files.map((file) => `/api/cron/${file.replace(/\.ts$/, "")}`).sort()).toEqual(
      scheduleEntries()
        .map((entry) => entry.path)
        .sort(),
    );
    for (const file of files) {
      const module = (await import(pathToFileURL(fileURLToPath(new URL(file, cronDir))).href)) as Record<string, unknown>;
      expect({ file, GET: typeof module.GET, POST: typeof module.POST }).toEqual({ file, GET: "function", POST: "function" });
    }
  });
});
