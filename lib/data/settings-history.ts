/**
 * Every server setting as each stats snapshot saw it last (ops.settings_seen), and each change
 * between two snapshots (ops.setting_changes): what the Tune view shows as changed since the
 * last snapshot, and when each change was seen.
 */
import type { Sql } from "../db/pool.js";

export interface SettingChange {
  name: string;
  before: string;
  after: string;
  /** When the snapshot that saw it took place. */
  seenAt: string;
}

/** Notes every setting's value; a value that differs from the one last seen is a change under `snapshotId`. The first snapshot only sets the baseline. */
export async function recordSettings(sql: Sql, snapshotId: string): Promise<number> {
  const changed = await sql`
    with now_set as (
      select name::text, current_setting(name) as value from pg_settings
    ),
    changes as (
      insert into ops.setting_changes (snapshot_id, name, before, after)
      select ${snapshotId}, n.name, s.value, n.value
      from now_set n
      join ops.settings_seen s on s.name = n.name
      where s.value is distinct from n.value
      returning 1
    ),
    seen as (
      insert into ops.settings_seen (name, value)
      select name, value from now_set
      on conflict (name) do update set value = excluded.value
      where ops.settings_seen.value is distinct from excluded.value
    )
    select count(*)::int as n from changes`;
  return (changed[0] as { n?: number } | undefined)?.n ?? 0;
}

/** The changes seen since `since`, newest first. */
export async function settingChanges(sql: Sql, since: Date): Promise<SettingChange[]> {
  return sql<SettingChange[]>`
    select c.name, c.before, c.after, api_timestamp(s.taken_at) as "seenAt"
    from ops.setting_changes c
    join ops.db_stats_snapshots s on s.id = c.snapshot_id
    where s.taken_at >= ${since}
    order by s.taken_at desc, c.name
    limit 200`;
}
