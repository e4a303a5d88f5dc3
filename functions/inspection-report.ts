/**
 * The database explained, section by section: each section is read in one read-only
 * transaction on the direct connection, under a statement timeout.
 */
import { adviceCandidates, hypopgAvailability, indexAdvice } from "../lib/db/inspect/advice.js";
import { connectionSources, connectionUsage } from "../lib/db/inspect/connections.js";
import {
  cacheHitRates,
  invalidIndexes,
  missingForeignKeyIndexes,
  redundantIndexes,
  sequentialScanTables,
  tableCacheHits,
  unusedIndexes,
} from "../lib/db/inspect/indexes.js";
import { autovacuumDue, notValidConstraints, sequencesNearExhaustion, tableFreezeAges, transactionIdAges, vacuumStats } from "../lib/db/inspect/maintenance.js";
import { probed } from "../lib/db/inspect/probe.js";
import { capacityNow } from "./capacity.js";
import type { Transaction } from "../lib/db/pool.js";
import { blockedSessions, longRunningQueries, runningQueries } from "../lib/db/inspect/queries.js";
import { statementRegressions } from "../lib/db/inspect/regressions.js";
import { tableChanges } from "../lib/data/table-changes.js";
import { databaseGrowth, databaseSizeBytes, indexBloat, relationSizes, tableBloat } from "../lib/db/inspect/space.js";
import { SLOW_STATEMENT, slowStatements, statementsAvailability, topStatements } from "../lib/db/inspect/statements.js";
import { onOwnConnection, type Pool } from "../lib/db/pool.js";
import { hiddenConnectionsNote, hiddenSessionsNote, hiddenStatementsNote, statsVisibility } from "../lib/db/inspect/visibility.js";

export const SECTIONS = ["connections", "capacity", "queries", "blocking", "statements", "space", "changes", "indexes", "maintenance", "advice"] as const;
export type Section = (typeof SECTIONS)[number];

/** A section: named lists of rows, and notes for what could not be looked at. */
export interface SectionReport {
  tables: Record<string, object[]>;
  notes: string[];
}

export interface ReportOptions {
  /** @default 60 */
  longRunningSeconds?: number;
  /** A slow statement was called this often (SLOW_STATEMENT). */
  slowMinCalls?: number;
  /** And this slow on average (SLOW_STATEMENT). */
  slowMinMeanMs?: number;
  /** The share of a plan's cost an advised index must remove. @default 0.5 */
  adviceMinCostCut?: number;
  /** Row changes recorded since this time. @default 24 hours ago */
  changesSince?: Date;
}

type SectionReader = (tx: Transaction, options: ReportOptions) => Promise<SectionReport>;

const READERS: Record<Section, SectionReader> = {
  connections: async (tx) => ({
    tables: { usage: [await connectionUsage(tx)], sources: await connectionSources(tx) },
    notes: hiddenConnectionsNote(await statsVisibility(tx)),
  }),
  capacity: async (tx) => {
    const capacity = await capacityNow(tx);
    return {
      tables: {
        capacity: [{ summary: capacity.summary }],
        limits: capacity.limits,
        busiestIntervals: capacity.busiest,
      },
      notes: capacity.notes,
    };
  },
  queries: async (tx, { longRunningSeconds = 60 }) => ({
    tables: { running: await runningQueries(tx), longRunning: await longRunningQueries(tx, { thresholdSeconds: longRunningSeconds }) },
    notes: hiddenSessionsNote(await statsVisibility(tx)),
  }),
  blocking: async (tx) => ({ tables: { blocked: await blockedSessions(tx) }, notes: hiddenSessionsNote(await statsVisibility(tx)) }),
  statements: async (tx, { slowMinCalls = SLOW_STATEMENT.minCalls, slowMinMeanMs = SLOW_STATEMENT.minMeanMs }): Promise<SectionReport> => {
    const availability = await statementsAvailability(tx);
    if (!availability.available) return { tables: {}, notes: [`statement statistics unavailable: ${availability.reason}`] };
    const { schema } = availability;
    return {
      tables: {
        byTotalTime: await topStatements(tx, schema, { order: "total", limit: 10 }),
        byMeanTime: await topStatements(tx, schema, { order: "mean", limit: 10 }),
        byCalls: await topStatements(tx, schema, { order: "calls", limit: 10 }),
        slow: await slowStatements(tx, schema, { minCalls: slowMinCalls, minMeanMs: slowMinMeanMs }),
        regressionsAfterDeploy: await statementRegressions(tx),
      },
      notes: hiddenStatementsNote(await statsVisibility(tx)),
    };
  },
  space: async (tx) => {
    const growth = await databaseGrowth(tx);
    return {
      tables: {
        database: [{ sizeBytes: await databaseSizeBytes(tx) }],
        growth: growth ? [growth] : [],
        relations: await relationSizes(tx, { limit: 20 }),
        tableBloat: await tableBloat(tx),
        indexBloat: await indexBloat(tx),
      },
      notes: growth ? [] : ["growth needs two stats snapshots in the last 7 days (the stats-snapshot cron)"],
    };
  },
  changes: async (tx, { changesSince = new Date(Date.now() - 24 * 3600 * 1000) }) => {
    const changes = await tableChanges(tx, { since: changesSince });
    return {
      tables: {
        changes: changes.map((change) => ({
          ...change,
          lostRatio: change.deleted > change.inserted ? (change.deleted - change.inserted) / Math.max(change.rowsBefore, 1) : 0,
        })),
      },
      notes: changes.length
        ? [`rows inserted, updated and deleted per table in each 5-minute stats snapshot since ${changesSince.toISOString()}, newest first`]
        : [`no table changed since ${changesSince.toISOString()}, or no stats snapshot recorded it (the stats-snapshot schedule records every 5 minutes)`],
    };
  },
  indexes: async (tx) => ({
    tables: {
      unused: await unusedIndexes(tx),
      redundant: await redundantIndexes(tx),
      invalid: await invalidIndexes(tx),
      missingForeignKeyIndexes: await missingForeignKeyIndexes(tx),
      sequentialScans: await sequentialScanTables(tx),
      cacheHitRates: [await cacheHitRates(tx)],
      tablesMissingCache: await tableCacheHits(tx),
    },
    notes: [],
  }),
  maintenance: async (tx) => ({
    tables: {
      autovacuumDue: await autovacuumDue(tx),
      vacuum: await vacuumStats(tx, { limit: 20 }),
      freezeAge: await tableFreezeAges(tx),
      transactionIdAge: await transactionIdAges(tx),
      sequences: await sequencesNearExhaustion(tx),
      notValidConstraints: await notValidConstraints(tx),
    },
    notes: [],
  }),
  advice: async (tx, { slowMinCalls = SLOW_STATEMENT.minCalls, slowMinMeanMs = SLOW_STATEMENT.minMeanMs, adviceMinCostCut = 0.5 }): Promise<SectionReport> => {
    const hypopg = await hypopgAvailability(tx);
    if (!hypopg.available) return { tables: {}, notes: [`index advice skipped: ${hypopg.reason}`] };
    const statements = await statementsAvailability(tx);
    if (!statements.available) return { tables: {}, notes: [`index advice skipped: statement statistics unavailable: ${statements.reason}`] };
    const candidates = await adviceCandidates(tx, statements.schema, { minCalls: slowMinCalls, minMeanMs: slowMinMeanMs });
    const { advice, skipped } = await indexAdvice(tx, hypopg.schema, candidates, { minCostCut: adviceMinCostCut });
    return {
      tables: {
        indexes: advice,
        skipped,
      },
      notes: [
        `${candidates.length} slow statement(s) (at least ${slowMinCalls} calls, ${slowMinMeanMs} ms mean) tried with hypothetical indexes; ` +
          `${advice.length} index(es) cut a plan's cost by at least ${Math.round(adviceMinCostCut * 100)}%`,
      ],
    };
  },
};

/** The sections asked for, in the order given. */
export async function inspectionReport(sql: Pool, sections: readonly Section[], options: ReportOptions = {}): Promise<Record<string, SectionReport>> {
  const report: Record<string, SectionReport> = {};
  for (const section of sections) {
    const read = (on: Pool) => probed(on, (tx) => READERS[section](tx, options));
    // Advice plans recorded statements: on a connection of its own, whose session ends with it.
    report[section] = section === "advice" ? await onOwnConnection(read) : await read(sql);
  }
  return report;
}
