/** `npm run db:seed -- --messages 1000000`: reproducible demo data, with progress. */
import { seedDemoData } from "./demo/data.js";
import { seedHistory } from "./demo/history.js";
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { runCli, useDatabase } from "./cli.js";
import { parseSeedArgs, seedUsage } from "./seed-args.js";

await runCli(async () => {
  const args = parseSeedArgs(process.argv.slice(2));
  if (args.help) {
    console.log(seedUsage());
    return;
  }
  await useDatabase();
  const started = performance.now();
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  await seedDemoData(directDb(), args.sizes, {
    reset: args.reset,
    onProgress: ({ table, done, total }) =>
      console.log(`${table.padEnd(22)} ${String(done).padStart(10)} / ${total} (${Math.round((100 * done) / total)}%)  ${seconds()} s`),
  });
  if (args.history) {
    const range = await seedHistory(directDb(), {
      ...args.history,
      onProgress: ({ day, days, rows }) =>
        console.log(`${"history".padEnd(22)} ${String(day).padStart(10)} / ${days} days (${rows} statement rows)  ${seconds()} s`),
    });
    console.log(`history from ${range.from.toISOString()} to ${range.to.toISOString()}: open /dashboard`);
  }
  console.log(`demo data ready in ${seconds()} s`);
  await closeDbPools();
});
