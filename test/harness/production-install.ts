/**
 * The project as `npm ci --omit=dev` installs it on a worker or a restore machine: the source,
 * and in node_modules only the packages package-lock.json does not mark as dev-only (each a
 * link into this checkout's node_modules, so no download and no rebuild). A dev dependency the
 * worker imports is then missing there as it would be on the machine.
 */
import { existsSync } from "node:fs";
import { cp, mkdir, readFile, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sharedTempDir } from "./net.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** What runs on the worker: the functions, the library, the commands, the migrations. */
const SOURCE = ["api", "functions", "lib", "scripts", "supabase", "package.json", "package-lock.json", "tsconfig.json"];

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  optional?: boolean;
}

/** The top-level packages an --omit=dev install holds, by the lock's own flags (an optional one only where this platform has it). */
export async function productionPackages(): Promise<string[]> {
  const lock = JSON.parse(await readFile(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  return Object.entries(lock.packages)
    .filter(
      ([key, entry]) => key.startsWith("node_modules/") && !key.slice("node_modules/".length).includes("/node_modules/") && !entry.dev && !entry.devOptional,
    )
    .filter(([key, entry]) => !entry.optional || existsSync(path.join(ROOT, key)))
    .map(([key]) => key.slice("node_modules/".length))
    .sort();
}

export interface ProductionInstall {
  dir: string;
  packages: string[];
  remove(): Promise<void>;
}

export async function productionInstall(): Promise<ProductionInstall> {
  const dir = await sharedTempDir("gap-omit-dev-");
  for (const entry of SOURCE) await cp(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  const packages = await productionPackages();
  for (const name of packages) {
    const link = path.join(dir, "node_modules", name);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(path.join(ROOT, "node_modules", name), link, "dir");
  }
  return { dir, packages, remove: () => rm(dir, { recursive: true, force: true }) };
}
