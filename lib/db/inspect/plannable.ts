/**
 * Whether a statement pg_stat_statements recorded may be planned here. Planning runs code:
 * IMMUTABLE and STABLE functions are folded, views and operators expanded. A statement some
 * other role ran, planned with the platform's rights, would run that role's functions with
 * them (reading pg_authid, every conversation). So a statement is planned only when
 *
 * - the platform's own role ran it (pg_stat_statements' userid is current_user), and
 * - its parse tree (PostgreSQL's own parser, libpg-query) calls no function and no operator,
 *   and casts to no type, that could resolve to anything but pg_catalog's or an installed
 *   extension's, and reads no relation some other role owns.
 *
 * Everything else is shown without a plan, saying why.
 */
import { namedRelations, parseTree, walkTree } from "./parse-tree.js";
import type { Sql } from "../pool.js";

export type Plannability = { plannable: true } | { plannable: false; reason: string };

type Name = { schema: string | null; name: string };

interface References {
  functions: Name[];
  operators: Name[];
  types: Name[];
  /** Its WITH queries' names left out. */
  relations: Name[];
}

const strings = (list: unknown): string[] =>
  Array.isArray(list) ? list.map((item) => (item as { String?: { sval?: string } }).String?.sval).filter((s): s is string => typeof s === "string") : [];

function qualified(parts: string[]): Name | undefined {
  const name = parts.at(-1);
  if (!name) return undefined;
  return { schema: parts.length > 1 ? (parts.at(-2) ?? null) : null, name };
}

/** Operator names an A_Expr stands for: its own, or the comparisons BETWEEN expands to. */
function operatorNames(expression: Record<string, unknown>): string[][] {
  const kind = typeof expression.kind === "string" ? expression.kind : "";
  if (kind.startsWith("AEXPR_BETWEEN") || kind.startsWith("AEXPR_NOT_BETWEEN")) return [[">="], ["<="]];
  return [strings(expression.name)];
}

/** Every function, operator, type and relation the tree names, walked whole. */
function references(tree: unknown): References {
  const found: References = { functions: [], operators: [], types: [], relations: namedRelations(tree) };
  walkTree(tree, (kind, fields) => {
    if (kind === "FuncCall") {
      const name = qualified(strings(fields.funcname));
      if (name) found.functions.push(name);
    } else if (kind === "A_Expr") {
      for (const parts of operatorNames(fields)) {
        const name = qualified(parts);
        if (name) found.operators.push(name);
      }
    } else if (kind === "TypeName") {
      const name = qualified(strings(fields.names));
      if (name) found.types.push(name);
    }
  });
  return found;
}

/**
 * Of the names, those that could resolve to an object outside pg_catalog and the installed
 * extensions: any object so named in the schema given, or (unqualified) in a schema of the
 * search path, that is neither in pg_catalog nor a member of an extension.
 */
async function foreign(sql: Sql, catalog: "pg_proc" | "pg_operator" | "pg_type", named: Name[]): Promise<string[]> {
  // An IN list of a hundred values names `=` a hundred times: each name is looked up once.
  const names = [...new Map(named.map((n) => [`${n.schema ?? ""}.${n.name}`, n])).values()];
  if (!names.length) return [];
  const rows = await sql<{ found: string }[]>`
    with wanted as (
      select e ->> 'schema' as schema, e ->> 'name' as name
      from jsonb_array_elements(${sql.json(names)}::jsonb) e
    ),
    objects as (
      select p.oid, 'pg_proc'::regclass as class, p.proname::text as name, p.pronamespace as namespace from pg_proc p where ${catalog} = 'pg_proc'
      union all
      select o.oid, 'pg_operator'::regclass, o.oprname::text, o.oprnamespace from pg_operator o where ${catalog} = 'pg_operator'
      union all
      select t.oid, 'pg_type'::regclass, t.typname::text, t.typnamespace from pg_type t where ${catalog} = 'pg_type'
    )
    select distinct format('%s.%s', n.nspname, o.name) as found
    from wanted w
    join objects o on o.name = w.name
    join pg_namespace n on n.oid = o.namespace
    where (case when w.schema is null then n.nspname = any(current_schemas(true)) else n.nspname = w.schema end)
      and n.nspname <> 'pg_catalog'
      and not exists (select 1 from pg_depend d where d.classid = o.class and d.objid = o.oid and d.deptype = 'e')
    order by 1`;
  return rows.map((row) => row.found);
}

/** Of the relations, those some other role owns (a view of theirs would be planned, its functions folded). */
async function othersRelations(sql: Sql, names: Name[]): Promise<string[]> {
  if (!names.length) return [];
  const rows = await sql<{ found: string }[]>`
    with wanted as (
      select e ->> 'schema' as schema, e ->> 'name' as name
      from jsonb_array_elements(${sql.json(names)}::jsonb) e
    )
    select distinct format('%s.%s (owned by %s)', n.nspname, c.relname, pg_get_userbyid(c.relowner)) as found
    from wanted w
    join pg_class c on c.relname = w.name
    join pg_namespace n on n.oid = c.relnamespace
    where (case when w.schema is null then n.nspname = any(current_schemas(true)) else n.nspname = w.schema end)
      and c.relowner <> (select oid from pg_roles where rolname = current_user)
      and n.nspname not in ('pg_catalog', 'information_schema')
      and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
    order by 1`;
  return rows.map((row) => row.found);
}

/**
 * Whether `query`, which `roles` ran, may be planned by this connection's role, and if not
 * why. `roles` are the roles pg_stat_statements recorded it for.
 */
export async function plannability(sql: Sql, query: string, roles: readonly string[]): Promise<Plannability> {
  const [me] = await sql<{ role: string }[]>`select current_user as role`;
  const platform = me?.role ?? "";
  if (!roles.includes(platform)) {
    return {
      plannable: false,
      reason: `not planned: run by ${roles.join(", ") || "another role"}, not the platform's role (${platform}); only its own statements are planned, so nothing another role wrote runs with its rights`,
    };
  }
  let tree: unknown;
  try {
    tree = await parseTree(query);
  } catch (error) {
    return { plannable: false, reason: `not planned: PostgreSQL's parser cannot read it (${error instanceof Error ? error.message : String(error)})` };
  }
  const found = references(tree);
  // Sent together: one round trip's wait, not four.
  const [functions, operators, types, owned] = await Promise.all([
    foreign(sql, "pg_proc", found.functions),
    foreign(sql, "pg_operator", found.operators),
    foreign(sql, "pg_type", found.types),
    othersRelations(sql, found.relations),
  ]);
  const outside = [...functions.map((name) => `function ${name}`), ...operators.map((name) => `operator ${name}`), ...types.map((name) => `type ${name}`)];
  if (outside.length) {
    return {
      plannable: false,
      reason: `not planned: it names ${outside.join(", ")}, outside pg_catalog and the installed extensions, whose code planning could run`,
    };
  }
  if (owned.length)
    return { plannable: false, reason: `not planned: it reads ${owned.join(", ")}, which another role owns: planning it would run that role's code` };
  return { plannable: true };
}
