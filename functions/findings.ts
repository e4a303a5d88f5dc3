/**
 * Every `db:inspect` finding as the dashboard lists it: what it is about, what it means, and
 * the statement that deals with it, to copy (nothing here runs it).
 */
import { adviceCandidates, hypopgAvailability, indexAdvice } from "../lib/db/inspect/advice.js";
import { invalidIndexes, missingForeignKeyIndexes, redundantIndexes, sequentialScanTables, tableCacheHits, unusedIndexes } from "../lib/db/inspect/indexes.js";
import { autovacuumDue, notValidConstraints, sequencesNearExhaustion, tableFreezeAges } from "../lib/db/inspect/maintenance.js";
import { probed } from "../lib/db/inspect/probe.js";
import { indexBloat, tableBloat } from "../lib/db/inspect/space.js";
import { statementsAvailability } from "../lib/db/inspect/statements.js";
import type { Transaction } from "../lib/db/pool.js";
import { directDb, onOwnConnection } from "../lib/db/pool.js";
import type { Check } from "../lib/ops-shared.js";

export type { Check } from "../lib/ops-shared.js";

export interface Finding {
  check: Check;
  /** The table, index, constraint or statement it is about. */
  subject: string;
  /** The figures behind it, for a person. */
  detail: string;
  /** What to run about it; null where there is no one statement (see the note). */
  run: string | null;
  note?: string;
}

export interface FindingsView {
  findings: Finding[];
  /** What could not be looked at, and why. */
  notes: string[];
}

/** A freeze ratio from which a table is listed. */
const FREEZE_LISTED = 0.5;
const SIMPLE = /^[a-z_][a-z0-9_$]*$/;
const RESERVED = new Set([
  "all",
  "analyse",
  "analyze",
  "and",
  "any",
  "array",
  "as",
  "asc",
  "both",
  "case",
  "cast",
  "check",
  "collate",
  "column",
  "constraint",
  "create",
  "default",
  "desc",
  "distinct",
  "do",
  "else",
  "end",
  "except",
  "false",
  "for",
  "foreign",
  "from",
  "grant",
  "group",
  "having",
  "in",
  "into",
  "leading",
  "limit",
  "not",
  "null",
  "offset",
  "on",
  "only",
  "or",
  "order",
  "primary",
  "references",
  "select",
  "table",
  "then",
  "to",
  "true",
  "union",
  "unique",
  "user",
  "using",
  "when",
  "where",
  "window",
  "with",
]);

/** A column name as SQL spells it (regclass text is quoted by PostgreSQL already). */
function ident(name: string): string {
  return SIMPLE.test(name) && !RESERVED.has(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

/** A relation by its raw name, qualified outside public. (A regclass's text is quoted and qualified already.) */
const named = (schema: string, name: string) => (schema === "public" ? ident(name) : `${ident(schema)}.${ident(name)}`);

async function indexFindings(tx: Transaction): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const row of await tableBloat(tx)) {
    findings.push({
      check: "tableBloat",
      subject: row.table,
      detail: `${mb(row.bloatBytes)} of ${mb(row.sizeBytes)} (${percent(row.bloatRatio)}) estimated waste`,
      run: `VACUUM FULL ${row.table};`,
      note: "VACUUM FULL locks the table against reads and writes while it rewrites it; pg_repack does it online",
    });
  }
  for (const row of await indexBloat(tx)) {
    findings.push({
      check: "indexBloat",
      subject: row.index ?? "",
      detail: `${mb(row.bloatBytes)} of ${mb(row.sizeBytes)} (${percent(row.bloatRatio)}) estimated waste, on ${row.table}`,
      run: `REINDEX INDEX CONCURRENTLY ${row.index ?? ""};`,
    });
  }
  for (const row of await unusedIndexes(tx)) {
    findings.push({
      check: "unusedIndexes",
      subject: named(row.schema, row.index),
      detail: `${row.scans} scans since the statistics were reset, ${mb(row.sizeBytes)}, on ${row.table}`,
      run: `DROP INDEX CONCURRENTLY ${named(row.schema, row.index)};`,
      note: "check the replicas and the rare jobs first: the scans counted are this server's",
    });
  }
  for (const row of await redundantIndexes(tx)) {
    findings.push({
      check: "redundantIndexes",
      subject: row.index,
      detail: `covered by ${row.coveredBy}: ${row.coveringDefinition}`,
      run: `DROP INDEX CONCURRENTLY ${row.index};`,
    });
  }
  for (const row of await invalidIndexes(tx)) {
    findings.push({
      check: "invalidIndexes",
      subject: row.index,
      detail: row.definition,
      run: `DROP INDEX CONCURRENTLY ${row.index};\n${row.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY ")};`,
    });
  }
  for (const row of await missingForeignKeyIndexes(tx)) {
    findings.push({
      check: "missingForeignKeyIndexes",
      subject: `${row.table} (${row.constraint})`,
      detail: `(${row.columns.join(", ")}) references ${row.references}`,
      run: `CREATE INDEX CONCURRENTLY ON ${row.table} (${row.columns.map(ident).join(", ")});`,
    });
  }
  for (const row of await sequentialScanTables(tx)) {
    findings.push({
      check: "sequentialScans",
      subject: named(row.schema, row.table),
      detail: `${row.sequentialScans} sequential scans, ${row.indexScans} index scans, about ${row.estimatedRows} rows`,
      run: null,
      note: "see the indexes worth building, and the statements reading it",
    });
  }
  for (const row of await tableCacheHits(tx)) {
    findings.push({
      check: "tablesMissingCache",
      subject: named(row.schema, row.table),
      detail: `${percent(row.hitRatio)} of ${row.blocksRead + row.blocksHit} block reads from shared buffers (${row.blocksRead} from outside)`,
      run: null,
      note: "a working set larger than shared_buffers: a larger instance, or fewer rows read (an index, a narrower query)",
    });
  }
  return findings;
}

async function maintenanceFindings(tx: Transaction): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const row of await autovacuumDue(tx)) {
    const table = named(row.schema, row.table);
    findings.push({
      check: "autovacuumDue",
      subject: table,
      detail: `${row.due.join(" and ")} due: ${row.deadRows} dead rows (threshold ${row.vacuumThreshold}), ${row.insertedSinceVacuum} inserted since the last vacuum, ${row.modifiedSinceAnalyze} changed since the last analyze (threshold ${row.analyzeThreshold})`,
      run: row.autovacuumEnabled ? `VACUUM (ANALYZE) ${table};` : `ALTER TABLE ${table} RESET (autovacuum_enabled);\nVACUUM (ANALYZE) ${table};`,
      ...(row.autovacuumEnabled ? {} : { note: "autovacuum is off for this table: it will never come" }),
    });
  }
  for (const row of await tableFreezeAges(tx, { minFreezeRatio: FREEZE_LISTED })) {
    findings.push({
      check: "freezeAge",
      subject: named(row.schema, row.table),
      detail: `transaction-id age ${row.age}, ${percent(row.freezeRatio)} of its freeze threshold (${row.freezeMaxAge}), ${percent(row.wraparoundRatio)} of the wraparound horizon`,
      run: `VACUUM (FREEZE) ${named(row.schema, row.table)};`,
    });
  }
  for (const row of await sequencesNearExhaustion(tx)) {
    const sequence = named(row.schema, row.sequence);
    findings.push({
      check: "sequences",
      subject: sequence,
      detail: `${row.lastValue} of ${row.maxValue} (${percent(row.usedRatio)})${row.table ? `, feeding ${row.table}.${row.column} (${row.columnType})` : ""}`,
      run:
        row.table && row.column && row.columnType !== "bigint"
          ? `ALTER TABLE ${row.table} ALTER COLUMN ${ident(row.column)} TYPE bigint;\nALTER SEQUENCE ${sequence} AS bigint;`
          : `ALTER SEQUENCE ${sequence} AS bigint;`,
      ...(row.table ? { note: "changing a column's type rewrites the table under an exclusive lock" } : {}),
    });
  }
  for (const row of await notValidConstraints(tx)) {
    findings.push({
      check: "notValidConstraints",
      subject: `${row.table} (${row.constraint})`,
      detail: `${row.kind}: ${row.definition}`,
      run: `ALTER TABLE ${row.table} VALIDATE CONSTRAINT ${ident(row.constraint)};`,
    });
  }
  return findings;
}

async function adviceFindings(tx: Transaction, notes: string[]): Promise<Finding[]> {
  const hypopg = await hypopgAvailability(tx);
  if (!hypopg.available) {
    notes.push(`index advice skipped: ${hypopg.reason}`);
    return [];
  }
  const statements = await statementsAvailability(tx);
  if (!statements.available) {
    notes.push(`index advice skipped: statement statistics unavailable: ${statements.reason}`);
    return [];
  }
  const { advice, skipped } = await indexAdvice(tx, hypopg.schema, await adviceCandidates(tx, statements.schema));
  for (const statement of skipped) notes.push(`no advice for statement ${statement.queryId}: ${statement.reason}`);
  return advice.map((row) => ({
    check: "indexAdvice",
    subject: `${row.table} (${row.columns.join(", ")})`,
    detail: `cuts the plan's cost by ${percent(row.costCut)} (${row.costBefore} to ${row.costAfter}) for a statement called ${row.calls} times, ${row.meanMs} ms on average: ${row.query}`,
    run: `${row.createStatement};`,
  }));
}

/** Every finding of the indexes, maintenance and advice checks, with what to run. */
export async function findingsView(): Promise<FindingsView> {
  const notes: string[] = [];
  const sql = directDb();
  const findings = [
    ...(await probed(sql, indexFindings, 10_000)),
    ...(await probed(sql, maintenanceFindings, 10_000)),
    ...(await onOwnConnection((own) => probed(own, (tx) => adviceFindings(tx, notes), 10_000))),
  ];
  return { findings, notes };
}
