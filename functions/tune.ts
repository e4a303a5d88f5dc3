/** The Tune view: the settings that matter against the server's size, and what changed lately. */
import { config } from "../lib/config.js";
import { settingChanges, type SettingChange } from "../lib/data/settings-history.js";
import { probed } from "../lib/db/inspect/probe.js";
import { tuning, type Tuning } from "../lib/db/inspect/tune.js";
import { directDb } from "../lib/db/pool.js";

export interface TuneView extends Tuning {
  /** Settings changed in the last 7 days, as the stats snapshots saw them, newest first. */
  changes: SettingChange[];
}

const CHANGES_DAYS = 7;

export async function tuneView(): Promise<TuneView> {
  const sql = directDb();
  const settings = await probed(sql, (tx) => tuning(tx, config().stats.memoryBytes));
  return { ...settings, changes: await settingChanges(sql, new Date(Date.now() - CHANGES_DAYS * 86_400_000)) };
}
