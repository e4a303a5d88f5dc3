/**
 * Every `db:inspect` finding as the dashboard lists it: what it is about, how urgent, what it
 * means, and the statement that deals with it, to copy (nothing here runs it). The statements
 * suggested are safe to run as a whole: no drop takes away what another suggestion or a
 * constraint relies on, and no unused index is suggested for a drop before its usage has been
 * counted long enough to mean something.
 */
import { newestMeasuredAdvice, type MeasuredAdviceRun } from "../lib/data/measured-advice.js";
import { adviceCandidates, hypopgAvailability, indexAdvice, type IndexAdvice } from "../lib/db/inspect/advice.js";
import { foreignKeyColumns, heldDrops, indexShapes, type DropReason } from "../lib/db/inspect/drop-plan.js";
import {
  invalidIndexes,
  missingForeignKeyIndexes,
  redundantIndexes,
  sequentialScanTables,
  tableCacheHits,
  unusedIndexes,
  type IndexUsage,
  type RedundantIndex,
} from "../lib/db/inspect/indexes.js";
import {
  autovacuumDue,
  notValidConstraints,
  sequencesNearExhaustion,
  tableFreezeAges,
  vacuumStats,
  type AutovacuumDue,
  type VacuumStats,
} from "../lib/db/inspect/maintenance.js";
import { probed } from "../lib/db/inspect/probe.js";
import { indexBloat, tableBloat } from "../lib/db/inspect/space.js";
import { statementsAvailability } from "../lib/db/inspect/statements.js";
import { usageCountedSince } from "../lib/data/index-sightings.js";
import { config } from "../lib/config.js";
import type { Transaction } from "../lib/db/pool.js";
import { directDb, onOwnConnection } from "../lib/db/pool.js";
import { CHECK_TITLES, SEVERITIES, type Check, type Severity } from "../lib/ops-shared.js";

export type { Check, Severity } from "../lib/ops-shared.js";

export interface Finding {
  check: Check;
  severity: Severity;
  /** The table, index, constraint or statement it is about. */
  subject: string;
  /** The figures behind it, for a person. */
  detail: string;
  /** What to run about it; null where there is no one statement, or none yet (see the note). */
  run: string | null;
  note?: string;
  /** How far past its line, 0 to 1: orders findings of one severity. */
  weight: number;
}

export interface FindingsView {
  /** Most urgent first. */
  findings: Finding[];
  /** The checks that ran and found nothing. */
  passed: Check[];
  /** Every table's dead rows and last (auto)vacuum and (auto)analyze, most dead rows first. */
  maintenance: VacuumStats[];
  /** What could not be looked at, and why. */
  notes: string[];
  /** The newest advice measured on a restored copy (the drill's, or db:advise --on): proven, where the findings' advice is hypopg's estimate. */
  measured: MeasuredAdviceRun | null;
}

/** Tables listed in the maintenance table (PgHero lists them all; a platform has dozens). */
const MAINTENANCE_TABLES = 500;
/** A freeze ratio from which a table is listed. */
const FREEZE_LISTED = 0.5;
const DAY_MS = 86_400_000;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const utc = (at: Date) => `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
const days = (ms: number) => `${(ms / DAY_MS).toFixed(1)} days`;

/** Names as the server quotes them (quote_ident): reserved words and odd characters in double quotes, plain names bare. */
type Quote = (name: string) => string;

async function serverQuoting(tx: Transaction, names: readonly string[]): Promise<Quote> {
  const unique = [...new Set(names)];
  const rows = await tx<{ name: string; quoted: string }[]>`
    select n as name, quote_ident(n) as quoted from jsonb_array_elements_text(${tx.json(unique)}::jsonb) as n`;
  const quoted = new Map(rows.map((row) => [row.name, row.quoted]));
  return (name) => quoted.get(name) ?? `"${name.replaceAll('"', '""')}"`;
}

/** A relation by its raw name, qualified outside public. (A regclass's text is quoted and qualified already.) */
const named = (quote: Quote, schema: string, name: string) => (schema === "public" ? quote(name) : `${quote(schema)}.${quote(name)}`);

interface IndexFacts {
  unused: IndexUsage[];
  redundant: RedundantIndex[];
  countedSince: Map<number, Date>;
  held: Map<number, string>;
}

async function indexFacts(tx: Transaction, suggested: readonly IndexAdvice[]): Promise<IndexFacts> {
  const unused = await unusedIndexes(tx);
  const redundant = await redundantIndexes(tx);
  const countedSince = await usageCountedSince(tx);
  const minMs = config().stats.unusedIndexMinDays * DAY_MS;
  const now = Date.now();
  const candidates = new Map<number, DropReason>();
  // An index both unused and covered by another is listed once, as redundant (the stronger reason).
  for (const row of unused) {
    const since = countedSince.get(row.oid);
    if (since && now - since.getTime() >= minMs) candidates.set(row.oid, { reason: "unused" });
  }
  for (const row of redundant) candidates.set(row.oid, { reason: "redundant", keeperOid: row.keeperOid });
  const ordered = new Map([...candidates].sort(([, a], [, b]) => (a.reason === b.reason ? 0 : a.reason === "unused" ? -1 : 1)));
  const held = heldDrops(ordered, await indexShapes(tx), await foreignKeyColumns(tx), suggested);
  return { unused: unused.filter((row) => !redundant.some((r) => r.oid === row.oid)), redundant, countedSince, held };
}

function unusedFinding(row: IndexUsage, facts: IndexFacts, quote: Quote): Finding {
  const index = named(quote, row.schema, row.index);
  const since = facts.countedSince.get(row.oid);
  const minDays = config().stats.unusedIndexMinDays;
  const base = { check: "unusedIndexes" as const, subject: index, weight: Math.min(row.sizeBytes / (1024 * 1024 * 1024), 1) };
  if (!since) {
    return {
      ...base,
      severity: "notice",
      detail: `${row.scans} scans, ${mb(row.sizeBytes)}, on ${row.table}; since when its scans have been counted is not known yet`,
      run: null,
      note: "no statistics reset is recorded and no stats snapshot has seen this index yet: the next snapshot starts its clock, and a drop is suggested once it has counted long enough",
    };
  }
  const counted = Date.now() - since.getTime();
  const detail = `${row.scans} scans in ${days(counted)} of counting (since ${utc(since)}), ${mb(row.sizeBytes)}, on ${row.table}`;
  if (counted < minDays * DAY_MS) {
    return {
      ...base,
      severity: "notice",
      detail,
      run: null,
      note: `too soon to tell: a drop is suggested after ${minDays} days of counting (UNUSED_INDEX_MIN_DAYS); a restored or new database starts at zero`,
    };
  }
  const held = facts.held.get(row.oid);
  if (held) return { ...base, severity: "notice", detail, run: null, note: `not suggested for a drop: ${held}` };
  return {
    ...base,
    severity: "notice",
    detail,
    run: `DROP INDEX CONCURRENTLY ${index};`,
    note: "check the replicas and the rare jobs first: the scans counted are this server's",
  };
}

function redundantFinding(row: RedundantIndex, facts: IndexFacts): Finding {
  const held = facts.held.get(row.oid);
  return {
    check: "redundantIndexes",
    severity: "notice",
    subject: row.index,
    detail: `covered by ${row.coveredBy}: ${row.coveringDefinition}; ${mb(row.sizeBytes)}`,
    run: held ? null : `DROP INDEX CONCURRENTLY ${row.index};`,
    ...(held ? { note: `not suggested for a drop: ${held}` } : {}),
    weight: Math.min(row.sizeBytes / (1024 * 1024 * 1024), 1),
  };
}

async function indexFindings(tx: Transaction, suggested: readonly IndexAdvice[]): Promise<Finding[]> {
  const facts = await indexFacts(tx, suggested);
  const foreignKeys = await missingForeignKeyIndexes(tx);
  const scans = await sequentialScanTables(tx);
  const cache = await tableCacheHits(tx);
  const quote = await serverQuoting(tx, [
    ...facts.unused.flatMap((row) => [row.schema, row.index]),
    ...foreignKeys.flatMap((row) => row.columns),
    ...scans.flatMap((row) => [row.schema, row.table]),
    ...cache.flatMap((row) => [row.schema, row.table]),
  ]);
  const findings: Finding[] = [];
  for (const row of await tableBloat(tx)) {
    findings.push({
      check: "tableBloat",
      severity: row.bloatRatio >= 0.5 ? "warning" : "notice",
      subject: row.table,
      detail: `${mb(row.bloatBytes)} of ${mb(row.sizeBytes)} (${percent(row.bloatRatio)}) estimated waste`,
      run: `VACUUM FULL ${row.table};`,
      note: "VACUUM FULL locks the table against reads and writes while it rewrites it; pg_repack does it online",
      weight: row.bloatRatio,
    });
  }
  for (const row of await indexBloat(tx)) {
    findings.push({
      check: "indexBloat",
      severity: row.bloatRatio >= 0.7 ? "warning" : "notice",
      subject: row.index ?? "",
      detail: `${mb(row.bloatBytes)} of ${mb(row.sizeBytes)} (${percent(row.bloatRatio)}) estimated waste, on ${row.table}`,
      run: `REINDEX INDEX CONCURRENTLY ${row.index ?? ""};`,
      weight: row.bloatRatio,
    });
  }
  for (const row of facts.unused) findings.push(unusedFinding(row, facts, quote));
  for (const row of facts.redundant) findings.push(redundantFinding(row, facts));
  for (const row of await invalidIndexes(tx)) {
    findings.push({
      check: "invalidIndexes",
      severity: "warning",
      subject: row.index,
      detail: `${row.definition}: left invalid (a failed CREATE INDEX CONCURRENTLY?), it serves no read and slows every write`,
      run: `DROP INDEX CONCURRENTLY ${row.index};\n${row.definition.replace(/^CREATE (UNIQUE )?INDEX /, "CREATE $1INDEX CONCURRENTLY ")};`,
      weight: 1,
    });
  }
  for (const row of foreignKeys) {
    findings.push({
      check: "missingForeignKeyIndexes",
      severity: "notice",
      subject: `${row.table} (${row.constraint})`,
      detail: `(${row.columns.join(", ")}) references ${row.references}: each delete there scans ${row.table}`,
      run: `CREATE INDEX CONCURRENTLY ON ${row.table} (${row.columns.map(quote).join(", ")});`,
      weight: 0.5,
    });
  }
  for (const row of scans) {
    findings.push({
      check: "sequentialScans",
      severity: "notice",
      subject: named(quote, row.schema, row.table),
      detail: `${row.sequentialScans} sequential scans, ${row.indexScans} index scans, about ${row.estimatedRows} rows`,
      run: null,
      note: "see the indexes worth building, and the statements reading it",
      weight: row.sequentialScans / Math.max(row.sequentialScans + row.indexScans, 1),
    });
  }
  for (const row of cache) {
    findings.push({
      check: "tablesMissingCache",
      severity: row.hitRatio < 0.9 ? "warning" : "notice",
      subject: named(quote, row.schema, row.table),
      detail: `${percent(row.hitRatio)} of ${row.blocksRead + row.blocksHit} block reads from shared buffers (${row.blocksRead} from outside)`,
      run: null,
      note: "a working set larger than shared_buffers: a larger instance, or fewer rows read (an index, a narrower query)",
      weight: 1 - row.hitRatio,
    });
  }
  return findings;
}

/** What to run for a table past autovacuum's thresholds: turn autovacuum back on where it is off, then vacuum now. */
function autovacuumFinding(row: AutovacuumDue, table: string): Finding {
  const server = row.autovacuumOffFor.includes("server");
  const own = row.autovacuumOffFor.includes("table");
  const run = [
    ...(server ? ["ALTER SYSTEM SET autovacuum = on;", "SELECT pg_reload_conf();"] : []),
    ...(own ? [`ALTER TABLE ${table} RESET (autovacuum_enabled);`] : []),
    `VACUUM (ANALYZE) ${table};`,
  ].join("\n");
  const off = [
    ...(server ? ["autovacuum is off for the whole server (autovacuum = off): no table is vacuumed or analyzed until it is back on"] : []),
    ...(own ? ["autovacuum is off for this table (autovacuum_enabled = false): it will never come"] : []),
  ];
  const managed = server ? "; on a managed database (Supabase, RDS) set autovacuum in the provider's settings, where ALTER SYSTEM is refused" : "";
  return {
    check: "autovacuumDue",
    severity: off.length > 0 ? "warning" : "notice",
    subject: table,
    detail: `${row.due.join(" and ")} due: ${row.deadRows} dead rows (threshold ${row.vacuumThreshold}), ${row.insertedSinceVacuum} inserted since the last vacuum, ${row.modifiedSinceAnalyze} changed since the last analyze (threshold ${row.analyzeThreshold})`,
    run,
    note: off.length > 0 ? `${off.join("; and ")}${managed}` : "autovacuum will come; run it now only if the statistics matter before then",
    weight: Math.min(row.deadRows / Math.max(row.vacuumThreshold, 1) / 10, 1),
  };
}

async function maintenanceFindings(tx: Transaction): Promise<Finding[]> {
  const due = await autovacuumDue(tx);
  const freeze = await tableFreezeAges(tx, { minFreezeRatio: FREEZE_LISTED });
  const sequences = await sequencesNearExhaustion(tx);
  const constraints = await notValidConstraints(tx);
  const quote = await serverQuoting(tx, [
    ...due.flatMap((row) => [row.schema, row.table]),
    ...freeze.flatMap((row) => [row.schema, row.table]),
    ...sequences.flatMap((row) => [row.schema, row.sequence, row.column ?? ""]),
    ...constraints.map((row) => row.constraint),
  ]);
  const findings: Finding[] = due.map((row) => autovacuumFinding(row, named(quote, row.schema, row.table)));
  for (const row of freeze) {
    findings.push({
      check: "freezeAge",
      severity: row.wraparoundRatio >= 0.5 || row.freezeRatio >= 1.5 ? "critical" : "warning",
      subject: named(quote, row.schema, row.table),
      detail: `transaction-id age ${row.age}, ${percent(row.freezeRatio)} of its freeze threshold (${row.freezeMaxAge}), ${percent(row.wraparoundRatio)} of the wraparound horizon`,
      run: `VACUUM (FREEZE) ${named(quote, row.schema, row.table)};`,
      weight: row.wraparoundRatio,
    });
  }
  for (const row of sequences) {
    const sequence = named(quote, row.schema, row.sequence);
    findings.push({
      check: "sequences",
      severity: row.usedRatio >= 0.85 ? "critical" : "warning",
      subject: sequence,
      detail: `${row.lastValue} of ${row.maxValue} (${percent(row.usedRatio)})${row.table ? `, feeding ${row.table}.${row.column} (${row.columnType})` : ""}`,
      run:
        row.table && row.column && row.columnType !== "bigint"
          ? `ALTER TABLE ${row.table} ALTER COLUMN ${quote(row.column)} TYPE bigint;\nALTER SEQUENCE ${sequence} AS bigint;`
          : `ALTER SEQUENCE ${sequence} AS bigint;`,
      ...(row.table ? { note: "changing a column's type rewrites the table under an exclusive lock" } : {}),
      weight: row.usedRatio,
    });
  }
  for (const row of constraints) {
    findings.push({
      check: "notValidConstraints",
      severity: "notice",
      subject: `${row.table} (${row.constraint})`,
      detail: `${row.kind}: ${row.definition}`,
      run: `ALTER TABLE ${row.table} VALIDATE CONSTRAINT ${quote(row.constraint)};`,
      weight: 0.2,
    });
  }
  return findings;
}

interface Advised {
  advice: IndexAdvice[];
  /** False when the advice could not run (see the notes). */
  ran: boolean;
}

async function adviceOf(tx: Transaction, notes: string[]): Promise<Advised> {
  const hypopg = await hypopgAvailability(tx);
  if (!hypopg.available) {
    notes.push(`index advice skipped: ${hypopg.reason}`);
    return { advice: [], ran: false };
  }
  const statements = await statementsAvailability(tx);
  if (!statements.available) {
    notes.push(`index advice skipped: statement statistics unavailable: ${statements.reason}`);
    return { advice: [], ran: false };
  }
  const { advice, skipped } = await indexAdvice(tx, hypopg.schema, await adviceCandidates(tx, statements.schema));
  for (const statement of skipped)
    notes.push(`no advice for "${statement.query.length > 80 ? `${statement.query.slice(0, 80)}…` : statement.query}": ${statement.reason}`);
  return { advice, ran: true };
}

const adviceFinding = (row: IndexAdvice): Finding => ({
  check: "indexAdvice",
  severity: row.costCut >= 0.9 && row.meanMs >= 10 ? "warning" : "notice",
  subject: `${row.table} (${row.columns.join(", ")})`,
  detail: `hypothetical (hypopg's estimate, not measured): cuts the plan's cost by ${percent(row.costCut)} (${row.costBefore} to ${row.costAfter}) for a statement called ${row.calls} times, ${row.meanMs} ms on average: ${row.query}`,
  run: `${row.createStatement};`,
  weight: row.costCut,
});

/** Most urgent first; within a severity, furthest past its line first. */
function byUrgency(a: Finding, b: Finding): number {
  return SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) || b.weight - a.weight || a.subject.localeCompare(b.subject);
}

/** Every finding of the indexes, maintenance and advice checks, with what to run, most urgent first, and the checks that passed. */
export async function findingsView(): Promise<FindingsView> {
  const notes: string[] = [];
  const sql = directDb();
  const advised = await onOwnConnection((own) => probed(own, (tx) => adviceOf(tx, notes), 10_000));
  const findings = [
    ...(await probed(sql, (tx) => indexFindings(tx, advised.advice), 10_000)),
    ...(await probed(sql, maintenanceFindings, 10_000)),
    ...advised.advice.map(adviceFinding),
  ].sort(byUrgency);
  const found = new Set(findings.map((finding) => finding.check));
  const passed = (Object.keys(CHECK_TITLES) as Check[]).filter((check) => !found.has(check) && (check !== "indexAdvice" || advised.ran));
  const maintenance = await probed(sql, (tx) => vacuumStats(tx, { limit: MAINTENANCE_TABLES }));
  return { findings, passed, maintenance, notes, measured: (await newestMeasuredAdvice(sql)) ?? null };
}
