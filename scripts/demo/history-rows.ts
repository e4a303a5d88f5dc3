/**
 * A synthetic statistics history, written set-based: what the stats-snapshot job would have
 * recorded every 5 minutes over some days (snapshots, Target Metric judgements, per-statement
 * work and its rollups, deploys, alert messages), and optionally the backups and drills of
 * those days. For the dashboard's demo, its tests and its benchmark; every value derives from
 * the snapshot's and the statement's number, so two runs write the same history.
 */
import type { Sql } from "../../lib/db/pool.js";

/** Synthetic statements have negative query ids, far from any pg_stat_statements hash in practice. */
const QUERY_ID_BASE = -7_000_000_000_000_000_000n;

/** Snapshots per deploy: a deploy every two days. */
const SNAPSHOTS_PER_DEPLOY = 576;

export interface HistoryRange {
  /** The first and last synthetic slot. */
  from: Date;
  to: Date;
  snapshots: number;
}

/** `days` of 5-minute slots ending before `end` and before the oldest snapshot already recorded. */
export async function historyRange(sql: Sql, days: number, end: Date): Promise<HistoryRange> {
  const [row] = await sql<{ to: Date }[]>`
    select to_timestamp(floor(extract(epoch from least(${end.toISOString()}::text::timestamptz, coalesce(min(slot), 'infinity'))) / 300) * 300 - 300) as to
    from ops.db_stats_snapshots`;
  const to = row?.to ?? new Date(Math.floor(end.getTime() / 300_000) * 300_000 - 300_000);
  const snapshots = days * 288;
  return { from: new Date(to.getTime() - (snapshots - 1) * 300_000), to, snapshots };
}

/** The statements' texts: what the platform's queries look like, numbered. */
export async function insertHistoryTexts(sql: Sql, statements: number): Promise<void> {
  await sql`
    insert into ops.query_texts (queryid, query, first_seen_at, roles, lexer)
    select
      ${String(QUERY_ID_BASE)}::bigint - k,
      (array[
        'select id, role, content, created_at from conversation_messages where conversation_id = $1 and (created_at, id) < ($2, $3) order by created_at desc, id desc limit $4',
        'select a.*, coalesce(json_agg(w order by w.position), $1) as workflows from agents a left join agent_workflows w on w.agent_id = a.id where a.id = $2 group by a.id',
        'insert into analytics_events (organization_id, agent_id, conversation_id, event_type, properties) values ($1, $2, $3, $4, $5)',
        'update conversations set last_message_at = $1, message_count = message_count + $2 where id = $3',
        'select count(*) from conversations where organization_id = $1 and status = $2',
        'select id, name, status from agents where organization_id = $1 order by created_at desc, id desc limit $2'
      ])[1 + (k - 1) % 6] || ' /* history ' || k || ' */',
      now() - interval '30 days',
      array[current_user::text],
      -- Written here, with no secret in them: nothing for a later snapshot to redact again.
      true
    from generate_series(1, ${statements}) k
    on conflict (queryid) do nothing`;
}

/** The snapshots of the range, each with its Target Metric judgements; returns the first and last snapshot id. */
export async function insertHistorySnapshots(sql: Sql, range: HistoryRange): Promise<{ firstId: string; lastId: string }> {
  const [ids] = await sql<{ firstId: string; lastId: string }[]>`
    with inserted as (
      insert into ops.db_stats_snapshots (
        slot, taken_at, deploy_id, connections_by_state, database_size_bytes, table_cache_hit_ratio,
        index_cache_hit_ratio, blocked_sessions, longest_transaction_seconds, xid_age)
      select
        ${range.from.toISOString()}::text::timestamptz + i * interval '5 minutes',
        ${range.from.toISOString()}::text::timestamptz + i * interval '5 minutes' + interval '4 seconds',
        md5('deploy:' || (i / ${SNAPSHOTS_PER_DEPLOY})),
        jsonb_build_object(
          'active', 2 + round(2 + 2 * sin(i * 2 * pi() / 288))::int,
          'idle', 6 + i % 5,
          'idle in transaction', (i % 37 = 0)::int),
        400000000 + i::bigint * 150000,
        0.995, 0.998,
        (i % 97 = 0)::int,
        case when i % 97 = 0 then 42 else i % 9 end,
        1000000 + i::bigint * 900
      from generate_series(0, ${range.snapshots - 1}) i
      on conflict (slot) do nothing
      returning id
    )
    select min(id)::text as "firstId", max(id)::text as "lastId" from inserted`;
  if (!ids?.firstId || !ids.lastId) throw new Error("no snapshot was inserted");
  await sql`
    insert into ops.threshold_results (snapshot_id, metric, value, status, target, alert_level)
    select
      s.id,
      m.metric,
      v.value,
      case when v.value > m.alert_level then 'alert' when v.value > m.target then 'warn' else 'ok' end,
      m.target,
      m.alert_level
    from (
      select id, row_number() over (order by slot) - 1 as i
      from ops.db_stats_snapshots
      where id between ${ids.firstId} and ${ids.lastId}
    ) s
    cross join (values
      ('statement_p95_ms', 100::float8, 500::float8),
      ('connection_pool_usage_ratio', 0.7, 0.85),
      ('active_connections', 20, 50),
      ('slow_queries_per_hour', 0, 5),
      ('lock_wait_ms', 10, 100)
    ) as m (metric, target, alert_level)
    cross join lateral (
      select case m.metric
        when 'statement_p95_ms' then case when s.i % 211 = 0 then 640 else 45 + 30 * sin(s.i * 2 * pi() / 288) end
        when 'connection_pool_usage_ratio' then 0.12 + 0.05 * sin(s.i * 2 * pi() / 288)
        when 'active_connections' then 4 + 2 * sin(s.i * 2 * pi() / 288)
        when 'slow_queries_per_hour' then case when s.i % 211 = 0 then 12 else 0 end
        else case when s.i % 97 = 0 then 180 else 2 end
      end::float8 as value
    ) v`;
  return ids;
}

/**
 * Every statement's work in the snapshots `fromId` to `toId`: calls falling with the
 * statement's number and following the day, a mean of its own; the first three statements
 * run three times slower under the range's newest deploy (the regression to find).
 */
export async function insertHistoryStatements(sql: Sql, fromId: string, toId: string, statements: number, newestDeployAt: Date): Promise<number> {
  const inserted = await sql`
    insert into ops.query_stats (snapshot_id, queryid, calls, total_ms, mean_ms, cumulative_calls, cumulative_total_ms, taken_at)
    select
      s.id,
      ${String(QUERY_ID_BASE)}::bigint - k,
      w.calls,
      w.calls * w.mean,
      w.mean,
      w.calls * (s.i + 1),
      w.calls * w.mean * (s.i + 1),
      s.taken_at
    from (
      select id, taken_at, extract(epoch from taken_at)::bigint / 300 as i
      from ops.db_stats_snapshots
      where id between ${fromId} and ${toId}
    ) s
    cross join generate_series(1, ${statements}) k
    cross join lateral (
      select
        greatest(1, round((4000.0 / k) * (1.2 + sin(s.i * 2 * pi() / 288))))::bigint as calls,
        (case when k <= 3 then 8 + k else 0.3 + (k % 40) * 0.6 end
          * case when k <= 3 and s.taken_at >= ${newestDeployAt.toISOString()}::text::timestamptz then 3 else 1 end)::float8 as mean
    ) w`;
  return inserted.count;
}

/** The hourly and daily rollups of the snapshots `fromId` to `toId`, as the job keeps them. */
export async function rollUpHistory(sql: Sql, fromId: string, toId: string): Promise<void> {
  await sql`
    insert into ops.query_stats_hourly as h (hour, queryid, calls, total_ms)
    select date_trunc('hour', taken_at, 'UTC'), queryid, sum(calls), sum(total_ms)
    from ops.query_stats
    where snapshot_id between ${fromId} and ${toId} and calls > 0
    group by 1, 2
    on conflict (hour, queryid) do update set calls = h.calls + excluded.calls, total_ms = h.total_ms + excluded.total_ms`;
  await sql`
    insert into ops.query_stats_daily as d (day, queryid, calls, total_ms)
    select date_trunc('day', taken_at, 'UTC'), queryid, sum(calls), sum(total_ms)
    from ops.query_stats
    where snapshot_id between ${fromId} and ${toId} and calls > 0
    group by 1, 2
    on conflict (day, queryid) do update set calls = d.calls + excluded.calls, total_ms = d.total_ms + excluded.total_ms`;
}

/** The alert messages of the range: each p95 spike fired its alert, resolved at the next snapshot. */
export async function insertHistoryAlerts(sql: Sql, fromId: string, toId: string): Promise<void> {
  await sql`
    insert into ops.alert_events (at, key, status, summary, since, delivery, details)
    select
      s.taken_at + case when e.status = 'resolved' then interval '5 minutes' else interval '0' end,
      'threshold:statement_p95_ms',
      e.status,
      case when e.status = 'firing'
        then 'statement_p95_ms is ' || r.value || ' ms, above its alert level of 500 (target 100)'
        else 'statement_p95_ms is ' || coalesce(n.value, 0) || ' ms, back under its alert level of 500' end,
      s.taken_at,
      'sent',
      case when e.status = 'firing'
        then jsonb_build_object('metric', 'statement_p95_ms', 'value', r.value)
        else jsonb_build_object('fired', 'statement_p95_ms is ' || r.value || ' ms, above its alert level of 500 (target 100)') end
    from ops.db_stats_snapshots s
    join ops.threshold_results r on r.snapshot_id = s.id and r.metric = 'statement_p95_ms' and r.status = 'alert'
    left join lateral (
      select nr.value from ops.db_stats_snapshots ns
      join ops.threshold_results nr on nr.snapshot_id = ns.id and nr.metric = 'statement_p95_ms'
      where ns.taken_at > s.taken_at order by ns.taken_at limit 1
    ) n on true
    cross join (values ('firing'), ('resolved')) as e (status)
    where s.id between ${fromId} and ${toId}`;
}

/** A nightly backup (a local and a bucket copy, both verified) and a weekly drill, over the range. */
export async function insertHistoryBackups(sql: Sql, range: HistoryRange): Promise<void> {
  await sql`
    with nights as (
      select n, date_trunc('day', ${range.from.toISOString()}::text::timestamptz, 'UTC') + n * interval '1 day' + interval '3 hours' as at
      from generate_series(0, ${Math.ceil(range.snapshots / 288)}) n
    ),
    runs as (
      insert into ops.backups (requested_at, started_at, finished_at, status, location, size_bytes, sha256, encrypted, signed)
      select at, at, at + interval '41 seconds', 'succeeded',
        'file:///demo-history/gap-' || to_char(at, 'YYYYMMDD') || '.dump.age',
        90000000 + n * 400000, md5('backup:' || n) || md5('backup:' || n), true, true
      from nights
      where at between ${range.from.toISOString()}::text::timestamptz and ${range.to.toISOString()}::text::timestamptz
      returning id, finished_at, location, size_bytes, sha256
    )
    insert into ops.backup_copies (backup_id, location, status, size_bytes, sha256, created_at, verified_at)
    select id, l.location, 'verified', size_bytes, sha256, finished_at, finished_at
    from runs
    cross join lateral (values (runs.location), ('s3://demo-history/backups/' || substring(runs.location from '[^/]+$'))) as l (location)`;
  await sql`
    insert into ops.dr_drills (started_at, finished_at, status, backup_id, recovery_seconds, data_age_seconds, tables, row_count, restored_bytes, analyze_seconds, source)
    select b.finished_at + interval '1 hour', b.finished_at + interval '1 hour 7 seconds', 'succeeded', b.id,
      6.2 + (b.id % 5) * 0.3, 3600 + 41, 19, 1000503, 312000000, 0.9, 's3://demo-history/backups/' || substring(b.location from '[^/]+$')
    from ops.backups b
    where b.location like 'file:///demo-history/%'
      and extract(dow from b.finished_at) = 0
      and not exists (select 1 from ops.dr_drills d where d.backup_id = b.id)`;
}

/**
 * The rows each table gained and lost per snapshot: messages and events written through the
 * day (more by day than by night), conversations opened and updated, and a nightly cleanup of
 * old analytics events.
 */
export async function insertHistoryTableChanges(sql: Sql, fromId: string, toId: string): Promise<void> {
  await sql`
    insert into ops.table_changes (snapshot_id, schema_name, table_name, inserted, updated, deleted, rows_before)
    select
      s.id,
      'public',
      t.name,
      round(t.rate * (1.2 + sin(extract(epoch from s.slot) / 86400 * 2 * pi() - pi() / 2)) * (1 + (s.id % 7) * 0.05)),
      round(t.updates * (1.2 + sin(extract(epoch from s.slot) / 86400 * 2 * pi() - pi() / 2))),
      case when t.name = 'analytics_events' and extract(hour from s.slot at time zone 'UTC') = 2 and extract(minute from s.slot) = 0 then 1200 else 0 end,
      t.base + (s.id - ${fromId}::bigint) * t.rate
    from ops.db_stats_snapshots s
    cross join (values
      ('conversation_messages', 40, 0, 1000000),
      ('analytics_events', 25, 0, 400000),
      ('conversations', 2, 3, 20000)) as t (name, rate, updates, base)
    where s.id between ${fromId} and ${toId}
    on conflict do nothing`;
}

/**
 * Every table's and index's size each hour of the range, growing to today's size: the tables
 * of the platform's schemas as they are now, each smaller in the past by the share the range
 * is of a month (so a week of history shows a quarter's growth).
 */
export async function insertHistoryRelationSizes(sql: Sql, fromId: string, toId: string): Promise<void> {
  await sql`
    with range as (select max(slot) as newest from ops.db_stats_snapshots where id between ${fromId} and ${toId})
    insert into ops.relation_sizes (snapshot_id, schema_name, relation_name, kind, bytes, total_bytes)
    select
      s.id, n.nspname, c.relname,
      case when c.relkind in ('i', 'I') then 'index' else 'table' end,
      round(pg_relation_size(c.oid) * greatest(0.05, 1 - extract(epoch from (select newest from range) - s.slot) / (30 * 86400.0))),
      round((case when c.relkind in ('i', 'I') then pg_relation_size(c.oid) else pg_total_relation_size(c.oid) end)
        * greatest(0.05, 1 - extract(epoch from (select newest from range) - s.slot) / (30 * 86400.0)))
    from ops.db_stats_snapshots s
    cross join pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where s.id between ${fromId} and ${toId}
      and extract(minute from s.slot) = 0
      and c.relkind in ('r', 'p', 'm', 'i', 'I')
      and n.nspname in ('public', 'ops')
    on conflict do nothing`;
}

/**
 * The plan change behind the first statement's regression: its page read by the messages'
 * index until the newest deploy, by a sequential scan and a sort after it (ops.statement_plans).
 */
export async function insertHistoryPlanChanges(sql: Sql, range: HistoryRange, newestDeployAt: Date): Promise<void> {
  const before = "Limit\n  ->  Index Scan using idx_messages_conversation_created on public.conversation_messages";
  const after = "Limit\n  ->  Sort\n        ->  Seq Scan on public.conversation_messages";
  await sql`
    insert into ops.statement_plans (queryid, fingerprint, summary, plan, first_seen_at, last_seen_at)
    values
      (${String(QUERY_ID_BASE - 1n)}::bigint, 'demo-index-scan', 'Index Scan using idx_messages_conversation_created on public.conversation_messages', ${before},
        ${range.from.toISOString()}::text::timestamptz, ${new Date(newestDeployAt.getTime() - 300_000).toISOString()}::text::timestamptz),
      (${String(QUERY_ID_BASE - 1n)}::bigint, 'demo-seq-scan', 'Seq Scan on public.conversation_messages', ${after},
        ${newestDeployAt.toISOString()}::text::timestamptz, ${range.to.toISOString()}::text::timestamptz)`;
}

/** A drill's measured advice at the range's end: the messages' index suggested with its figures, an index a report needs withheld. */
export async function insertHistoryMeasuredAdvice(sql: Sql, range: HistoryRange): Promise<void> {
  const copyOf = new Date(range.to.getTime() - 3600_000).toISOString();
  await sql`
    insert into ops.measured_advice (run_id, measured_at, drill_id, copy_taken_at, kind, table_name, index_name, columns, statement, verdict, reason,
      queryid, query, predicted_cost_before, predicted_cost_after, ms_before, ms_after, buffers_before, buffers_after, build_seconds, size_bytes, effects)
    values
      ('00000000-0000-4000-8000-000000000001', ${range.to.toISOString()}::text::timestamptz, null, ${copyOf}::text::timestamptz, 'create',
        'public.conversation_messages', 'idx_conversation_messages_conversation_id_created_at', '["conversation_id", "created_at"]',
        'CREATE INDEX CONCURRENTLY idx_conversation_messages_conversation_id_created_at ON public.conversation_messages (conversation_id, created_at);', 'suggested',
        ${`measured on the copy of ${copyOf}: 50 ms -> 0.05 ms (982x) for "select id, role, content, created_at from conversation_messages…", build 0.7 s, 38.8 MB (hypopg predicted 478x)`},
        ${String(QUERY_ID_BASE - 1n)}::bigint, (select query from ops.query_texts where queryid = ${String(QUERY_ID_BASE - 1n)}::bigint),
        11693, 24, 50.1, 0.051, 25230, 7, 0.7, 40684544, '[]'),
      ('00000000-0000-4000-8000-000000000001', ${range.to.toISOString()}::text::timestamptz, null, ${copyOf}::text::timestamptz, 'drop',
        'public.conversation_messages', 'idx_messages_created', '[]', 'DROP INDEX CONCURRENTLY public.idx_messages_created;', 'withheld',
        ${`unused (33 scans), but without it a recorded statement went 0.014 ms -> 60 ms (4290x slower) on the copy of ${copyOf}: keep it (select count(*) from conversation_messages where created_at >= $1 and created_at < $2)`},
        null, null, null, null, null, null, null, null, null, null,
        '[{"queryId": "1", "query": "select count(*) from conversation_messages where created_at >= $1 and created_at < $2", "msBefore": 0.014, "msAfter": 60, "buffersBefore": 4, "buffersAfter": 25230, "slower": true}]')`;
}
