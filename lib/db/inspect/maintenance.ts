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
  /** The column the sequence feeds (a default calling nextval, or an identity or serial column it belongs to); null if none. */
  table: string | null;
  column: string | null;
  columnType: string | null;
  lastValue: number;
  /** The sequence's own maximum, or the column type's, whichever comes first. */
  maxValue: number;
  usedRatio: number;
}

/**
 * Sequences that have used at least `minUsedRatio` of their range, where the range ends at the
 * column they feed: a bigint sequence feeding an integer column fails at 2^31 - 1, not 2^63 - 1.
 * A sequence feeding several columns is judged once per column.
 * @default 0.75
 */
export async function sequencesNearExhaustion(sql: Sql, { minUsedRatio = 0.75 } = {}): Promise<SequenceUsage[]> {
  return sql<SequenceUsage[]>`
    with fed as (
      -- a column default calling nextval()
      select d.refobjid as sequence_oid, ad.adrelid as table_oid, ad.adnum as attnum
      from pg_depend d
      join pg_attrdef ad on ad.oid = d.objid
      where d.classid = 'pg_attrdef'::regclass and d.refclassid = 'pg_class'::regclass
      union
      -- an identity or serial column's own sequence
      select d.objid, d.refobjid, d.refobjsubid
      from pg_depend d
      where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
        and d.deptype in ('a', 'i') and d.refobjsubid > 0
    ),
    judged as (
      select
        s.schemaname as schema,
        s.sequencename as sequence,
        f.table_oid,
        a.attname,
        a.atttypid,
        s.last_value,
        s.increment_by,
        case a.atttypid
          when 'int2'::regtype then least(s.max_value, 32767)
          when 'int4'::regtype then least(s.max_value, 2147483647)
          else s.max_value
        end as max_value,
        case a.atttypid
          when 'int2'::regtype then greatest(s.min_value, -32768)
          when 'int4'::regtype then greatest(s.min_value, -2147483648)
          else s.min_value
        end as min_value
      from pg_sequences s
      join pg_class c on c.relname = s.sequencename and c.relkind = 'S'
      join pg_namespace n on n.oid = c.relnamespace and n.nspname = s.schemaname
      left join fed f on f.sequence_oid = c.oid
      left join pg_attribute a on a.attrelid = f.table_oid and a.attnum = f.attnum and not a.attisdropped
      where s.last_value is not null and ${ownSchema(sql, "s.schemaname")}
    ),
    used as (
      select
        j.*,
        -- a descending sequence runs out at its minimum
        case when j.increment_by > 0 then j.last_value::numeric / j.max_value
             when j.last_value < 0 then j.last_value::numeric / j.min_value
             else 0 end as used_ratio
      from judged j
    )
    select
      schema,
      sequence,
      table_oid::regclass::text as table,
      attname as column,
      format_type(atttypid, null) as "columnType",
      last_value::float8 as "lastValue",
      (case when increment_by > 0 then max_value else min_value end)::float8 as "maxValue",
      round(used_ratio, 6)::float8 as "usedRatio"
    from used
    where used_ratio >= ${minUsedRatio}
    order by "usedRatio" desc, schema, sequence, "table", "column"`;
}

export interface TableFreezeAge {
  schema: string;
  table: string;
  /** Transactions since the table's oldest unfrozen row id (its TOAST table's, if older). */
  age: number;
  /** autovacuum_freeze_max_age, or the table's own lower setting: past it, autovacuum must freeze the table. */
  freezeMaxAge: number;
  /** age / freezeMaxAge: 1 means an anti-wraparound vacuum is due. */
  freezeRatio: number;
  /** Share of the 2^31 wraparound horizon used, 0 to 1. */
  wraparoundRatio: number;
}

/** The tables furthest towards their autovacuum freeze threshold, at least `minFreezeRatio` of it. @default 10 tables, ratio 0 */
export async function tableFreezeAges(sql: Sql, { limit = 10, minFreezeRatio = 0 } = {}): Promise<TableFreezeAge[]> {
  return sql<TableFreezeAge[]>`
    with tables as (
      select
        n.nspname as schema,
        c.relname as table,
        greatest(age(c.relfrozenxid), coalesce(age(t.relfrozenxid), 0))::numeric as age,
        -- a table's own setting only ever lowers the server's
        least(
          current_setting('autovacuum_freeze_max_age')::numeric,
          coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o
                    where o.option_name = 'autovacuum_freeze_max_age'), current_setting('autovacuum_freeze_max_age')::numeric)
        ) as freeze_max_age
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_class t on t.oid = c.reltoastrelid
      where c.relkind in ('r', 'm') and ${ownSchema(sql)}
    )
    select
      schema,
      "table",
      age::float8 as age,
      freeze_max_age::float8 as "freezeMaxAge",
      round(age / freeze_max_age, 4)::float8 as "freezeRatio",
      round(age / 2147483648, 6)::float8 as "wraparoundRatio"
    from tables
    where age / freeze_max_age >= ${minFreezeRatio}
    order by "freezeRatio" desc, age desc, schema, "table"
    limit ${limit}`;
}

export interface AutovacuumDue {
  schema: string;
  table: string;
  /** What autovacuum's own test (relation_needs_vacanalyze) says it should do: vacuum, analyze, or both. */
  due: ("vacuum" | "analyze")[];
  /** False when autovacuum is off for the table or the whole server: nothing will come. */
  autovacuumEnabled: boolean;
  /** Where it is off: the server (`autovacuum = off`), the table (`autovacuum_enabled = false`), both, or neither. */
  autovacuumOffFor: ("server" | "table")[];
  deadRows: number;
  vacuumThreshold: number;
  insertedSinceVacuum: number;
  /** Null when insert-driven vacuums are off (autovacuum_vacuum_insert_threshold -1). */
  insertThreshold: number | null;
  modifiedSinceAnalyze: number;
  analyzeThreshold: number;
  lastAutovacuum: string | null;
  lastAutoanalyze: string | null;
}

/**
 * Tables past autovacuum's thresholds (dead rows, rows inserted since the last vacuum, rows
 * changed since the last analyze), with the tables' own settings applied as autovacuum applies
 * them: the tables it is due to visit, and the ones it never will because it is off for them.
 */
export async function autovacuumDue(sql: Sql): Promise<AutovacuumDue[]> {
  return sql<AutovacuumDue[]>`
    with settings as (
      select
        s.relid,
        s.schemaname,
        s.relname,
        s.n_dead_tup,
        s.n_ins_since_vacuum,
        s.n_mod_since_analyze,
        s.last_autovacuum,
        s.last_autoanalyze,
        -- a table never vacuumed nor analyzed counts as empty (reltuples -1)
        greatest(c.reltuples, 0)::numeric as reltuples,
        current_setting('autovacuum')::bool as server_enabled,
        coalesce((select o.option_value::bool from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_enabled'), true) as table_enabled,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_vacuum_threshold'),
          current_setting('autovacuum_vacuum_threshold')::numeric) as vacuum_base,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_vacuum_scale_factor'),
          current_setting('autovacuum_vacuum_scale_factor')::numeric) as vacuum_scale,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_vacuum_insert_threshold'),
          current_setting('autovacuum_vacuum_insert_threshold')::numeric) as insert_base,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_vacuum_insert_scale_factor'),
          current_setting('autovacuum_vacuum_insert_scale_factor')::numeric) as insert_scale,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_analyze_threshold'),
          current_setting('autovacuum_analyze_threshold')::numeric) as analyze_base,
        coalesce((select o.option_value::numeric from pg_options_to_table(c.reloptions) o where o.option_name = 'autovacuum_analyze_scale_factor'),
          current_setting('autovacuum_analyze_scale_factor')::numeric) as analyze_scale
      from pg_stat_user_tables s
      join pg_class c on c.oid = s.relid
      where c.relkind in ('r', 'm') and ${ownSchema(sql, "s.schemaname")}
    ),
    thresholds as (
      select
        settings.*,
        vacuum_base + vacuum_scale * reltuples as vacuum_threshold,
        case when insert_base >= 0 then insert_base + insert_scale * reltuples end as insert_threshold,
        analyze_base + analyze_scale * reltuples as analyze_threshold
      from settings
    ),
    judged as (
      select
        thresholds.*,
        n_dead_tup > vacuum_threshold or n_ins_since_vacuum > insert_threshold as vacuum_due,
        n_mod_since_analyze > analyze_threshold as analyze_due
      from thresholds
    )
    select
      schemaname as schema,
      relname as table,
      to_json(array_remove(array[case when vacuum_due then 'vacuum' end, case when analyze_due then 'analyze' end], null)) as due,
      server_enabled and table_enabled as "autovacuumEnabled",
      to_json(array_remove(array[case when not server_enabled then 'server' end, case when not table_enabled then 'table' end], null)) as "autovacuumOffFor",
      n_dead_tup::float8 as "deadRows",
      round(vacuum_threshold)::float8 as "vacuumThreshold",
      n_ins_since_vacuum::float8 as "insertedSinceVacuum",
      round(insert_threshold)::float8 as "insertThreshold",
      n_mod_since_analyze::float8 as "modifiedSinceAnalyze",
      round(analyze_threshold)::float8 as "analyzeThreshold",
      api_timestamp(last_autovacuum) as "lastAutovacuum",
      api_timestamp(last_autoanalyze) as "lastAutoanalyze"
    from judged
    where vacuum_due or analyze_due
    order by greatest(n_dead_tup / nullif(vacuum_threshold, 0), n_mod_since_analyze / nullif(analyze_threshold, 0)) desc nulls last, schema, "table"`;
}

export interface NotValidConstraint {
  schema: string;
  table: string;
  constraint: string;
  kind: "check" | "foreign key";
  definition: string;
}

/**
 * CHECK and FOREIGN KEY constraints added NOT VALID and never validated: new rows obey them,
 * rows from before may not, and the planner cannot rely on them. VALIDATE CONSTRAINT checks
 * the old rows without blocking writes.
 */
export async function notValidConstraints(sql: Sql): Promise<NotValidConstraint[]> {
  return sql<NotValidConstraint[]>`
    select
      n.nspname as schema,
      k.conrelid::regclass::text as table,
      k.conname as constraint,
      case k.contype when 'c' then 'check' else 'foreign key' end as kind,
      pg_get_constraintdef(k.oid) as definition
    from pg_constraint k
    join pg_namespace n on n.oid = k.connamespace
    where not k.convalidated and k.contype in ('c', 'f') and k.conrelid <> 0 and ${ownSchema(sql)}
    order by schema, "table", "constraint"`;
}
