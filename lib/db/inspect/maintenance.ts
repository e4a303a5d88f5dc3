/** Vacuum, analyze, transaction-id wraparound and sequences running out. */
import { ownSchema } from "./probe.js";
import type { Sql } from "../pool.js";

export interface VacuumStats {
  schema: string;
  table: string;
  liveRows: number;
  deadRows: number;
  deadRatio: number;
  lastVacuum: string | null;
  lastAutovacuum: string | null;
  lastAnalyze: string | null;
  lastAutoanalyze: string | null;
}

/** Dead tuples and the last (auto)vacuum and (auto)analyze of each table, most dead rows first. */
export async function vacuumStats(sql: Sql, { limit = 50 } = {}): Promise<VacuumStats[]> {
  return sql<VacuumStats[]>`
    select
      s.schemaname as schema,
      s.relname as table,
      s.n_live_tup::float8 as "liveRows",
      s.n_dead_tup::float8 as "deadRows",
      round((s.n_dead_tup::numeric / nullif(s.n_live_tup + s.n_dead_tup, 0)), 4)::float8 as "deadRatio",
      api_timestamp(s.last_vacuum) as "lastVacuum",
      api_timestamp(s.last_autovacuum) as "lastAutovacuum",
      api_timestamp(s.last_analyze) as "lastAnalyze",
      api_timestamp(s.last_autoanalyze) as "lastAutoanalyze"
    from pg_stat_user_tables s
    where ${ownSchema(sql, "s.schemaname")}
    order by "deadRows" desc, schema, "table"
    limit ${limit}`;
}

export interface TransactionIdAge {
  database: string;
  age: number;
  /** Share of the 2^31 wraparound horizon used, 0 to 1. */
  wraparoundRatio: number;
}

export async function transactionIdAges(sql: Sql): Promise<TransactionIdAge[]> {
  return sql<TransactionIdAge[]>`
    select
      datname as database,
      age(datfrozenxid)::float8 as age,
      round(age(datfrozenxid)::numeric / 2147483648, 6)::float8 as "wraparoundRatio"
    from pg_database
    where datallowconn
    order by age desc, database`;
}

export interface SequenceUsage {
  schema: string;
  sequence: string;
  lastValue: number;
  maxValue: number;
  usedRatio: number;
}

/** Sequences that have used at least `minUsedRatio` of their range. @default 0.75 */
export async function sequencesNearExhaustion(sql: Sql, { minUsedRatio = 0.75 } = {}): Promise<SequenceUsage[]> {
  return sql<SequenceUsage[]>`
    select
      s.schemaname as schema,
      s.sequencename as sequence,
      s.last_value::float8 as "lastValue",
      s.max_value::float8 as "maxValue",
      round((s.last_value::numeric / s.max_value), 6)::float8 as "usedRatio"
    from pg_sequences s
    where s.last_value is not null
      and s.increment_by > 0
      and s.last_value::numeric / s.max_value >= ${minUsedRatio}
      and ${ownSchema(sql, "s.schemaname")}
    order by "usedRatio" desc, schema, sequence`;
}
