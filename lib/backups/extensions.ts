/**
 * The extensions a restore sets up in its target, decided before anything is touched: those
 * the signed manifest lists, each in its usual schema (the one its control file fixes, else
 * `extensions` or `public`, never another the manifest names). Whether the target's role may
 * create each one is tried in a transaction that is rolled back. An extension no restored
 * object needs (hypopg, pg_stat_statements) that cannot be created is skipped and reported;
 * one they do need (a column of its type) stops the restore, naming what is missing.
 */
import type { Pool } from "../db/pool.js";
import type { DatabaseExtension } from "./database.js";
import { RestoreRefusedError } from "./errors.js";

/** Where an extension without a fixed schema may go: Supabase's `extensions`, or `public`. */
const USUAL_EXTENSION_SCHEMAS = ["extensions", "public"] as const;

export interface ExtensionOutcome {
  name: string;
  schema: string;
  required: boolean;
  status: "present" | "created" | "skipped";
  reason?: string;
}

export interface ExtensionPlan {
  /** Extensions to create, in this order, just before the restore. */
  create: DatabaseExtension[];
  outcomes: ExtensionOutcome[];
}

interface TargetExtension {
  name: string;
  installedSchema: string | null;
  offered: boolean;
  fixedSchema: string | null;
}

class ProbeDone extends Error {}

function failureOf(error: unknown): string {
  const { message, hint } = error as { message?: string; hint?: string };
  return [message ?? String(error), hint].filter(Boolean).join(" ");
}

async function targetExtensions(sql: Pool, names: string[]): Promise<Map<string, TargetExtension>> {
  const rows = await sql<TargetExtension[]>`
    select
      w.name as name,
      (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = w.name) as "installedSchema",
      exists (select 1 from pg_available_extensions a where a.name = w.name) as offered,
      (select v.schema from pg_available_extension_versions v where v.name = w.name and v.schema is not null limit 1) as "fixedSchema"
    from unnest(${names}::text[]) as w (name)`;
  return new Map(rows.map((row) => [row.name, row]));
}

/** Tries to create each extension in a transaction rolled back at the end: what failed, and why. */
async function creationFailures(sql: Pool, candidates: DatabaseExtension[]): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  await sql
    .begin(async (tx) => {
      for (const extension of candidates) {
        await tx
          .savepoint(async (sp) => {
            await sp`create schema if not exists ${sp(extension.schema)}`;
            await sp`create extension if not exists ${sp(extension.name)} with schema ${sp(extension.schema)} cascade`;
          })
          .catch((error: unknown) => failures.set(extension.name, failureOf(error)));
      }
      throw new ProbeDone();
    })
    .catch((error: unknown) => {
      if (!(error instanceof ProbeDone)) throw error;
    });
  return failures;
}

/**
 * What the restore will do about each extension of the manifest. `trusted` is false for an
 * unsigned manifest (taken with --allow-unsigned): then nothing is created from it.
 */
export async function extensionPlan(sql: Pool, wanted: readonly DatabaseExtension[], { trusted }: { trusted: boolean }): Promise<ExtensionPlan> {
  const target = await targetExtensions(
    sql,
    wanted.map((e) => e.name),
  );
  const outcomes: ExtensionOutcome[] = [];
  const refusals: string[] = [];
  const candidates: DatabaseExtension[] = [];
  const settle = (extension: DatabaseExtension, reason: string) => {
    if (extension.required) refusals.push(`${extension.name} (${reason})`);
    else outcomes.push({ ...extension, status: "skipped", reason });
  };
  for (const extension of wanted) {
    const here = target.get(extension.name);
    if (here?.installedSchema) {
      if (here.installedSchema !== extension.schema && extension.required) {
        refusals.push(`${extension.name} (installed here in schema ${here.installedSchema}; the archive's objects use it in ${extension.schema})`);
      } else outcomes.push({ ...extension, status: "present" });
      continue;
    }
    const usual = here?.fixedSchema ? [here.fixedSchema] : [...USUAL_EXTENSION_SCHEMAS];
    if (!trusted) settle(extension, "the manifest is not signed, so the restore creates no extension from it: create it first");
    else if (!here?.offered) settle(extension, "the target server does not offer it");
    else if (!usual.includes(extension.schema)) settle(extension, `schema ${extension.schema} is not where it is created (${usual.join(" or ")})`);
    else candidates.push(extension);
  }
  const failures = candidates.length ? await creationFailures(sql, candidates) : new Map<string, string>();
  const create: DatabaseExtension[] = [];
  for (const extension of candidates) {
    const failure = failures.get(extension.name);
    if (failure) settle(extension, failure);
    else create.push(extension);
  }
  if (refusals.length) {
    throw new RestoreRefusedError(
      `the archive's objects need extension(s) the target does not have and the restore cannot create: ${refusals.join("; ")}. ` +
        "Create them as a role that may (on Supabase: Database > Extensions), then restore again",
    );
  }
  return { create, outcomes };
}

/** Creates the planned extensions; returns undo, which drops what this call created. */
export async function createExtensions(sql: Pool, plan: ExtensionPlan): Promise<{ outcomes: ExtensionOutcome[]; undo: () => Promise<void> }> {
  const created: string[] = [];
  const createdSchemas: string[] = [];
  const undo = async () => {
    for (const name of created.reverse()) await sql`drop extension if exists ${sql(name)}`.catch(() => undefined);
    for (const schema of createdSchemas) await sql`drop schema if exists ${sql(schema)}`.catch(() => undefined);
  };
  try {
    for (const extension of plan.create) {
      const [schema] = await sql`select 1 as present from pg_namespace where nspname = ${extension.schema}`;
      if (!schema) {
        await sql`create schema ${sql(extension.schema)}`;
        createdSchemas.push(extension.schema);
      }
      await sql`create extension if not exists ${sql(extension.name)} with schema ${sql(extension.schema)} cascade`;
      created.push(extension.name);
    }
  } catch (error) {
    await undo();
    throw error;
  }
  return { outcomes: [...plan.outcomes, ...plan.create.map((e) => ({ ...e, status: "created" as const }))], undo };
}
