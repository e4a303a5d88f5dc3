/**
 * A synthetic statistics history for the dashboard: `days` of 5-minute snapshots with
 * `statements` statements each, ending before the oldest real snapshot (so nothing real is
 * touched), a deploy every two days with a regression under the newest (and the plan change
 * behind it), alert messages, the rows each table gained and lost, a drill's measured index
 * advice, and optionally nightly backups and weekly drills. Each day is
 * written in its own transaction.
 */
import {
  historyRange,
  insertHistoryAlerts,
  insertHistoryMeasuredAdvice,
  insertHistoryPlanChanges,
  insertHistoryRelationSizes,
  insertHistoryBackups,
  insertHistorySnapshots,
  insertHistoryStatements,
  insertHistoryTableChanges,
  insertHistoryTexts,
  rollUpHistory,
  type HistoryRange,
} from "./history-rows.js";
import type { Pool } from "../../lib/db/pool.js";

export interface HistoryOptions {
  days: number;
  statements: number;
  /** Nightly backups and weekly drills too (not for a database whose own backups run). */
  backups?: boolean;
  /** The history ends before this. @default now */
  end?: Date;
  onProgress?: (progress: { day: number; days: number; rows: number }) => void;
}

const SNAPSHOTS_PER_DAY = 288;
const SNAPSHOTS_PER_DEPLOY = 576;

export async function seedHistory(sql: Pool, { days, statements, backups = false, end = new Date(), onProgress }: HistoryOptions): Promise<HistoryRange> {
  const range = await historyRange(sql, days, end);
  const newestDeployAt = new Date(range.from.getTime() + Math.floor((range.snapshots - 1) / SNAPSHOTS_PER_DEPLOY) * SNAPSHOTS_PER_DEPLOY * 300_000);
  const { firstId, lastId } = await sql.begin(async (tx) => {
    await insertHistoryTexts(tx, statements);
    return insertHistorySnapshots(tx, range);
  });
  let rows = 0;
  for (let day = 0; day < days; day++) {
    const from = String(BigInt(firstId) + BigInt(day * SNAPSHOTS_PER_DAY));
    const last = BigInt(firstId) + BigInt((day + 1) * SNAPSHOTS_PER_DAY - 1);
    const to = String(last < BigInt(lastId) ? last : BigInt(lastId));
    rows += await sql.begin(async (tx) => {
      const inserted = await insertHistoryStatements(tx, from, to, statements, newestDeployAt);
      await rollUpHistory(tx, from, to);
      await insertHistoryTableChanges(tx, from, to);
      return inserted;
    });
    onProgress?.({ day: day + 1, days, rows });
  }
  await insertHistoryAlerts(sql, firstId, lastId);
  await insertHistoryRelationSizes(sql, firstId, lastId);
  if (statements >= 1) await insertHistoryPlanChanges(sql, range, newestDeployAt);
  await insertHistoryMeasuredAdvice(sql, range);
  if (backups) await insertHistoryBackups(sql, range);
  return range;
}
