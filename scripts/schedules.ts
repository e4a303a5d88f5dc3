/**
 * `npm run jobs:schedules -- [--apply]`: the QStash Schedules the schedules table wants for the
 * deployment at PUBLIC_URL, against those QStash has (QSTASH_TOKEN); --apply makes them equal.
 */
import { applySchedules, schedulesPlan, type SchedulesPlan } from "../functions/schedules.js";
import type { ScheduleChange } from "../lib/jobs/qstash-schedules.js";
import { scheduleEntries, TRIGGER_NAMES } from "../lib/jobs/schedules.js";
import { commandLine, runCli } from "./cli.js";
import { formatTable } from "./format-table.js";

const USAGE = `usage: npm run jobs:schedules -- [--apply]
  shows the QStash schedules of the deployment at PUBLIC_URL against the table; --apply creates, updates and removes them`;

const LOCAL_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

function stateOf(change: ScheduleChange): string {
  switch (change.action) {
    case "keep":
      return `scheduled (${change.existing.scheduleId})`;
    case "create":
      return "missing: --apply creates it";
    case "update":
      return `differs (${change.differences.join("; ")}): --apply updates it`;
    case "remove":
      return `not in the table: ${change.existing.scheduleId} -> ${change.existing.destination} (${change.existing.cron}): --apply removes it`;
  }
}

function planRows(plan: SchedulesPlan): object[] {
  return scheduleEntries().map((entry) => {
    const change = plan.changes.find((candidate) => candidate.action !== "remove" && candidate.wanted.job === entry.job);
    return { job: entry.job, cron: entry.cron, trigger: TRIGGER_NAMES[entry.trigger], state: change ? stateOf(change) : "vercel.json" };
  });
}

function madeLine(change: ScheduleChange): string {
  if (change.action === "remove") return `removed ${change.existing.scheduleId} (${change.existing.destination})`;
  return `${change.action === "create" ? "created" : "updated"} ${change.wanted.job}: ${change.wanted.scheduleId} -> ${change.wanted.destination} (${change.wanted.cron})`;
}

await runCli(async () => {
  const { values } = commandLine({ args: process.argv.slice(2), options: { apply: { type: "boolean" } } }, USAGE);
  const plan = await schedulesPlan();
  console.log(`QStash schedules for ${plan.publicUrl} (UTC):`);
  console.log(formatTable(planRows(plan)));
  for (const change of plan.changes) if (change.action === "remove") console.log(stateOf(change));
  if (plan.others) console.log(`${plan.others} other schedule${plan.others === 1 ? "" : "s"} of this QStash account left alone.`);
  for (const schedule of plan.elsewhere) {
    console.log(
      `note: ${schedule.scheduleId} delivers to ${schedule.destination}, not under PUBLIC_URL: another deployment's, or this one's under an earlier PUBLIC_URL (whose deliveries are refused); remove it in QStash's console if it is`,
    );
  }
  if (LOCAL_HOST.test(new URL(plan.publicUrl).hostname)) console.log(`note: QStash delivers only to public URLs, and ${plan.publicUrl} is not one.`);
  const pending = plan.changes.filter((change) => change.action !== "keep");
  if (!pending.length) {
    console.log("QStash has every schedule of the table; nothing to change.");
    return;
  }
  if (!values.apply) {
    console.log(`${pending.length} change${pending.length === 1 ? "" : "s"} to make: run npm run jobs:schedules -- --apply`);
    return;
  }
  for (const change of await applySchedules(plan)) console.log(madeLine(change));
  console.log(`done. The deployment takes these deliveries with QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY and PUBLIC_URL=${plan.publicUrl}.`);
});
