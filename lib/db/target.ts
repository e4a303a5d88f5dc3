/**
 * Where a connection URL points and how to talk to it. A transaction-mode pooler
 * (Supavisor or PgBouncer on port 6543, or a URL marked `?pgbouncer=true`) hands each
 * transaction to any server connection, so named prepared statements must be off.
 */
export interface ConnectionTarget {
  /** The URL to give postgres.js, without our own `pgbouncer` marker. */
  url: string;
  transactionPooler: boolean;
}

const TRANSACTION_POOLER_PORT = "6543";

export function connectionTarget(rawUrl: string): ConnectionTarget {
  const url = new URL(rawUrl);
  const marked = url.searchParams.get("pgbouncer") === "true";
  url.searchParams.delete("pgbouncer");
  return { url: url.toString(), transactionPooler: marked || url.port === TRANSACTION_POOLER_PORT };
}

/** The URL with its password masked, for logs and messages. */
export function redactedUrl(rawUrl: string): string {
  const url = new URL(rawUrl);
  if (url.password) url.password = "***";
  return url.toString();
}
