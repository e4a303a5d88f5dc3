/**
 * The extensions the platform uses where it can: the migrations create each one the server
 * offers and the role may create, and go on without the others. A managed database's owner is
 * no superuser, so one may be missing for want of the privilege: this says which, and why.
 */
import type { Sql } from "./pool.js";

/** Each optional extension and what is off without it. */
export const OPTIONAL_EXTENSIONS = {
  pg_stat_statements: "statement statistics (db:inspect statements, the stats snapshot's statements, the metrics' pg_stat_statements_*) are off",
  hypopg: "index advice is off",
  vector: "knowledge_base_items has no embedding column",
} as const;

interface ExtensionState {
  name: keyof typeof OPTIONAL_EXTENSIONS;
  installed: boolean;
  offered: boolean;
  /** A superuser may create any; another role a trusted one, with CREATE on the database. */
  creatable: boolean;
  role: string;
}

/** One line for each optional extension that is not installed (the names go as JSON: the pools fetch no array types), saying why and what is off; none when all are. */
export async function missingExtensionNotes(sql: Sql): Promise<string[]> {
  const rows = await sql<ExtensionState[]>`
    select
      w.name,
      exists (select 1 from pg_extension e where e.extname = w.name) as installed,
      exists (select 1 from pg_available_extensions a where a.name = w.name) as offered,
      (select rolsuper from pg_roles where rolname = current_user)
        or (coalesce((select bool_or(v.trusted) from pg_available_extension_versions v where v.name = w.name), false)
            and has_database_privilege(current_database(), 'CREATE')) as creatable,
      current_user::text as role
    from jsonb_array_elements_text(${sql.json(Object.keys(OPTIONAL_EXTENSIONS))}) with ordinality as w (name, position)
    order by w.position`;
  return rows.filter((row) => !row.installed).map((row) => `${row.name} is not installed: ${why(row)}; ${OPTIONAL_EXTENSIONS[row.name]}`);
}

function why(row: ExtensionState): string {
  if (!row.offered) return "this server does not offer it";
  if (!row.creatable) return `role ${row.role} may not create it (create it as a superuser; on Supabase: Database > Extensions)`;
  return `the server offers it now (create extension ${row.name}, in schema extensions where there is one)`;
}
