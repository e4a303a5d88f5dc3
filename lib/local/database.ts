/**
 * The database `npm start` runs when DATABASE_URL is unset: an embedded PostgreSQL on
 * LOCAL_PG_PORT, its superuser password kept in LOCAL_DATA_DIR/pg-password. The db:* commands
 * use it by themselves when DATABASE_URL is unset, so a newcomer never copies the password.
 */
import { config } from "../config.js";
import { keptLocalSecret } from "./secrets.js";

/** The embedded server's superuser, and the file its password is kept in. */
export const LOCAL_PG_USER = "postgres";
export const LOCAL_PG_PASSWORD_FILE = "pg-password";

/** The URL of the embedded server on `port` with `password`. */
export function localPgUrl(port: number, password: string): string {
  return `postgres://${LOCAL_PG_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/** The local platform's database URL, when `npm start` has made one here (its password is kept), else undefined. */
export async function localPlatformDatabaseUrl(): Promise<string | undefined> {
  const password = await keptLocalSecret(LOCAL_PG_PASSWORD_FILE);
  return password ? localPgUrl(config().localPgPort, password) : undefined;
}
