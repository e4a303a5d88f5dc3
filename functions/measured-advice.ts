/**
 * Index advice proven on a restored copy: what hypopg predicts on the database (read-only, as
 * the advice section does) is built on the copy and the statement timed before and after; each
 * index proposed for a drop (unused, redundant) is dropped on the copy and every recorded
 * statement whose plan read it timed with and without it. An index is suggested only with a
 * measured gain; a drop only when no recorded statement got slower. Everything on the copy runs
 * in one transaction that is rolled back, never on the database the statements came from.
 */
import { randomUUID } from "node:crypto";
import { adviceCandidates, hypopgAvailability, indexAdvice, type IndexAdvice } from "../lib/db/inspect/advice.js";
import { redundantIndexes, unusedIndexes } from "../lib/db/inspect/indexes.js";
import {
  databaseIdentity,
  indexExists,
  limitStatements,
  measuredBuild,
  measuredDrop,
  NOT_READ,
  notRunWriting,
  runnableOnce,
  type MeasureOptions,
  type RecordedStatement,
  type RunnableOf,
  type Timing,
} from "../lib/db/inspect/measure.js";
import { probed } from "../lib/db/inspect/probe.js";
import { SLOW_STATEMENT, statementsAvailability } from "../lib/db/inspect/statements.js";
import { onOwnConnection, singleConnection, type Pool, type Transaction } from "../lib/db/pool.js";
import { recordMeasuredAdvice, type MeasuredAdvice, type MeasuredEffect } from "../lib/data/measured-advice.js";
import { describedError } from "../lib/errors.js";
import { redactedUrl } from "../lib/db/target.js";
import { MeasureError } from "../lib/db/errors.js";
import { bytesText, secondsSince, timesText } from "../lib/units.js";

/** A suggested index must make its statement at least this many times faster on the copy... */
export const MIN_MEASURED_SPEEDUP = 1.5;
/** ...and save at least this much per call: below it the difference is the timer's noise. */
export const MIN_SAVED_MS = 0.05;
/** Without a dropped index, a statement this many times slower (and by MIN_SAVED_MS) withholds the drop. */
export const SLOWER_RATIO = 1.25;

export interface MeasureAdviceOptions extends MeasureOptions {
  /** Slow-statement thresholds for the suggestions (SLOW_STATEMENT). */
  minCalls?: number;
  minMeanMs?: number;
  /** The recorded statements a drop is checked against: the top ones by total time. @default 50 */
  recordedStatements?: number;
  drillId?: string | null;
  /** When the copy's data was taken (the backup's time), for the verdicts' words. */
  copyTakenAt?: string | null;
  /** Once the measurement has run this long, what is left is marked not measured, saying so. @default 600 */
  budgetSeconds?: number;
}

export interface MeasuredAdviceResult {
  runId: string;
  seconds: number;
  advice: MeasuredAdvice[];
  notes: string[];
}

interface Proposals {
  suggestions: IndexAdvice[];
  /** `statement`: the drop to run on the database, its names quoted by the server. */
  drops: Array<{ schema: string; table: string; index: string; why: string; statement: string }>;
  statements: RecordedStatement[];
  notes: string[];
}

/** What the database's own figures propose, read from it read-only: hypopg's suggestions, the unused and redundant indexes, the top statements. */
async function proposals(
  tx: Transaction,
  { minCalls = SLOW_STATEMENT.minCalls, minMeanMs = SLOW_STATEMENT.minMeanMs, recordedStatements = 50 }: MeasureAdviceOptions,
): Promise<Proposals> {
  const notes: string[] = [];
  const statements = await statementsAvailability(tx);
  if (!statements.available)
    return { suggestions: [], drops: [], statements: [], notes: [`nothing measured: statement statistics unavailable: ${statements.reason}`] };
  const recorded = await adviceCandidates(tx, statements.schema, { minCalls: 1, minMeanMs: 0, limit: recordedStatements });
  const slow = await adviceCandidates(tx, statements.schema, { minCalls, minMeanMs });
  const hypopg = await hypopgAvailability(tx);
  let suggestions: IndexAdvice[] = [];
  if (hypopg.available) suggestions = (await indexAdvice(tx, hypopg.schema, slow)).advice;
  else notes.push(`no index suggestions to measure: ${hypopg.reason}`);
  const redundant = await redundantIndexes(tx);
  const unused = (await unusedIndexes(tx)).filter((row) => !redundant.some((r) => r.oid === row.oid));
  const proposed = [
    ...unused.map((row) => ({ schema: row.schema, table: row.table, index: row.index, why: `unused (${row.scans} scans)` })),
    ...redundant.map((row) => ({ schema: row.schema, table: row.table, index: row.index, why: `redundant (covered by ${row.coveredBy})` })),
  ];
  const dropStatements = await tx<{ statement: string }[]>`
    select format('DROP INDEX CONCURRENTLY %I.%I;', e ->> 'schema', e ->> 'index') as statement
    from jsonb_array_elements(${tx.json(proposed)}::jsonb) with ordinality as t (e, n)
    order by n`;
  const drops = proposed.map((drop, i) => ({ ...drop, statement: dropStatements[i]?.statement ?? "" }));
  // A slow statement a suggestion is for may fall outside the top by total time: both lists, once each.
  const known = new Map([...recorded, ...slow].map(({ queryId, query, shownQuery, roles }) => [queryId, { queryId, query, shownQuery, roles }]));
  return { suggestions, drops, statements: [...known.values()], notes };
}

const ms = (value: number) => (value >= 100 ? `${Math.round(value)} ms` : `${Number(value.toPrecision(2))} ms`);

function copyWords(copyTakenAt: string | null | undefined): string {
  return copyTakenAt ? `the copy of ${copyTakenAt}` : "the copy";
}

/** A statement as a verdict names it: its text's start. */
const statementWords = (query: string) => {
  const text = query.replace(/\s+/g, " ").trim();
  return `"${text.length > 60 ? `${text.slice(0, 60)}…` : text}"`;
};

type Unjudged = Omit<MeasuredAdvice, "verdict" | "reason">;

/** A proposal before anything is measured: no figures yet. */
function unjudged(kind: "create" | "drop", table: string, index: string, statement: string): Unjudged {
  return {
    kind,
    table,
    index,
    columns: [],
    statement,
    queryId: null,
    query: null,
    predictedCostBefore: null,
    predictedCostAfter: null,
    msBefore: null,
    msAfter: null,
    buffersBefore: null,
    buffersAfter: null,
    buildSeconds: null,
    sizeBytes: null,
    effects: [],
  };
}

/** A suggested index before it is measured: hypopg's figures only. */
const suggestion = (advice: IndexAdvice): Unjudged => ({
  ...unjudged("create", advice.table, advice.indexName, `${advice.createStatement};`),
  columns: advice.columns,
  queryId: advice.queryId,
  query: advice.query,
  predictedCostBefore: advice.costBefore,
  predictedCostAfter: advice.costAfter,
});

const unmeasured = (base: Unjudged, reason: string): MeasuredAdvice => ({ ...base, verdict: "not measured", reason });

/** An index proposed for a drop, before it is measured. */
const proposedDrop = (drop: Proposals["drops"][number]): Unjudged => unjudged("drop", `${drop.schema}.${drop.table}`, drop.index, drop.statement);

const gained = (before: Timing, after: Timing) => before.ms / Math.max(after.ms, 0.001) >= MIN_MEASURED_SPEEDUP && before.ms - after.ms >= MIN_SAVED_MS;

async function measuredSuggestion(
  tx: Transaction,
  advice: IndexAdvice,
  statement: RecordedStatement | undefined,
  runnableOf: RunnableOf,
  options: MeasureAdviceOptions,
): Promise<MeasuredAdvice> {
  const base = suggestion(advice);
  if (!statement) return unmeasured(base, "its statement is not among the recorded ones any more");
  const values = await runnableOf(statement);
  if (!values.sets) return unmeasured(base, values.reason);
  if (values.writes) return unmeasured(base, notRunWriting(values.writes));
  const built = await measuredBuild(tx, statement, values.sets, { ...advice.relation, columns: advice.columns, name: advice.indexName }, options);
  const measured = {
    ...base,
    msBefore: built.before.ms,
    msAfter: built.after.ms,
    buffersBefore: built.before.buffers,
    buffersAfter: built.after.buffers,
    buildSeconds: built.buildSeconds,
    sizeBytes: built.sizeBytes,
  };
  const figures = `${ms(built.before.ms)} -> ${ms(built.after.ms)} (${timesText(built.before.ms, built.after.ms)})`;
  const predicted = `hypopg predicted ${timesText(advice.costBefore, advice.costAfter)}`;
  if (built.used && gained(built.before, built.after)) {
    return {
      ...measured,
      verdict: "suggested",
      reason: `measured on ${copyWords(options.copyTakenAt)}: ${figures} for ${statementWords(advice.query)}, build ${built.buildSeconds} s, ${bytesText(built.sizeBytes)} (${predicted})`,
    };
  }
  return {
    ...measured,
    verdict: "not suggested",
    reason: `no measurable gain on ${copyWords(options.copyTakenAt)}: ${figures}${built.used ? "" : ", no plan read the index"}; not suggested (${predicted})`,
  };
}

async function measuredDropAdvice(
  tx: Transaction,
  drop: Proposals["drops"][number],
  statements: RecordedStatement[],
  runnableOf: RunnableOf,
  options: MeasureAdviceOptions,
): Promise<MeasuredAdvice> {
  const base = proposedDrop(drop);
  if (!(await indexExists(tx, drop))) return unmeasured(base, `the copy has no index ${drop.index} (restored from a backup taken before it was built)`);
  const measured = await measuredDrop(tx, drop, statements, runnableOf, options);
  const effects: MeasuredEffect[] = measured.effects.map((e) => ({
    queryId: e.queryId,
    query: e.query,
    msBefore: e.before.ms,
    msAfter: e.after.ms,
    buffersBefore: e.before.buffers,
    buffersAfter: e.after.buffers,
    slower: e.after.ms >= e.before.ms * SLOWER_RATIO && e.after.ms - e.before.ms >= MIN_SAVED_MS,
  }));
  const slowest = effects.filter((e) => e.slower).sort((a, b) => b.msAfter - b.msBefore - (a.msAfter - a.msBefore))[0];
  const copy = copyWords(options.copyTakenAt);
  if (slowest) {
    return {
      ...base,
      effects,
      verdict: "withheld",
      reason: `${drop.why}, but without it a recorded statement went ${ms(slowest.msBefore)} -> ${ms(slowest.msAfter)} (${timesText(slowest.msAfter, slowest.msBefore)} slower) on ${copy}: keep it (${slowest.query.slice(0, 120)})`,
    };
  }
  const skipped = measured.notMeasured.filter((n) => n.reason !== NOT_READ);
  if (skipped.length) {
    return {
      ...base,
      effects,
      verdict: "not measured",
      reason: `${drop.why}; ${skipped.length} recorded statement(s) on ${drop.table} could not be run on ${copy} (${skipped[0]?.reason ?? ""}): not suggested until they can`,
    };
  }
  return {
    ...base,
    effects,
    verdict: "suggested",
    reason: effects.length
      ? `${drop.why}; no recorded statement got slower without it on ${copy} (${effects.length} timed)`
      : `${drop.why}; no recorded statement's plan on ${copy} reads it`,
  };
}

/** Each proposal measured on the copy, in its own savepoint: one that fails is noted and the rest go on. */
async function measuredOnCopy(copy: Pool, found: Proposals, options: MeasureAdviceOptions): Promise<MeasuredAdvice[]> {
  return copy.begin<MeasuredAdvice[]>(async (tx) => {
    await limitStatements(tx, options);
    const runnableOf = runnableOnce(tx, options);
    const results: MeasuredAdvice[] = [];
    const started = performance.now();
    const budgetMs = (options.budgetSeconds ?? 600) * 1000;
    const attempt = async (measure: () => Promise<MeasuredAdvice>, failed: (reason: string) => MeasuredAdvice) => {
      if (performance.now() - started >= budgetMs) {
        results.push(failed(`not measured: the measurement's time budget (${budgetMs / 1000} s) ran out before it`));
        return;
      }
      try {
        results.push(await tx.savepoint(() => measure()));
      } catch (error) {
        results.push(failed(`not measured: ${describedError(error)}`));
      }
    };
    for (const advice of found.suggestions) {
      const statement = found.statements.find((s) => s.queryId === advice.queryId);
      await attempt(
        () => measuredSuggestion(tx, advice, statement, runnableOf, options),
        (reason) => unmeasured(suggestion(advice), reason),
      );
    }
    for (const drop of found.drops) {
      await attempt(
        () => measuredDropAdvice(tx, drop, found.statements, runnableOf, options),
        (reason) => unmeasured(proposedDrop(drop), reason),
      );
    }
    return results;
  });
}

/**
 * The advice for the database at DATABASE_URL, measured on the copy at `copyUrl`, recorded in
 * the database's ops.measured_advice. Refuses a copy that is the database itself.
 */
export async function measureAdvice(source: Pool, copyUrl: string, options: MeasureAdviceOptions = {}): Promise<MeasuredAdviceResult> {
  const started = performance.now();
  const copy = singleConnection(copyUrl, "gap-measured-advice");
  try {
    const here = await databaseIdentity(source);
    const there = await databaseIdentity(copy).catch((error: unknown) => {
      throw new MeasureError(`cannot reach the copy at ${redactedUrl(copyUrl)}: ${describedError(error)}`);
    });
    if (here.key === there.key) {
      throw new MeasureError(
        `${redactedUrl(copyUrl)} is the database itself (${here.name}), not a copy: measurements build and drop indexes, so they run on a restored copy only`,
      );
    }
    const found = await onOwnConnection((own) => probed(own, (tx) => proposals(tx, options), 120_000));
    const advice = await measuredOnCopy(copy, found, options);
    const runId = randomUUID();
    await recordMeasuredAdvice(source, { runId, drillId: options.drillId ?? null, copyTakenAt: options.copyTakenAt ?? null }, advice);
    return { runId, seconds: secondsSince(started), advice, notes: found.notes };
  } finally {
    await copy.end();
  }
}
