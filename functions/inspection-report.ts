/**
 * The database explained, section by section: each section is read in one read-only
 * transaction on the direct connection, under a statement timeout.
 */
import { connectionSources, connectionUsage } from "../lib/db/inspect/connections.js";
import { cacheHitRates, invalidIndexes, missingForeignKeyIndexes, redundantIndexes, sequentialScanTables, unusedIndexes } from "../lib/db/inspect/indexes.js";
import { sequencesNearExhaustion, transactionIdAges, vacuumStats } from "../lib/db/inspect/maintenance.js";
import { probed, type Queryable } from "../lib/db/inspect/probe.js";
import { blockedSessions, longRunningQueries, runningQueries } from "../lib/db/inspect/queries.js";
import { statementRegressions } from "../lib/db/inspect/regressions.js";
import { databaseGrowth, databaseSizeBytes, relationSizes } from "../lib/db/inspect/space.js";
import { slowStatements, statementsAvailability, topStatements } from "../lib/db/inspect/statements.js";
import type { Sql } from "../lib/db/pool.js";

export const SECTIONS = ["connections", "queries", "blocking", "statements", "space", "indexes", "maintenance", "advice"] as const;
export type Section = (typeof SECTIONS)[number];

/** A section: named lists of rows, and notes for what could not be looked at. */
export interface SectionReport {
  tables: Record<string, object[]>;
  notes: string[];
}

export interface ReportOptions {
  /** @default 60 */
  longRunningSeconds?: number;
  /** @default 100 */
  slowMinCalls?: number;
  /** @default 20 */
  slowMinMeanMs?: number;
}

type SectionReader = (tx: Queryable, options: ReportOptions) => Promise<SectionReport>;

const READERS: Record<Section, SectionReader> = {
  connections: async (tx) => ({
    tables: { usage: [await connectionUsage(tx)], sources: await connectionSources(tx) },
    notes: [],
  }),
  queries: async (tx, { longRunningSeconds = 60 }) => ({
    tables: { running: await runningQueries(tx), longRunning: await longRunningQueries(tx, { thresholdSeconds: longRunningSeconds }) },
    notes: [],
  }),
  blocking: async (tx) => ({ tables: { blocked: await blockedSessions(tx) }, notes: [] }),
  statements: async (tx, { slowMinCalls = 100, slowMinMeanMs = 20 }): Promise<SectionReport> => {
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
      notes: [],
    };
  },
  space: async (tx) => {
    const growth = await databaseGrowth(tx);
    return {
      tables: { database: [{ sizeBytes: await databaseSizeBytes(tx) }], growth: growth ? [growth] : [], relations: await relationSizes(tx, { limit: 20 }) },
      notes: growth ? [] : ["growth needs two stats snapshots in the last 7 days (the stats-snapshot cron)"],
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
    },
    notes: [],
  }),
  maintenance: async (tx) => ({
    tables: { vacuum: await vacuumStats(tx, { limit: 20 }), transactionIdAge: await transactionIdAges(tx), sequences: await sequencesNearExhaustion(tx) },
    notes: [],
  }),
  advice: async (tx) => {
    const [hypopg] = await tx<{ installed: boolean }[]>`select exists (select 1 from pg_extension where extname = 'hypopg') as installed`;
    return {
      tables: {},
      notes: [hypopg?.installed ? "index advice with hypopg is not implemented yet" : "hypopg is not installed on this server: index advice skipped"],
    };
  },
};

/** The sections asked for, in the order given. */
export async function inspectionReport(sql: Sql, sections: readonly Section[], options: ReportOptions = {}): Promise<Record<string, SectionReport>> {
  const report: Record<string, SectionReport> = {};
  for (const section of sections) report[section] = await probed(sql, (tx) => READERS[section](tx, options));
  return report;
}
