/**
 * What a recorded statement is, read from PostgreSQL's own parse tree (libpg-query): whether it
 * only reads, how many parameters it takes ($1 … $n, pg_stat_statements' stand-ins for its
 * constants), and the relations it names. EXPLAIN ANALYZE runs a statement for real: these
 * decide whether it may run without the operator's say-so and what values it needs.
 */
import { loadModule, parse } from "libpg-query";

export type StatementKind = "read" | "write";

export interface StatementShape {
  /** "read": one SELECT that locks no row, writes nothing and creates nothing; "write": anything else. */
  kind: StatementKind;
  /** Why it counts as writing, for the operator's confirmation; null for a read. */
  writes: string | null;
  /** The highest $n it uses. */
  parameters: number;
  /** The relations it names (not its WITH queries), schema-qualified where it qualifies them. */
  relations: Array<{ schema: string | null; name: string }>;
}

const WRITING_NODES: Record<string, string> = {
  InsertStmt: "it inserts rows",
  UpdateStmt: "it updates rows",
  DeleteStmt: "it deletes rows",
  MergeStmt: "it merges rows",
};

let loaded: Promise<void> | undefined;

/** The statement's shape; throws when PostgreSQL's parser cannot read it. */
export async function statementShape(query: string): Promise<StatementShape> {
  loaded ??= loadModule();
  await loaded;
  const tree = (await parse(query)) as { stmts?: Array<{ stmt?: Record<string, unknown> }> };
  const statements = tree.stmts ?? [];
  let writes: string | null = null;
  let parameters = 0;
  const relations: StatementShape["relations"] = [];
  const ctes = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (node === null || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const fields = (value ?? {}) as Record<string, unknown>;
      if (WRITING_NODES[key]) writes ??= WRITING_NODES[key] ?? null;
      else if (key === "lockingClause" && Array.isArray(value) && value.length > 0) writes ??= "it locks the rows it reads (FOR UPDATE or FOR SHARE)";
      else if (key === "intoClause") writes ??= "it creates a table (SELECT INTO)";
      else if (key === "ParamRef" && typeof fields.number === "number") parameters = Math.max(parameters, fields.number);
      else if (key === "CommonTableExpr" && typeof fields.ctename === "string") ctes.add(fields.ctename);
      else if (key === "RangeVar") {
        relations.push({
          schema: typeof fields.schemaname === "string" ? fields.schemaname : null,
          name: typeof fields.relname === "string" ? fields.relname : "",
        });
      }
      visit(value);
    }
  };
  visit(statements);
  const top = statements.length === 1 ? Object.keys(statements[0]?.stmt ?? {})[0] : undefined;
  if (top !== "SelectStmt")
    writes ??= statements.length === 1 ? `it is a ${top?.replace(/Stmt$/, "").toUpperCase() ?? "statement"}, not a SELECT` : "it is several statements";
  const named = relations.filter((r) => r.schema !== null || !ctes.has(r.name));
  const unique = [...new Map(named.map((r) => [`${r.schema ?? ""}.${r.name}`, r])).values()];
  return { kind: writes ? "write" : "read", writes, parameters, relations: unique };
}
