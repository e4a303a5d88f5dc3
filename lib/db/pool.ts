/**
 * postgres.js pools, created once per function instance and reused by every request.
 * Request paths go through the pooler when one is configured; migrations, inspection
 * and backups use the direct connection.
 */
import postgres from "postgres";
import { config, ConfigError, type Config } from "../config.js";
import { Gate } from "./gate.js";
import { connectionTarget, type ConnectionTarget } from "./target.js";

/** Anything that runs queries: a pool, a connection of its own, or a transaction in progress. */
export type Sql = postgres.ISql;
/** A pool or a connection of its own: it begins transactions and is ended. */
export type Pool = postgres.Sql;
/** A transaction in progress: it takes savepoints. */
export type Transaction = postgres.TransactionSql;

export const APPLICATION_NAME = "gpt-agent-platform";

export type PoolRole = "request" | "direct";

export interface PoolSettings {
  target: ConnectionTarget;
  min: number;
  max: number;
  connectionTimeoutMs: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /** Sent as a startup parameter; undefined through a transaction pooler, which refuses it. */
  statementTimeoutMs: number | undefined;
}

/** The settings a pool of this role gets under this configuration (the profile's defaults, DB_POOL_* over them). */
export function poolSettings(role: PoolRole, cfg: Config = config()): PoolSettings {
  const url = role === "request" ? (cfg.poolerUrl ?? cfg.databaseUrl) : cfg.databaseUrl;
  if (!url) {
    throw new ConfigError(
      role === "request"
        ? "Invalid configuration: DATABASE_URL or SUPABASE_POOLER_URL must be set"
        : "Invalid configuration: DATABASE_URL must be set (the direct connection, port 5432)",
    );
  }
  const { min, max, profile, connectionTimeoutMs, idleTimeoutMs, maxLifetimeMs } = cfg.pool;
  const target = connectionTarget(url);
  return {
    target,
    min,
    // A serverless instance's direct connections serve only its jobs: two at most.
    max: role === "direct" && profile === "serverless" ? Math.min(max, 2) : max,
    connectionTimeoutMs,
    idleTimeoutMs,
    maxLifetimeMs,
    statementTimeoutMs: role === "request" && !target.transactionPooler ? cfg.pool.statementTimeoutMs : undefined,
  };
}

/**
 * Seconds before the next attempt to open a connection. postgres.js counts failures across
 * the whole pool and waits up to 20 s by default, so a server that restarted under load stays
 * unreachable long after it is back; here the wait grows from 50 ms to at most 1 s.
 */
function reconnectDelaySeconds(failures: number): number {
  return Math.min(0.05 * 2 ** failures, 1) * (0.5 + Math.random() / 2);
}

/**
 * Options postgres.js reads that its type definitions do not list. `one_round_trip` is ours
 * (patches/postgres+3.4.9.patch): see postgresOptions.
 */
type UntypedOptions = { max_pipeline: number; one_round_trip: boolean };

/** postgres.js options for these settings (its timeouts are in seconds). */
export function postgresOptions(settings: PoolSettings): postgres.Options<Record<string, never>> & UntypedOptions {
  const connection: Record<string, string> = { application_name: APPLICATION_NAME };
  if (settings.statementTimeoutMs !== undefined) {
    connection.statement_timeout = String(settings.statementTimeoutMs);
  }
  return {
    max: settings.max,
    // At most one query written to a connection at a time; request paths never hand postgres.js
    // more queries than connections (bounded() waits in the pool's gate). No array-type query
    // on connect ahead of the first real one (a round trip saved).
    max_pipeline: 1,
    fetch_types: false,
    backoff: reconnectDelaySeconds,
    prepare: !settings.target.transactionPooler,
    // Without prepared statements postgres.js asks the server for a statement's parameter types
    // before it binds: two round trips a query. Through a transaction pooler it sends Parse,
    // Describe, Bind and Execute at once instead when no parameter needs those types (strings,
    // numbers and booleans go as text; json and dates are typed here): one round trip. Request
    // paths bind nothing the server would read differently (test/round-trips.test.ts).
    one_round_trip: settings.target.transactionPooler,
    connect_timeout: settings.connectionTimeoutMs / 1000,
    idle_timeout: settings.idleTimeoutMs / 1000,
    max_lifetime: settings.maxLifetimeMs / 1000,
    connection,
    onnotice: () => undefined,
  };
}

const pools = new Map<PoolRole, Pool>();
const gates = new Map<PoolRole, Gate>();

export type QueryObserver = (role: PoolRole, query: string) => void;
let queryObserver: QueryObserver | undefined;

/**
 * Calls `observer` with every statement sent from pools created after this call (counts
 * for tests and benchmarks: "zero queries on a cache hit"). Parameters are not passed on.
 */
export function observeQueries(observer: QueryObserver | undefined): void {
  queryObserver = observer;
}

function pool(role: PoolRole): Pool {
  let sql = pools.get(role);
  if (!sql) {
    const settings = poolSettings(role);
    const observer = queryObserver;
    const options = postgresOptions(settings);
    sql = postgres(settings.target.url, observer ? { ...options, debug: (_connection, query) => observer(role, query) } : options);
    pools.set(role, sql);
  }
  return sql;
}

/** The pool for request paths: through the pooler when SUPABASE_POOLER_URL is set. */
export function requestDb(): Pool {
  return pool("request");
}

/** The request pool's gate: as many places as the pool has connections (see deadline.ts). */
export function requestGate(): Gate {
  let gate = gates.get("request");
  if (!gate) {
    gate = new Gate(poolSettings("request").max);
    gates.set("request", gate);
  }
  return gate;
}

/** The pool on the direct connection: migrations, server internals, backups. */
export function directDb(): Pool {
  return pool("direct");
}

/** Opens the profile's minimum of connections ahead of the first request. */
export async function warmPool(sql: Pool, connections: number): Promise<void> {
  await Promise.all(Array.from({ length: connections }, () => sql`select 1`));
}

/** Ends every pool of this process, waiting up to `timeoutSeconds` for running queries. */
export async function closeDbPools(timeoutSeconds = 5): Promise<void> {
  const open = [...pools.values()];
  pools.clear();
  gates.clear();
  await Promise.all(open.map((sql) => sql.end({ timeout: timeoutSeconds })));
}

/**
 * One connection of its own to `url`, outside the pools: another database (a restore's
 * target), or a transaction held for long (a backup's snapshot). The caller ends it.
 */
export function singleConnection(url: string, applicationName = APPLICATION_NAME): Pool {
  return postgres(url, { max: 1, prepare: false, connection: { application_name: applicationName }, onnotice: () => undefined });
}

/**
 * `run` on a connection of its own to DATABASE_URL, closed after: whatever a step did to its
 * session (an advisory lock, a setting, a prepared statement) ends with it and never reaches
 * the pool. For work that plans statements the server recorded.
 */
export async function onOwnConnection<T>(run: (sql: Pool) => Promise<T>): Promise<T> {
  const { databaseUrl } = config();
  if (!databaseUrl) throw new ConfigError("Invalid configuration: DATABASE_URL must be set");
  const own = singleConnection(databaseUrl);
  try {
    return await run(own);
  } finally {
    await own.end();
  }
}
