/**
 * What a recorded statement is, read from PostgreSQL's own parse tree (libpg-query): whether it
 * only reads, how many parameters it takes ($1 … $n, pg_stat_statements' stand-ins for its
 * constants), and the relations it names. EXPLAIN ANALYZE runs a statement for real: these
 * decide whether it may run without the operator's say-so and what values it needs.
 */
import { namedRelations, parseTree, walkTree, type RelationName } from "./parse-tree.js";

export type StatementKind = "read" | "write";

export interface StatementShape {
  /** "read": one SELECT that locks no row, writes nothing and creates nothing; "write": anything else. */
  kind: StatementKind;
  /** Why it counts as writing, for the operator's confirmation; null for a read. */
  writes: string | null;
  /** The highest $n it uses. */
  parameters: number;
  /** The relations it names (not its WITH queries), schema-qualified where it qualifies them. */
  relations: RelationName[];
}

const WRITING_NODES: Record<string, string> = {
  InsertStmt: "it inserts rows",
  UpdateStmt: "it updates rows",
  DeleteStmt: "it deletes rows",
  MergeStmt: "it merges rows",
};

/** The statement's shape; throws when PostgreSQL's parser cannot read it. */
export async function statementShape(query: string): Promise<StatementShape> {
  const tree = (await parseTree(query)) as { stmts?: Array<{ stmt?: Record<string, unknown> }> };
  const statements = tree.stmts ?? [];
  let writes: string | null = null;
  let parameters = 0;
  walkTree(statements, (kind, fields, value) => {
    if (WRITING_NODES[kind]) writes ??= WRITING_NODES[kind] ?? null;
    else if (kind === "lockingClause" && Array.isArray(value) && value.length > 0) writes ??= "it locks the rows it reads (FOR UPDATE or FOR SHARE)";
    else if (kind === "intoClause") writes ??= "it creates a table (SELECT INTO)";
    else if (kind === "ParamRef" && typeof fields.number === "number") parameters = Math.max(parameters, fields.number);
  });
  const top = statements.length === 1 ? Object.keys(statements[0]?.stmt ?? {})[0] : undefined;
  if (top !== "SelectStmt")
    writes ??= statements.length === 1 ? `it is a ${top?.replace(/Stmt$/, "").toUpperCase() ?? "statement"}, not a SELECT` : "it is several statements";
  return { kind: writes ? "write" : "read", writes, parameters, relations: namedRelations(statements) };
}
