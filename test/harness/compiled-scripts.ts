/**
 * The command-line entry points the tests run as child processes, compiled once per run.
 *
 * `npm run db:*` runs a script through tsx, which costs about 0.45 s of CPU per start on this
 * project (its loader resolves and reads every module), against 0.14 s for the same code
 * compiled ahead: the suite starts about a hundred commands, on two cores. Each script is
 * bundled with esbuild (tsx's own compiler), the packages left to node_modules, and every
 * module's `import.meta.url` kept as its source file's, so paths found from it (the
 * migrations, the repository root) are the ones tsx would find. The worker and `npm start`
 * load api/*.ts at run time and are still run through tsx, as is one command per test of
 * npm's own path (test/scripts/local-database.test.ts runs `npm run`).
 */
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The scripts run compiled; the others (the worker, npm start) import TypeScript at run time. */
export const COMPILED_SCRIPTS = [
  "advise",
  "backup",
  "backups",
  "bucket",
  "drill",
  "inspect",
  "migrate",
  "mode",
  "recover",
  "restore",
  "schedules",
  "seed",
] as const;

/** Each of the project's modules keeps its own import.meta.url (bundling would give them the bundle's). */
const ownImportMetaUrl: Plugin = {
  name: "own-import-meta-url",
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, async ({ path: file }) => {
      const source = await readFile(file, "utf8");
      return { contents: source.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(file).href)), loader: "ts" };
    });
  },
};

/** Compiles the scripts into a folder inside node_modules (so their packages resolve as from the source); returns it. */
export async function compileScripts(): Promise<string> {
  const outdir = path.join(ROOT, "node_modules/.cache", `gap-test-scripts-${process.pid}`);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: COMPILED_SCRIPTS.map((name) => path.join(ROOT, "scripts", `${name}.ts`)),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    packages: "external",
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "warning",
    plugins: [ownImportMetaUrl],
  });
  return outdir;
}
