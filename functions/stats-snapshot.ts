/**
 * The stats-snapshot job (every 5 minutes): the database's figures and each statement's
 * work since the previous snapshot, stored in ops.*; then old history pruned in bounded
 * batches. Safe to run twice: a second delivery within the same 5-minute slot changes nothing.
 * Never resets pg_stat_statements.
 */
import { config } from "../lib/config.js";
import { prunedQueryStats, prunedSnapshots, insertedSnapshot, recordedQueryStats, recordedStatementsInfo } from "../lib/data/stats-snapshots.js";
import { statementsAvailability } from "../lib/db/inspect/statements.js";
import { directDb } from "../lib/db/pool.js";
import { databaseFigures } from "../lib/metrics/database.js";

export const SNAPSHOT_INTERVAL_MS = 5 * 60 * 1000;
const STATEMENT_TIMEOUT_MS = 20_000;
const PRUNE_BATCH = 5000;
const PRUNE_BATCHES_PER_RUN = 20;

export type SnapshotResult =
  | { status: "taken"; snapshotId: string; slot: string; statements: number; statementsNote?: string; pruned: { queryStats: number; snapshots: number } }
  | { status: "duplicate"; slot: string };

/** The 5-minute slot a time falls in. */
export function slotOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / SNAPSHOT_INTERVAL_MS) * SNAPSHOT_INTERVAL_MS);
}

async function prune(): Promise<{ queryStats: number; snapshots: number }> {
  const { queryRetentionDays, snapshotRetentionDays } = config().stats;
  const pruned = { queryStats: 0, snapshots: 0 };
  for (let i = 0; i < PRUNE_BATCHES_PER_RUN; i++) {
    const deleted = await prunedQueryStats(directDb(), queryRetentionDays, PRUNE_BATCH);
    pruned.queryStats += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  for (let i = 0; i < PRUNE_BATCHES_PER_RUN; i++) {
    const deleted = await prunedSnapshots(directDb(), snapshotRetentionDays, PRUNE_BATCH);
    pruned.snapshots += deleted;
    if (deleted < PRUNE_BATCH) break;
  }
  return pruned;
}

export async function takeStatsSnapshot({ at = new Date() }: { at?: Date } = {}): Promise<SnapshotResult> {
  const slot = slotOf(at);
  const taken = await directDb().begin(async (tx) => {
    await tx`select set_config('statement_timeout', ${String(STATEMENT_TIMEOUT_MS)}, true)`;
    const figures = await databaseFigures(tx);
    const [snapshot] = await insertedSnapshot(tx, slot, config().stats.deployId, figures);
    if (!snapshot) return undefined;
    const availability = await statementsAvailability(tx);
    if (!availability.available) return { snapshotId: snapshot.id, statements: 0, statementsNote: availability.reason };
    await recordedStatementsInfo(tx, availability.schema, snapshot.id);
    return { snapshotId: snapshot.id, statements: await recordedQueryStats(tx, availability.schema, snapshot.id) };
  });
  if (!taken) return { status: "duplicate", slot: slot.toISOString() };
  return { status: "taken", slot: slot.toISOString(), ...taken, pruned: await prune() };
}
