import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadDotEnv, parseConfig } from "../../lib/config.js";
import { testTempDir } from "../harness/temp.js";

const BASE = { DATABASE_URL: "postgres://u:p@db.example.com:5432/postgres" };

function problemWith(env: Record<string, string>): string {
  try {
    parseConfig({ ...BASE, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("reads a complete environment into typed values", () => {
    const cfg = parseConfig({
      ...BASE,
      SUPABASE_POOLER_URL: "postgresql://u:p@pooler.example.com:6543/postgres",
      DB_POOL_MIN: "2",
      DB_POOL_MAX: "8",
      DB_CONNECTION_TIMEOUT: "3000",
      DB_IDLE_TIMEOUT: "15000",
      DB_MAX_LIFETIME: "600000",
      UPSTASH_REDIS_REST_URL: "https://eu1.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "token",
      PORT: "4000",
    });
    expect(cfg.pool).toEqual({
      profile: "worker",
      min: 2,
      max: 8,
      connectionTimeoutMs: 3000,
      idleTimeoutMs: 15000,
      maxLifetimeMs: 600000,
      statementTimeoutMs: 15000,
    });
    expect(cfg.upstash).toEqual({ url: "https://eu1.upstash.io", token: "token" });
    expect(cfg.port).toBe(4000);
  });

  it("treats empty strings as unset and applies defaults", () => {
    const cfg = parseConfig({ DATABASE_URL: "", PORT: "", DB_POOL_MAX: "" });
    expect(cfg.databaseUrl).toBeUndefined();
    expect(cfg.port).toBe(3000);
    expect(cfg.pool).toEqual({
      profile: "worker",
      min: 10,
      max: 20,
      connectionTimeoutMs: 5000,
      idleTimeoutMs: 60_000,
      maxLifetimeMs: 1_800_000,
      statementTimeoutMs: 15_000,
    });
  });

  it("picks the serverless profile on Vercel and lets DB_POOL_PROFILE override it", () => {
    expect(parseConfig({ VERCEL: "1" }).pool.profile).toBe("serverless");
    expect(parseConfig({}).pool.profile).toBe("worker");
    expect(parseConfig({ VERCEL: "1", DB_POOL_PROFILE: "worker" }).pool.profile).toBe("worker");
  });

  it("takes DB_POOL_SIZE as the maximum unless DB_POOL_MAX is set", () => {
    expect(parseConfig({ DB_POOL_SIZE: "7" }).pool.max).toBe(7);
    expect(parseConfig({ DB_POOL_SIZE: "7", DB_POOL_MAX: "9" }).pool.max).toBe(9);
  });

  it.each([
    [{ DATABASE_URL: "mysql://u:p@h/db" }, "DATABASE_URL must be a postgres:// or postgresql:// URL"],
    [{ DATABASE_URL: "not a url" }, "DATABASE_URL must be a postgres:// or postgresql:// URL"],
    [{ SUPABASE_POOLER_URL: "https://pooler" }, "SUPABASE_POOLER_URL must be a postgres://"],
    [{ DB_POOL_MIN: "5", DB_POOL_MAX: "2" }, "DB_POOL_MAX (2) must not be below DB_POOL_MIN (5)"],
    [{ DB_POOL_MIN: "5", DB_POOL_SIZE: "2" }, "DB_POOL_SIZE (2) must not be below DB_POOL_MIN (5)"],
    [{ DB_POOL_MAX: "0" }, "DB_POOL_MAX must be between 1 and 1000 connections"],
    [{ DB_POOL_MAX: "ten" }, "DB_POOL_MAX must be a whole number of connections"],
    [{ DB_POOL_SIZE: "-1" }, "DB_POOL_SIZE must be a whole number of connections"],
    [{ DB_CONNECTION_TIMEOUT: "5s" }, "DB_CONNECTION_TIMEOUT must be a whole number of milliseconds"],
    [{ DB_IDLE_TIMEOUT: "1.5" }, "DB_IDLE_TIMEOUT must be a whole number of milliseconds"],
    [{ ALERT_RETRY_DELAYS_MS: "1s,2s" }, "ALERT_RETRY_DELAYS_MS must be up to 5 waits in milliseconds (at most 99999 each), separated by commas"],
    [{ ALERT_RETRY_DELAYS_MS: "1,2,3,4,5,6" }, "ALERT_RETRY_DELAYS_MS must be up to 5 waits in milliseconds (at most 99999 each), separated by commas"],
    [{ DB_MAX_LIFETIME: "abc" }, "DB_MAX_LIFETIME must be a whole number of milliseconds"],
    [{ DB_STATEMENT_TIMEOUT: "10" }, "DB_STATEMENT_TIMEOUT must be between 100 and 3600000 milliseconds"],
    [{ DB_POOL_PROFILE: "huge" }, "DB_POOL_PROFILE"],
    [{ NEXT_PUBLIC_SUPABASE_URL: "ftp://x" }, "NEXT_PUBLIC_SUPABASE_URL must be an http:// or https:// URL"],
    [{ UPSTASH_REDIS_REST_URL: "https://x.upstash.io" }, "UPSTASH_REDIS_REST_TOKEN must be set together"],
    [{ UPSTASH_REDIS_REST_TOKEN: "t" }, "UPSTASH_REDIS_REST_URL must be set together"],
    [{ SUPABASE_JWT_SECRET: "short" }, "SUPABASE_JWT_SECRET must be at least 16 characters"],
    [{ CRON_SECRET: "short" }, "CRON_SECRET must be at least 16 characters"],
    [{ METRICS_TOKEN: "short" }, "METRICS_TOKEN must be at least 16 characters"],
    [{ ALERT_WEBHOOK_URL: "hooks" }, "ALERT_WEBHOOK_URL must be an http:// or https:// URL"],
    [{ PORT: "70000" }, "PORT must be between 0 and 65535"],
    [{ LOCAL_PG_PORT: "0" }, "LOCAL_PG_PORT must be between 1 and 65535"],
    [{ BACKUP_S3_PREFIX: "x/" }, "BACKUP_S3_PREFIX is set but BACKUP_S3_BUCKET is not"],
    [{ BACKUP_S3_BUCKET: "Bad_Bucket" }, "BACKUP_S3_BUCKET must be a bucket name"],
    [{ BACKUP_S3_BUCKET: "backups" }, "BACKUP_S3_REGION must be set for AWS S3 (or set BACKUP_S3_ENDPOINT for another store)"],
    [{ BACKUP_S3_BUCKET: "backups", BACKUP_S3_REGION: "eu-west-1", BACKUP_S3_ACCESS_KEY_ID: "AKIA" }, "BACKUP_S3_SECRET_ACCESS_KEY must be set together"],
    [{ BACKUP_S3_BUCKET: "backups", BACKUP_S3_ENDPOINT: "minio:9000" }, "BACKUP_S3_ENDPOINT must be an http:// or https:// URL"],
    [{ BACKUP_S3_BUCKET: "backups", BACKUP_S3_REGION: "eu-west-1", BACKUP_S3_FORCE_PATH_STYLE: "yes" }, "BACKUP_S3_FORCE_PATH_STYLE must be true or false"],
    [{ BACKUP_S3_BUCKET: "backups", BACKUP_S3_REGION: "eu-west-1", BACKUP_S3_PREFIX: "/root" }, "BACKUP_S3_PREFIX must be an object key prefix"],
    [{ BACKUP_AGE_RECIPIENTS: "ssh-ed25519 AAAA" }, "BACKUP_AGE_RECIPIENTS must be one or more age public keys"],
    [{ BACKUP_AGE_IDENTITY: "age1notasecret" }, "BACKUP_AGE_IDENTITY must be an age secret key (AGE-SECRET-KEY-1...)"],
    [
      { BACKUP_AGE_IDENTITY: `AGE-SECRET-KEY-1${"Q".repeat(58)}`, BACKUP_AGE_IDENTITY_FILE: "key.txt" },
      "BACKUP_AGE_IDENTITY_FILE must not be set together with BACKUP_AGE_IDENTITY",
    ],
    [{ BACKUP_SIGNING_KEY: "too-short-0123456789" }, "BACKUP_SIGNING_KEY must be at least 32 characters"],
    [{ PUBLIC_URL: "example.com" }, "PUBLIC_URL must be an http:// or https:// URL"],
  ])("rejects %j with a line naming the variable", (env, expected) => {
    const message = problemWith(env);
    expect(message).toContain(expected);
    expect(message).not.toContain("\n");
  });

  it("reports every bad variable at once, without echoing values", () => {
    const message = problemWith({ DATABASE_URL: "mysql://user:hunter2@h/db", DB_POOL_MAX: "x", PORT: "y" });
    expect(message).toMatch(/DATABASE_URL.*DB_POOL_MAX.*PORT/);
    expect(message).not.toContain("hunter2");
  });

  it("names every bad bucket variable in one line, secrets not echoed", () => {
    const message = problemWith({ BACKUP_S3_PREFIX: "x/", BACKUP_S3_ACCESS_KEY_ID: "AKIA", BACKUP_S3_SECRET_ACCESS_KEY: "s3cr3t-value" });
    expect(message).toBe(
      "Invalid configuration: BACKUP_S3_PREFIX is set but BACKUP_S3_BUCKET is not; BACKUP_S3_ACCESS_KEY_ID is set but BACKUP_S3_BUCKET is not; BACKUP_S3_SECRET_ACCESS_KEY is set but BACKUP_S3_BUCKET is not",
    );
  });

  it("reads the bucket, encryption and signing settings", () => {
    const recipient = `age1${"q".repeat(58)}`;
    const cfg = parseConfig({
      BACKUP_S3_BUCKET: "gap-backups",
      BACKUP_S3_ENDPOINT: "https://abc.r2.cloudflarestorage.com",
      BACKUP_S3_ACCESS_KEY_ID: "key",
      BACKUP_S3_SECRET_ACCESS_KEY: "secret",
      BACKUP_S3_PREFIX: "prod",
      BACKUP_AGE_RECIPIENTS: `${recipient}, ${recipient.replace(/q$/, "p")}`,
      BACKUP_SIGNING_KEY: "k".repeat(32),
      VERCEL_PROJECT_PRODUCTION_URL: "gap.example.com",
    });
    expect(cfg.backups.s3).toEqual({
      bucket: "gap-backups",
      prefix: "prod/",
      endpoint: "https://abc.r2.cloudflarestorage.com",
      region: "us-east-1",
      credentials: { accessKeyId: "key", secretAccessKey: "secret" },
      forcePathStyle: true,
    });
    expect(cfg.backups.ageRecipients).toHaveLength(2);
    expect(cfg.publicUrl).toBe("https://gap.example.com");
    expect(parseConfig({ BACKUP_S3_BUCKET: "b-aws", BACKUP_S3_REGION: "eu-west-1" }).backups.s3).toMatchObject({
      prefix: "backups/",
      forcePathStyle: false,
      credentials: undefined,
    });
    expect(parseConfig({ PUBLIC_URL: "https://x.example.com/", VERCEL_PROJECT_PRODUCTION_URL: "y.example.com" }).publicUrl).toBe("https://x.example.com");
  });

  it("lists every variable it knows for .env.example", () => {
    expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(["DATABASE_URL", "SUPABASE_POOLER_URL", "QSTASH_NEXT_SIGNING_KEY", "PORT"]));
  });
});

describe("loadDotEnv", () => {
  const names = ["GAP_TEST_FROM_FILE", "GAP_TEST_FROM_SHELL"];
  afterEach(() => {
    for (const name of names) delete process.env[name];
  });

  it("reads .env into the environment, with values already set in the shell winning", async () => {
    const file = path.join(await testTempDir("gap-env-"), ".env");
    await writeFile(file, "GAP_TEST_FROM_FILE=file\nGAP_TEST_FROM_SHELL=file\n");
    process.env.GAP_TEST_FROM_SHELL = "shell";
    loadDotEnv(file);
    expect(process.env.GAP_TEST_FROM_FILE).toBe("file");
    expect(process.env.GAP_TEST_FROM_SHELL).toBe("shell");
  });

  it("does nothing without a file", () => {
    expect(() => loadDotEnv("/nonexistent/.env")).not.toThrow();
  });
});
