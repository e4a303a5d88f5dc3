/** `npm run db:migrate`: applies pending migrations to DATABASE_URL (the direct connection). */
import { closeDbPools, directDb } from "../lib/db/pool.js";
import { migrate } from "../lib/db/migrate.js";
import { runCli } from "./cli.js";

await runCli(async () => {
  const applied = await migrate(directDb(), {
    onApplied: (file) => console.log(`applied ${file.version}_${file.name}`),
  });
  console.log(applied.length ? `${applied.length} migration(s) applied` : "database is up to date");
  await closeDbPools();
});
