/**
 * The settings that matter (memory, checkpoints, autovacuum, connections, timeouts, the
 * planner, logging) against what the server's size suggests: PGTune's formulas for a web
 * application on SSDs (pgtune.leopard.in.ua), and the few settings every production server
 * should have (autovacuum on, a bound on idle transactions, slow statements logged).
 * The memory is DB_MEMORY_BYTES when given (a Supabase compute size's RAM), else read as four
 * times shared_buffers (the 25% every guide and Supabase use), and said so.
 */
import type { Sql } from "../pool.js";

export type SettingGroup = "memory" | "checkpoints" | "autovacuum" | "connections" | "timeouts" | "planner" | "logging";

export interface TunedSetting {
  name: string;
  group: SettingGroup;
  /** As PostgreSQL shows it (SHOW), with its unit. */
  current: string;
  /** The recommendation in the same form; null where none is made. */
  recommended: string | null;
  /** ok: at or near the recommendation; review: far from it (see why); null: nothing recommended. */
  verdict: "ok" | "review" | null;
  why: string;
  /** pg_settings.source: default, configuration file, database, user... */
  source: string;
  /** What a change needs: a restart, a reload, or nothing (a session may set it). */
  applies: "restart" | "reload" | "session";
  /** Changed in the configuration, waiting for a restart. */
  pendingRestart: boolean;
}

export interface Memory {
  bytes: number;
  from: "DB_MEMORY_BYTES" | "shared_buffers";
}

export interface Tuning {
  memory: Memory;
  maxConnections: number;
  settings: TunedSetting[];
}

interface Row {
  name: string;
  shown: string;
  /** The value in bytes (memory), milliseconds (time) or as a number; null for text and booleans. */
  amount: number | null;
  text: string;
  source: string;
  context: string;
  pendingRestart: boolean;
}

const KB = 1024;
const MB = 1024 * KB;
const GB = 1024 * MB;

/** What matters, by group, in the order shown. */
const WATCHED: Record<SettingGroup, string[]> = {
  memory: ["shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem", "wal_buffers"],
  checkpoints: ["max_wal_size", "min_wal_size", "checkpoint_timeout", "checkpoint_completion_target"],
  autovacuum: [
    "autovacuum",
    "autovacuum_max_workers",
    "autovacuum_naptime",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_analyze_scale_factor",
    "autovacuum_vacuum_cost_limit",
  ],
  connections: ["max_connections", "superuser_reserved_connections"],
  timeouts: ["statement_timeout", "idle_in_transaction_session_timeout", "lock_timeout", "idle_session_timeout"],
  planner: ["random_page_cost", "effective_io_concurrency", "default_statistics_target"],
  logging: ["log_min_duration_statement", "log_lock_waits", "track_io_timing"],
};

/** Bytes as SHOW writes them. */
function sized(bytes: number): string {
  if (bytes >= GB && bytes % GB === 0) return `${bytes / GB}GB`;
  if (bytes >= MB) return `${Math.round(bytes / MB)}MB`;
  return `${Math.max(64, Math.round(bytes / KB))}kB`;
}

type Recommendation = { value: number; shown: string; why: string } | { exact: string; ok: boolean; why: string } | null;

/** A number near enough its recommendation: within half and double. */
const near = (value: number, recommended: number) => value >= recommended / 2 && value <= recommended * 2;

function recommendation(name: string, memory: number, maxConnections: number, row: Row): Recommendation {
  const sharedBuffers = memory / 4;
  switch (name) {
    case "shared_buffers":
      return { value: sharedBuffers, shown: sized(sharedBuffers), why: "25% of memory: PostgreSQL's own cache, the OS caches the rest" };
    case "effective_cache_size":
      return {
        value: (memory * 3) / 4,
        shown: sized((memory * 3) / 4),
        why: "75% of memory: what the planner may count on being cached (it allocates nothing)",
      };
    case "maintenance_work_mem": {
      const value = Math.min(memory / 16, 2 * GB);
      return { value, shown: sized(value), why: "1/16 of memory, at most 2GB: VACUUM and CREATE INDEX run faster with more" };
    }
    case "work_mem": {
      const value = Math.max(64 * KB, (memory - sharedBuffers) / (maxConnections * 3));
      return {
        value,
        shown: sized(value),
        why: `memory left after shared_buffers over ${maxConnections} connections × 3 sorts or hashes each: more spills sorts to disk, less risks running out`,
      };
    }
    case "wal_buffers": {
      const value = Math.min(Math.max(sharedBuffers * 0.03, 64 * KB), 16 * MB);
      return { value, shown: sized(value), why: "3% of shared_buffers, at most 16MB" };
    }
    case "max_wal_size":
      return { value: 4 * GB, shown: "4GB", why: "fewer forced checkpoints under bursts of writes (PGTune, web)" };
    case "min_wal_size":
      return { value: 1 * GB, shown: "1GB", why: "WAL kept for reuse instead of created anew (PGTune, web)" };
    case "checkpoint_completion_target":
      return { value: 0.9, shown: "0.9", why: "spreads each checkpoint's writes over 90% of the interval" };
    case "autovacuum":
      return { exact: "on", ok: row.text === "on", why: "off, nothing vacuums or analyzes: dead rows pile up and the planner's statistics go stale" };
    case "random_page_cost":
      return { value: 1.1, shown: "1.1", why: "SSD storage: a random read costs about a sequential one, so indexes are chosen where they pay" };
    case "effective_io_concurrency":
      return { value: 200, shown: "200", why: "SSD storage takes many concurrent reads (bitmap heap scans prefetch)" };
    case "default_statistics_target":
      return { value: 100, shown: "100", why: "PostgreSQL's default; raise it per column where estimates are poor" };
    case "idle_in_transaction_session_timeout":
      return row.amount === 0
        ? { exact: "a bound such as 60s", ok: false, why: "0 lets a session left in a transaction hold locks and block VACUUM forever" }
        : { exact: row.shown, ok: true, why: "bounded: a forgotten transaction is ended" };
    case "log_min_duration_statement":
      return row.amount === null || row.amount < 0
        ? { exact: "a bound such as 1s", ok: false, why: "-1 logs no slow statement: the log is where one stands out between snapshots" }
        : { exact: row.shown, ok: true, why: "slow statements are logged" };
    case "log_lock_waits":
      return { exact: "on", ok: row.text === "on", why: "logs a lock wait past deadlock_timeout (1s): who blocked whom, after the fact" };
    default:
      return null;
  }
}

function judged(row: Row, group: SettingGroup, memory: number, maxConnections: number): TunedSetting {
  const rec = recommendation(row.name, memory, maxConnections, row);
  const applies = row.context === "postmaster" ? "restart" : row.context === "sighup" ? "reload" : "session";
  const base = { name: row.name, group, current: row.shown, source: row.source, applies, pendingRestart: row.pendingRestart } as const;
  if (!rec) return { ...base, recommended: null, verdict: null, why: "" };
  if ("exact" in rec) return { ...base, recommended: rec.exact, verdict: rec.ok ? "ok" : "review", why: rec.why };
  return { ...base, recommended: rec.shown, verdict: row.amount !== null && near(row.amount, rec.value) ? "ok" : "review", why: rec.why };
}

/** The watched settings as this server has them, each against its recommendation for `memoryBytes` (else four times shared_buffers). */
export async function tuning(sql: Sql, memoryBytes: number | undefined): Promise<Tuning> {
  const names = Object.values(WATCHED).flat();
  const rows = await sql<Row[]>`
    select
      name,
      current_setting(name) as shown,
      case
        when vartype in ('integer', 'real') and unit in ('B', 'kB', '8kB', 'MB', 'GB', 'TB')
          then setting::float8 * case unit when 'B' then 1 when 'kB' then 1024 when '8kB' then 8192 when 'MB' then 1048576 when 'GB' then 1073741824 else 1099511627776 end
        when vartype in ('integer', 'real') and unit in ('us', 'ms', 's', 'min', 'h', 'd')
          then setting::float8 * case unit when 'us' then 0.001 when 'ms' then 1 when 's' then 1000 when 'min' then 60000 when 'h' then 3600000 else 86400000 end
        when vartype in ('integer', 'real') then setting::float8
      end as amount,
      setting as text,
      source,
      context,
      pending_restart as "pendingRestart"
    from pg_settings
    where name in ${sql(names)}`;
  const byName = new Map(rows.map((row) => [row.name, row]));
  const sharedBuffers = byName.get("shared_buffers")?.amount ?? 128 * MB;
  const memory: Memory = memoryBytes ? { bytes: memoryBytes, from: "DB_MEMORY_BYTES" } : { bytes: sharedBuffers * 4, from: "shared_buffers" };
  const maxConnections = byName.get("max_connections")?.amount ?? 100;
  const settings = (Object.entries(WATCHED) as Array<[SettingGroup, string[]]>).flatMap(([group, watched]) =>
    watched.flatMap((name) => {
      const row = byName.get(name);
      return row ? [judged(row, group, memory.bytes, maxConnections)] : [];
    }),
  );
  return { memory, maxConnections, settings };
}
