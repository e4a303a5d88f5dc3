/**
 * `npm run db:migrate`: applies pending migrations to DATABASE_URL (the direct connection),
 * then says which optional extension is missing, why, and what is off without it.
 */
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { migrate } from "../lib/db/migrate.js";
import { missingExtensionNotes } from "../lib/db/optional-extensions.js";
import { runCli, useDatabase } from "./cli.js";

await runCli(async () => {
  await useDatabase();
  const applied = await migrate(directDb(), {
    onApplied: (file) => console.log(`applied ${file.version}_${file.name}`),
  });
  console.log(applied.length ? `${applied.length} migration(s) applied` : "database is up to date");
  for (const note of await missingExtensionNotes(directDb())) console.log(`note: ${note}`);
  await closeDbPools();
});
