/** Index advice measured on a restored copy (ops.measured_advice): recorded per run, read back by the dashboard. */
import type { Sql } from "../db/pool.js";

export type MeasuredVerdict = "suggested" | "not suggested" | "withheld" | "not measured";

/** One statement timed with and without an index on the copy. */
export interface MeasuredEffect {
  queryId: string;
  query: string;
  msBefore: number;
  msAfter: number;
  buffersBefore: number;
  buffersAfter: number;
  /** Slower without the index (a drop) past the noise. */
  slower: boolean;
}

export interface MeasuredAdvice {
  kind: "create" | "drop";
  table: string;
  index: string;
  columns: string[];
  /** What to run on production when suggested. */
  statement: string;
  verdict: MeasuredVerdict;
  /** The verdict in words, figures included. */
  reason: string;
  /** A suggested index's statement. */
  queryId: string | null;
  query: string | null;
  /** hypopg's estimate, for a suggested index. */
  predictedCostBefore: number | null;
  predictedCostAfter: number | null;
  msBefore: number | null;
  msAfter: number | null;
  buffersBefore: number | null;
  buffersAfter: number | null;
  buildSeconds: number | null;
  sizeBytes: number | null;
  effects: MeasuredEffect[];
}

export interface MeasuredAdviceRun {
  runId: string;
  measuredAt: string;
  drillId: string | null;
  copyTakenAt: string | null;
  advice: MeasuredAdvice[];
}

export async function recordMeasuredAdvice(
  sql: Sql,
  run: { runId: string; drillId: string | null; copyTakenAt: string | null },
  advice: readonly MeasuredAdvice[],
): Promise<void> {
  if (!advice.length) return;
  await sql`
    insert into ops.measured_advice (run_id, drill_id, copy_taken_at, kind, table_name, index_name, columns, statement, verdict, reason, queryid, query,
      predicted_cost_before, predicted_cost_after, ms_before, ms_after, buffers_before, buffers_after, build_seconds, size_bytes, effects)
    select ${run.runId}::uuid, ${run.drillId}, ${run.copyTakenAt}::timestamptz, a.kind, a.table, a.index, a.columns, a.statement, a.verdict, a.reason,
      a."queryId"::bigint, a.query, a."predictedCostBefore", a."predictedCostAfter", a."msBefore", a."msAfter", a."buffersBefore", a."buffersAfter",
      a."buildSeconds", a."sizeBytes", a.effects
    from jsonb_to_recordset(${sql.json(JSON.parse(JSON.stringify(advice)) as never)}::jsonb) as a (
      kind text, "table" text, index text, columns jsonb, statement text, verdict text, reason text, "queryId" text, query text,
      "predictedCostBefore" float8, "predictedCostAfter" float8, "msBefore" float8, "msAfter" float8, "buffersBefore" float8, "buffersAfter" float8,
      "buildSeconds" float8, "sizeBytes" float8, effects jsonb)`;
}

const ADVICE_COLUMNS = (sql: Sql) => sql`
  kind, table_name as table, index_name as index, columns, statement, verdict, reason, queryid::text as "queryId", query,
  predicted_cost_before as "predictedCostBefore", predicted_cost_after as "predictedCostAfter", ms_before as "msBefore", ms_after as "msAfter",
  buffers_before as "buffersBefore", buffers_after as "buffersAfter", build_seconds as "buildSeconds", size_bytes as "sizeBytes", effects`;

/** The newest measurement run, its advice suggested first; undefined when none was recorded. */
export async function newestMeasuredAdvice(sql: Sql): Promise<MeasuredAdviceRun | undefined> {
  const [newest] = await sql<{ runId: string; measuredAt: string; drillId: string | null; copyTakenAt: string | null }[]>`
    select run_id::text as "runId", api_timestamp(measured_at) as "measuredAt", drill_id as "drillId", api_timestamp(copy_taken_at) as "copyTakenAt"
    from ops.measured_advice
    order by measured_at desc, id desc
    limit 1`;
  if (!newest) return undefined;
  const advice = await sql<MeasuredAdvice[]>`
    select ${ADVICE_COLUMNS(sql)}
    from ops.measured_advice
    where run_id = ${newest.runId}::uuid
    order by array_position(array['suggested', 'withheld', 'not suggested', 'not measured'], verdict), kind, table_name, index_name, id`;
  return { ...newest, advice };
}

/** The newest measured advice about one statement: an index built for it, or a drop it was timed for. */
export async function measuredAdviceFor(sql: Sql, queryId: string): Promise<(MeasuredAdvice & { measuredAt: string; copyTakenAt: string | null }) | undefined> {
  const [row] = await sql<(MeasuredAdvice & { measuredAt: string; copyTakenAt: string | null })[]>`
    select ${ADVICE_COLUMNS(sql)}, api_timestamp(measured_at) as "measuredAt", api_timestamp(copy_taken_at) as "copyTakenAt"
    from ops.measured_advice
    where queryid = ${queryId}::bigint
      or effects @> jsonb_build_array(jsonb_build_object('queryId', ${queryId}::text))
    order by measured_at desc, id desc
    limit 1`;
  return row;
}

/** Measured advice older than `days`, at most `batch` rows; the number deleted. */
export async function pruneMeasuredAdvice(sql: Sql, days: number, batch: number): Promise<number> {
  const rows = await sql`
    delete from ops.measured_advice
    where id in (select id from ops.measured_advice where measured_at < now() - make_interval(days => ${days}) order by id limit ${batch})
    returning 1`;
  return rows.count;
}
