/**
 * The only reader of `process.env`. Every variable is parsed and validated once,
 * empty strings count as unset, and every problem is reported at once on one line.
 */
import { existsSync } from "node:fs";
import * as v from "valibot";
import { PlatformError } from "./errors.js";

const POSTGRES_PROTOCOLS = new Set(["postgres:", "postgresql:"]);

export function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return POSTGRES_PROTOCOLS.has(url.protocol) && url.hostname !== "";
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** A variable's rule over its text. */
type Rule = v.GenericSchema<string, unknown>;

/** Unset, or set to the empty string: undefined; else checked by `rule`. */
const optional = <T extends Rule>(rule: T) =>
  v.optional(
    v.pipe(
      v.string(),
      v.transform((value): string | undefined => (value === "" ? undefined : value)),
      v.optional(rule),
    ),
  );

const postgresUrl = v.pipe(v.string(), v.check(isPostgresUrl, "must be a postgres:// or postgresql:// URL"));
/** Whether `value` carries a user or password (`https://user:password@host`), which fetch refuses to send. */
function hasCredentials(value: string): boolean {
  try {
    const url = new URL(value);
    return url.username !== "" || url.password !== "";
  } catch {
    return false;
  }
}

const httpUrl = v.pipe(
  v.string(),
  v.check(isHttpUrl, "must be an http:// or https:// URL"),
  v.check((value) => !hasCredentials(value), "must not carry a user or password (user:password@): fetch refuses such a URL, so nothing would ever be sent"),
);
const secret = v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"));
/** "true" or "false", spelled out: every non-empty string would be true to a coercion to boolean. */
const flag = v.pipe(
  v.picklist(["true", "false"], "must be true or false"),
  v.transform((value) => value === "true"),
);
/** Bucket names as S3, R2, Supabase Storage and MinIO all accept them. */
const bucketName = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be a bucket name: 3 to 63 lowercase letters, digits, dots and hyphens"),
);
const objectPrefix = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*$/,
    "must be an object key prefix such as backups/ (letters, digits, / - _ . ! * ' ( ), not starting with /)",
  ),
);
/** age recipients (`age1...`, X25519 or the post-quantum hybrid), separated by commas or spaces; each is checked fully when used. */
const AGE_RECIPIENT = /^age1(?:pq1)?[02-9ac-hj-np-z]{20,}$/;
const ageRecipients = v.pipe(
  v.string(),
  v.transform((value) => value.split(/[\s,]+/).filter(Boolean)),
  v.check((list) => list.length > 0 && list.every((r) => AGE_RECIPIENT.test(r)), "must be one or more age public keys (age1...), separated by commas"),
);
/** Signing keys of the past, separated by commas or spaces: each as long as a signing key must be. */
const previousSigningKeys = v.pipe(
  v.string(),
  v.transform((value) => value.split(/[\s,]+/).filter(Boolean)),
  v.check((keys) => keys.length > 0 && keys.every((key) => key.length >= 32), "must be one or more keys of at least 32 characters, separated by commas"),
);
/** Waits in ms between the tries of a direct alert delivery, comma-separated: "1000,3000" is three tries. */
const retryDelays = v.pipe(
  v.string(),
  v.transform((value) => value.split(/[\s,]+/).filter(Boolean)),
  v.check(
    (waits) => waits.length <= 5 && waits.every((wait) => /^\d{1,5}$/.test(wait)),
    "must be up to 5 waits in milliseconds (at most 99999 each), separated by commas",
  ),
  v.transform((waits) => waits.map(Number)),
);
const ageIdentity = v.pipe(v.string(), v.regex(/^AGE-SECRET-KEY-(?:PQ-)?1[02-9AC-HJ-NP-Z]{20,}$/, "must be an age secret key (AGE-SECRET-KEY-1...)"));
/** Digits (else "must be a whole number of ..."), then the range; the range is judged only of a number. */
const wholeNumber = (what: string, min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, `must be a whole number of ${what}`),
    v.transform(Number),
    v.check((n) => n >= min && n <= max, `must be between ${min} and ${max} ${what}`),
  );

/** A decimal share between 0 (excluded) and 1, as "0.2". */
const share = v.pipe(
  v.string(),
  v.regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, "must be a share between 0 and 1, such as 0.2"),
  v.transform(Number),
  v.check((n) => n > 0, "must be a share between 0 and 1, such as 0.2"),
);

export type PoolProfile = "serverless" | "worker";

/**
 * What an unset variable means: every default, in this one table. Pool sizes depend on the
 * profile: a suspended serverless instance must not sit on connections; a worker keeps a warm pool.
 */
export const DEFAULTS = {
  pool: {
    serverless: { DB_POOL_MIN: 1, DB_POOL_MAX: 5, DB_IDLE_TIMEOUT: 10_000, DB_MAX_LIFETIME: 300_000 },
    worker: { DB_POOL_MIN: 10, DB_POOL_MAX: 20, DB_IDLE_TIMEOUT: 60_000, DB_MAX_LIFETIME: 1_800_000 },
  },
  DB_CONNECTION_TIMEOUT: 5000,
  DB_STATEMENT_TIMEOUT: 15_000,
  QSTASH_URL: "https://qstash.upstash.io",
  ALERT_REPEAT_MINUTES: 240,
  ALERT_MASS_DELETE_SHARE: 0.2,
  /** Three tries, within about 9 s with the 5 s timeout of each: inside any function's time. */
  ALERT_RETRY_DELAYS_MS: [1000, 3000],
  CACHE_L1_TTL_MS: 1000,
  PORT: 3000,
  LOCAL_DATA_DIR: ".local",
  LOCAL_PG_PORT: 54329,
  STATS_QUERY_RETENTION_DAYS: 14,
  STATS_SNAPSHOT_RETENTION_DAYS: 90,
  UNUSED_INDEX_MIN_DAYS: 7,
  BACKUP_RETENTION_DAYS: 14,
  BACKUP_RPO_HOURS: 24,
  BACKUP_RTO_MINUTES: 60,
  BACKUP_S3_PREFIX: "backups/",
  /** With BACKUP_S3_ENDPOINT; AWS S3 needs the bucket's own. R2 reads it as "auto". */
  BACKUP_S3_REGION: "us-east-1",
} as const satisfies Record<string, unknown>;

const S3_SETTINGS = [
  "BACKUP_S3_PREFIX",
  "BACKUP_S3_ENDPOINT",
  "BACKUP_S3_REGION",
  "BACKUP_S3_ACCESS_KEY_ID",
  "BACKUP_S3_SECRET_ACCESS_KEY",
  "BACKUP_S3_FORCE_PATH_STYLE",
] as const;

const schema = v.object({
  /** Direct connection (port 5432): migrations, inspection, backups. Unset locally = embedded PostgreSQL. */
  DATABASE_URL: optional(postgresUrl),
  /** Supavisor/PgBouncer URL for request paths; port 6543 or `?pgbouncer=true` = transaction mode. */
  SUPABASE_POOLER_URL: optional(postgresUrl),
  /** Which pool profile this process uses: serverless on Vercel (VERCEL set), else worker. */
  DB_POOL_PROFILE: optional(v.picklist(["serverless", "worker"], "must be serverless or worker")),
  /** Shorthand for DB_POOL_MAX. */
  DB_POOL_SIZE: optional(wholeNumber("connections", 1, 1000)),
  /** Connections opened when the pool is warmed (DEFAULTS.pool). */
  DB_POOL_MIN: optional(wholeNumber("connections", 0, 1000)),
  /** Most connections per instance (DEFAULTS.pool). */
  DB_POOL_MAX: optional(wholeNumber("connections", 1, 1000)),
  /** Longest wait to open a connection or get a free one, in ms (DEFAULTS). */
  DB_CONNECTION_TIMEOUT: optional(wholeNumber("milliseconds", 100, 600_000)),
  /** Idle connections close after this many ms (DEFAULTS.pool). */
  DB_IDLE_TIMEOUT: optional(wholeNumber("milliseconds", 1000, 86_400_000)),
  /** Connections are replaced after this many ms (DEFAULTS.pool). */
  DB_MAX_LIFETIME: optional(wholeNumber("milliseconds", 1000, 86_400_000)),
  /** Longest a request-path statement may run, in ms (DEFAULTS). */
  DB_STATEMENT_TIMEOUT: optional(wholeNumber("milliseconds", 100, 3_600_000)),
  NEXT_PUBLIC_SUPABASE_URL: optional(httpUrl),
  SUPABASE_JWT_SECRET: optional(secret),
  /** JWKS of the project's asymmetric signing keys; unset = NEXT_PUBLIC_SUPABASE_URL + /auth/v1/.well-known/jwks.json. */
  SUPABASE_JWKS_URL: optional(httpUrl),
  /** Signs pagination cursors; unset = SUPABASE_JWT_SECRET. */
  CURSOR_SECRET: optional(secret),
  UPSTASH_REDIS_REST_URL: optional(httpUrl),
  UPSTASH_REDIS_REST_TOKEN: optional(v.string()),
  /** How long an instance keeps a hot agent or membership in memory before asking Upstash again; 0 = never (DEFAULTS). */
  CACHE_L1_TTL_MS: optional(wholeNumber("milliseconds", 0, 60_000)),
  CRON_SECRET: optional(secret),
  METRICS_TOKEN: optional(secret),
  /** Bearer token of the operations endpoints that change the platform (the mode). */
  ADMIN_TOKEN: optional(secret),
  /** QStash's API (DEFAULTS). */
  QSTASH_URL: optional(httpUrl),
  QSTASH_TOKEN: optional(v.string()),
  QSTASH_CURRENT_SIGNING_KEY: optional(v.string()),
  QSTASH_NEXT_SIGNING_KEY: optional(v.string()),
  /** Where alerts are posted (Slack-compatible JSON). Unset = alerts are log lines only. */
  ALERT_WEBHOOK_URL: optional(httpUrl),
  /** An alert still firing is sent again after this many minutes (DEFAULTS). */
  ALERT_REPEAT_MINUTES: optional(wholeNumber("minutes", 1, 10_080)),
  /** A table that shrinks by more than this share of its rows between two stats snapshots fires `data:mass-delete` (DEFAULTS). */
  ALERT_MASS_DELETE_SHARE: optional(share),
  /** Without QStash, the waits between the tries of an alert's delivery, in ms (DEFAULTS). */
  ALERT_RETRY_DELAYS_MS: optional(retryDelays),
  /** Port of the local platform and the worker (DEFAULTS). */
  PORT: optional(wholeNumber("as a TCP port", 0, 65535)),
  /** Address the local server listens on; unset = 127.0.0.1 for npm start (this machine only), every interface for npm run worker. */
  HOST: optional(v.pipe(v.string(), v.regex(/^[\w.:-]{1,253}$/, "must be an address or a host name, such as 127.0.0.1 or 0.0.0.0"))),
  /** Folder of the local platform's embedded PostgreSQL and secrets (DEFAULTS). */
  LOCAL_DATA_DIR: optional(v.string()),
  /** Port of the local platform's embedded PostgreSQL (DEFAULTS). */
  LOCAL_PG_PORT: optional(wholeNumber("as a TCP port", 1, 65535)),
  /** Days ops.query_stats keeps per-statement history (DEFAULTS). */
  STATS_QUERY_RETENTION_DAYS: optional(wholeNumber("days", 1, 3650)),
  /** Days ops.db_stats_snapshots keeps database history (DEFAULTS). */
  STATS_SNAPSHOT_RETENTION_DAYS: optional(wholeNumber("days", 1, 3650)),
  /** Days an index's scans must have been counted before a finding suggests dropping it as unused (DEFAULTS). */
  UNUSED_INDEX_MIN_DAYS: optional(wholeNumber("days", 0, 365)),
  /** The database's disk quota in bytes (the Supabase plan's disk, say): the dashboard counts the days until growth reaches it. */
  DB_SIZE_QUOTA_BYTES: optional(wholeNumber("bytes", 1, Number.MAX_SAFE_INTEGER)),
  /** The transaction pooler's pool size (Supabase: Database settings, Pool Size): the capacity figure sets the workload against it. */
  DB_POOLER_POOL_SIZE: optional(wholeNumber("connections", 1, 100_000)),
  /** The database server's memory (a Supabase compute size's RAM): what the Tune view sizes its recommendations for; unset = four times shared_buffers. */
  DB_MEMORY_BYTES: optional(wholeNumber("bytes", 64 * 1024 * 1024, Number.MAX_SAFE_INTEGER)),
  /** Public URL of the backup worker (a machine with pg_dump serving these functions): the backup cron hands each run to it through QStash. */
  BACKUP_WORKER_URL: optional(httpUrl),
  /** Folder the backup worker writes archives to (a mounted volume on a worker machine); unset = LOCAL_DATA_DIR/backups. */
  BACKUP_DIR: optional(v.string()),
  /** Days a backup archive is kept; the newest three successes are kept whatever their age (DEFAULTS). */
  BACKUP_RETENTION_DAYS: optional(wholeNumber("days", 1, 3650)),
  /** Recovery point objective in hours: the newest successful backup older than this fires `backup:rpo` (DEFAULTS). */
  BACKUP_RPO_HOURS: optional(wholeNumber("hours", 1, 8760)),
  /** Recovery time objective in minutes: a drill's projection for the database's size past this fires `backup:rto` (DEFAULTS). */
  BACKUP_RTO_MINUTES: optional(wholeNumber("minutes", 1, 10_080)),
  /** Folder of pg_dump and pg_restore, when not on the PATH. */
  PG_BIN_DIR: optional(v.string()),
  /** An S3-compatible bucket (AWS S3, Cloudflare R2, Supabase Storage, MinIO) every backup is copied to. Unset = archives stay in BACKUP_DIR only. */
  BACKUP_S3_BUCKET: optional(bucketName),
  /** Where in the bucket the archives go (DEFAULTS). */
  BACKUP_S3_PREFIX: optional(objectPrefix),
  /** The store's S3 endpoint; unset = AWS S3 in BACKUP_S3_REGION. */
  BACKUP_S3_ENDPOINT: optional(httpUrl),
  /** The bucket's region: required for AWS S3, DEFAULTS with BACKUP_S3_ENDPOINT. */
  BACKUP_S3_REGION: optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,32}$/, "must be a region name such as eu-west-1"))),
  /** Both or neither; neither = the AWS SDK's own credential chain (an instance role, say). */
  BACKUP_S3_ACCESS_KEY_ID: optional(v.string()),
  BACKUP_S3_SECRET_ACCESS_KEY: optional(v.string()),
  /** Path-style URLs (endpoint/bucket/key), as MinIO and Supabase Storage need; unset = true with BACKUP_S3_ENDPOINT, else false. */
  BACKUP_S3_FORCE_PATH_STYLE: optional(flag),
  /** age public keys every archive is encrypted to as it is written. Unset = archives in clear. */
  BACKUP_AGE_RECIPIENTS: optional(ageRecipients),
  /** The age secret key that decrypts archives, for restores and drills (never needed to take a backup). */
  BACKUP_AGE_IDENTITY: optional(ageIdentity),
  /** A file holding the age secret key (age-keygen's output), instead of BACKUP_AGE_IDENTITY. */
  BACKUP_AGE_IDENTITY_FILE: optional(v.string()),
  /** Signs each backup's manifest, so a restore takes only this installation's archives. Local default: generated into LOCAL_DATA_DIR. */
  BACKUP_SIGNING_KEY: optional(v.pipe(v.string(), v.minLength(32, "must be at least 32 characters"))),
  /** Keys BACKUP_SIGNING_KEY replaced, comma-separated: manifests they signed still verify; nothing is signed with them. */
  BACKUP_PREVIOUS_SIGNING_KEYS: optional(previousSigningKeys),
  /** The deployment's public base URL (QStash calls back here); unset = https://VERCEL_PROJECT_PRODUCTION_URL on Vercel. */
  PUBLIC_URL: optional(httpUrl),
  /** Set by Vercel: the production domain, without a scheme. */
  VERCEL_PROJECT_PRODUCTION_URL: optional(v.string()),
  /** Where programs are looked for: pg_dump and pg_restore are found here and run by absolute path. */
  PATH: optional(v.string()),
  /** Set by Vercel: the deploy a snapshot was taken under. */
  VERCEL_GIT_COMMIT_SHA: optional(v.string()),
  /** Set by Vercel on its machines. */
  VERCEL: optional(v.string()),
});

type ParsedEnv = v.InferOutput<typeof schema>;

/** Problems between variables, each "VARIABLE message"; judged once every variable is valid on its own. */
function crossProblems(env: ParsedEnv): string[] {
  const problems: string[] = [];
  const problem = (variable: string, message: string) => problems.push(`${variable} ${message}`);
  const max = env.DB_POOL_MAX ?? env.DB_POOL_SIZE;
  if (env.DB_POOL_MIN !== undefined && max !== undefined && max < env.DB_POOL_MIN) {
    problem(env.DB_POOL_MAX !== undefined ? "DB_POOL_MAX" : "DB_POOL_SIZE", `(${max}) must not be below DB_POOL_MIN (${env.DB_POOL_MIN})`);
  }
  if (!env.BACKUP_S3_BUCKET) {
    for (const variable of S3_SETTINGS) if (env[variable] !== undefined) problem(variable, "is set but BACKUP_S3_BUCKET is not");
  } else if (!env.BACKUP_S3_ENDPOINT && !env.BACKUP_S3_REGION) {
    problem("BACKUP_S3_REGION", "must be set for AWS S3 (or set BACKUP_S3_ENDPOINT for another store)");
  }
  if ((env.BACKUP_S3_ACCESS_KEY_ID === undefined) !== (env.BACKUP_S3_SECRET_ACCESS_KEY === undefined)) {
    problem(
      env.BACKUP_S3_ACCESS_KEY_ID === undefined ? "BACKUP_S3_ACCESS_KEY_ID" : "BACKUP_S3_SECRET_ACCESS_KEY",
      "must be set together with the other BACKUP_S3_ key variable",
    );
  }
  if (env.BACKUP_AGE_IDENTITY && env.BACKUP_AGE_IDENTITY_FILE) {
    problem("BACKUP_AGE_IDENTITY_FILE", "must not be set together with BACKUP_AGE_IDENTITY: give the key one way");
  }
  if (Boolean(env.UPSTASH_REDIS_REST_URL) !== Boolean(env.UPSTASH_REDIS_REST_TOKEN)) {
    problem(
      env.UPSTASH_REDIS_REST_URL ? "UPSTASH_REDIS_REST_TOKEN" : "UPSTASH_REDIS_REST_URL",
      "must be set together with the other UPSTASH_REDIS_REST_ variable",
    );
  }
  return problems;
}

/*
 * The AWS SDK reads one switch of its own from the environment: its notice that releases after
 * January 2027 need Node 22, eight lines on every bucket command, where the supported Node
 * versions are the README's to say (docs/decisions.md). Set here, the one module that touches
 * process.env, before lib/backups/object-store.ts loads the SDK.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/** Every variable the platform reads, for `.env.example` and its test. */
export const CONFIG_VARIABLES = Object.keys(schema.entries) as ReadonlyArray<keyof v.InferInput<typeof schema>>;

export interface Config {
  databaseUrl: string | undefined;
  poolerUrl: string | undefined;
  /** The pool settings, the profile's defaults with DB_POOL_* over them. */
  pool: {
    profile: PoolProfile;
    min: number;
    max: number;
    connectionTimeoutMs: number;
    idleTimeoutMs: number;
    maxLifetimeMs: number;
    statementTimeoutMs: number;
    /** The pooler's own pool (DB_POOLER_POOL_SIZE); unknown when unset. */
    poolerPoolSize: number | undefined;
  };
  supabase: {
    url: string | undefined;
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
  };
  cursorSecret: string | undefined;
  upstash: { url: string; token: string } | undefined;
  /** In-process first level in front of Upstash: milliseconds an entry is kept, 0 = off. */
  cacheL1TtlMs: number;
  qstash: { url: string; token: string | undefined; currentSigningKey: string | undefined; nextSigningKey: string | undefined };
  cronSecret: string | undefined;
  metricsToken: string | undefined;
  adminToken: string | undefined;
  alerts: { webhookUrl: string | undefined; repeatMs: number; massDeleteShare: number; retryDelaysMs: readonly number[] };
  port: number;
  host: string | undefined;
  localDataDir: string;
  localPgPort: number;
  stats: {
    queryRetentionDays: number;
    snapshotRetentionDays: number;
    deployId: string | undefined;
    sizeQuotaBytes: number | undefined;
    memoryBytes: number | undefined;
    unusedIndexMinDays: number;
  };
  backups: {
    workerUrl: string | undefined;
    dir: string;
    retentionDays: number;
    rpoMs: number;
    rtoSeconds: number;
    pgBinDir: string | undefined;
    s3: BucketSettings | undefined;
    /** age recipients archives are encrypted to; empty = archives in clear. */
    ageRecipients: string[];
    ageIdentity: string | undefined;
    ageIdentityFile: string | undefined;
    signingKey: string | undefined;
    previousSigningKeys: string[];
  };
  /** The deployment's public base URL, without a trailing slash. */
  publicUrl: string | undefined;
  /** The folders of the PATH, in order. */
  searchPath: string[];
  /** Running on Vercel's machines (VERCEL is set): its headers can be trusted. */
  onVercel: boolean;
}

export interface BucketSettings {
  bucket: string;
  /** Ends with "/" (or is empty). */
  prefix: string;
  endpoint: string | undefined;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
}

/** A variable missing or wrong: its message names the variable (for the log and the CLI); a caller is told only that the service is not configured. */
export class ConfigError extends PlatformError {
  override name = "ConfigError";
  constructor(message: string) {
    super("SERVICE_UNAVAILABLE", message);
  }

  override get publicMessage(): string {
    return "The service is not configured; see the server log";
  }
}

type Env = Record<string, string | undefined>;

/** Parses an environment into a Config, or throws one ConfigError naming every bad variable. */
export function parseConfig(env: Env): Config {
  const result = v.safeParse(schema, env);
  const problems = result.success ? crossProblems(result.output) : result.issues.map((issue) => `${v.getDotPath(issue) ?? ""} ${issue.message}`);
  if (!result.success || problems.length) throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  const e = result.output;
  const profile: PoolProfile = e.DB_POOL_PROFILE ?? (e.VERCEL ? "serverless" : "worker");
  const pool = DEFAULTS.pool[profile];
  const max = e.DB_POOL_MAX ?? e.DB_POOL_SIZE ?? pool.DB_POOL_MAX;
  const localDataDir = e.LOCAL_DATA_DIR ?? DEFAULTS.LOCAL_DATA_DIR;
  return {
    databaseUrl: e.DATABASE_URL,
    poolerUrl: e.SUPABASE_POOLER_URL,
    pool: {
      profile,
      min: Math.min(e.DB_POOL_MIN ?? pool.DB_POOL_MIN, max),
      max,
      connectionTimeoutMs: e.DB_CONNECTION_TIMEOUT ?? DEFAULTS.DB_CONNECTION_TIMEOUT,
      idleTimeoutMs: e.DB_IDLE_TIMEOUT ?? pool.DB_IDLE_TIMEOUT,
      maxLifetimeMs: e.DB_MAX_LIFETIME ?? pool.DB_MAX_LIFETIME,
      statementTimeoutMs: e.DB_STATEMENT_TIMEOUT ?? DEFAULTS.DB_STATEMENT_TIMEOUT,
      poolerPoolSize: e.DB_POOLER_POOL_SIZE,
    },
    supabase: {
      url: e.NEXT_PUBLIC_SUPABASE_URL,
      jwtSecret: e.SUPABASE_JWT_SECRET,
      jwksUrl:
        e.SUPABASE_JWKS_URL ?? (e.NEXT_PUBLIC_SUPABASE_URL ? new URL("/auth/v1/.well-known/jwks.json", e.NEXT_PUBLIC_SUPABASE_URL).toString() : undefined),
    },
    cursorSecret: e.CURSOR_SECRET ?? e.SUPABASE_JWT_SECRET,
    upstash: e.UPSTASH_REDIS_REST_URL && e.UPSTASH_REDIS_REST_TOKEN ? { url: e.UPSTASH_REDIS_REST_URL, token: e.UPSTASH_REDIS_REST_TOKEN } : undefined,
    cacheL1TtlMs: e.CACHE_L1_TTL_MS ?? DEFAULTS.CACHE_L1_TTL_MS,
    qstash: {
      url: e.QSTASH_URL ?? DEFAULTS.QSTASH_URL,
      token: e.QSTASH_TOKEN,
      currentSigningKey: e.QSTASH_CURRENT_SIGNING_KEY,
      nextSigningKey: e.QSTASH_NEXT_SIGNING_KEY,
    },
    cronSecret: e.CRON_SECRET,
    metricsToken: e.METRICS_TOKEN,
    adminToken: e.ADMIN_TOKEN,
    alerts: {
      webhookUrl: e.ALERT_WEBHOOK_URL,
      repeatMs: (e.ALERT_REPEAT_MINUTES ?? DEFAULTS.ALERT_REPEAT_MINUTES) * 60_000,
      massDeleteShare: e.ALERT_MASS_DELETE_SHARE ?? DEFAULTS.ALERT_MASS_DELETE_SHARE,
      retryDelaysMs: e.ALERT_RETRY_DELAYS_MS ?? DEFAULTS.ALERT_RETRY_DELAYS_MS,
    },
    port: e.PORT ?? DEFAULTS.PORT,
    host: e.HOST,
    localDataDir,
    localPgPort: e.LOCAL_PG_PORT ?? DEFAULTS.LOCAL_PG_PORT,
    stats: {
      queryRetentionDays: e.STATS_QUERY_RETENTION_DAYS ?? DEFAULTS.STATS_QUERY_RETENTION_DAYS,
      snapshotRetentionDays: e.STATS_SNAPSHOT_RETENTION_DAYS ?? DEFAULTS.STATS_SNAPSHOT_RETENTION_DAYS,
      deployId: e.VERCEL_GIT_COMMIT_SHA,
      sizeQuotaBytes: e.DB_SIZE_QUOTA_BYTES,
      memoryBytes: e.DB_MEMORY_BYTES,
      unusedIndexMinDays: e.UNUSED_INDEX_MIN_DAYS ?? DEFAULTS.UNUSED_INDEX_MIN_DAYS,
    },
    backups: {
      workerUrl: e.BACKUP_WORKER_URL,
      dir: e.BACKUP_DIR ?? `${localDataDir}/backups`,
      retentionDays: e.BACKUP_RETENTION_DAYS ?? DEFAULTS.BACKUP_RETENTION_DAYS,
      rpoMs: (e.BACKUP_RPO_HOURS ?? DEFAULTS.BACKUP_RPO_HOURS) * 3_600_000,
      rtoSeconds: (e.BACKUP_RTO_MINUTES ?? DEFAULTS.BACKUP_RTO_MINUTES) * 60,
      pgBinDir: e.PG_BIN_DIR,
      s3: e.BACKUP_S3_BUCKET
        ? {
            bucket: e.BACKUP_S3_BUCKET,
            prefix: withTrailingSlash(e.BACKUP_S3_PREFIX ?? DEFAULTS.BACKUP_S3_PREFIX),
            endpoint: e.BACKUP_S3_ENDPOINT,
            region: e.BACKUP_S3_REGION ?? DEFAULTS.BACKUP_S3_REGION,
            credentials:
              e.BACKUP_S3_ACCESS_KEY_ID && e.BACKUP_S3_SECRET_ACCESS_KEY
                ? { accessKeyId: e.BACKUP_S3_ACCESS_KEY_ID, secretAccessKey: e.BACKUP_S3_SECRET_ACCESS_KEY }
                : undefined,
            forcePathStyle: e.BACKUP_S3_FORCE_PATH_STYLE ?? Boolean(e.BACKUP_S3_ENDPOINT),
          }
        : undefined,
      ageRecipients: e.BACKUP_AGE_RECIPIENTS ?? [],
      ageIdentity: e.BACKUP_AGE_IDENTITY,
      ageIdentityFile: e.BACKUP_AGE_IDENTITY_FILE,
      signingKey: e.BACKUP_SIGNING_KEY,
      previousSigningKeys: e.BACKUP_PREVIOUS_SIGNING_KEYS ?? [],
    },
    publicUrl: (e.PUBLIC_URL ?? (e.VERCEL_PROJECT_PRODUCTION_URL ? `https://${e.VERCEL_PROJECT_PRODUCTION_URL}` : undefined))?.replace(/\/+$/, ""),
    searchPath: (e.PATH ?? "").split(":").filter(Boolean),
    onVercel: Boolean(e.VERCEL),
  };
}

function withTrailingSlash(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/**
 * Command-line entry points read `.env` from the working folder when there is one; values
 * already in the environment win. Functions on Vercel get their variables from the project.
 */
export function loadDotEnv(file = ".env"): void {
  if (!existsSync(file)) return;
  const shellValues = { ...process.env };
  process.loadEnvFile(file);
  Object.assign(process.env, shellValues);
}

let overrides: Env = {};
let current: Config | undefined;

/** The process's configuration, parsed on first use. */
export function config(): Config {
  current ??= parseConfig({ ...process.env, ...overrides });
  return current;
}

/**
 * Replaces variables for the rest of this process, before anything connects: the local
 * platform points DATABASE_URL at the embedded server it started, tests at their database.
 */
export function overrideConfig(values: Env): Config {
  overrides = { ...overrides, ...values };
  current = undefined;
  return config();
}
