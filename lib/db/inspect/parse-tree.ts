/** PostgreSQL's own parse tree of a statement (libpg-query), loaded once, and the walks over it that the inspection shares. */
import { loadModule, parse } from "libpg-query";

let loaded: Promise<void> | undefined;

/** Texts whose trees are kept: one statement is parsed by plannability, its shape, its parameters and advice's trials in turn. */
const KEPT_TREES = 64;
const trees = new Map<string, unknown>();

/** The statement's parse tree (the same object for the same text while it is kept: read it, never change it); throws when PostgreSQL's parser cannot read it. */
export async function parseTree(query: string): Promise<unknown> {
  const kept = trees.get(query);
  if (kept !== undefined) return kept;
  loaded ??= loadModule();
  await loaded;
  const tree: unknown = await parse(query);
  if (trees.size >= KEPT_TREES) trees.delete(trees.keys().next().value as string);
  trees.set(query, tree);
  return tree;
}

/** Calls `onNode` with each node's kind (FuncCall, RangeVar...) and fields, the whole tree down. */
export function walkTree(node: unknown, onNode: (kind: string, fields: Record<string, unknown>, value: unknown) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walkTree(item, onNode);
    return;
  }
  if (node === null || typeof node !== "object") return;
  for (const [kind, value] of Object.entries(node as Record<string, unknown>)) {
    onNode(kind, (value ?? {}) as Record<string, unknown>, value);
    walkTree(value, onNode);
  }
}

export interface RelationName {
  schema: string | null;
  name: string;
}

const TARGETS = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

/** The relations the tree names, once each, leaving out the names its WITH queries define. */
export function namedRelations(tree: unknown): RelationName[] {
  const relations: RelationName[] = [];
  const ctes = new Set<string>();
  walkTree(tree, (kind, fields) => {
    if (kind === "RangeVar") {
      relations.push({
        schema: typeof fields.schemaname === "string" ? fields.schemaname : null,
        name: typeof fields.relname === "string" ? fields.relname : "",
      });
    } else if (TARGETS.has(kind) && fields.relation && typeof fields.relation === "object") {
      // A statement's target is a bare RangeVar's fields, not wrapped as one.
      const target = fields.relation as Record<string, unknown>;
      if (typeof target.relname === "string")
        relations.push({ schema: typeof target.schemaname === "string" ? target.schemaname : null, name: target.relname });
    } else if (kind === "CommonTableExpr" && typeof fields.ctename === "string") ctes.add(fields.ctename);
  });
  const named = relations.filter((r) => r.schema !== null || !ctes.has(r.name));
  return [...new Map(named.map((r) => [`${r.schema ?? ""}.${r.name}`, r])).values()];
}
