/**
 * The real postgres_exporter (Debian's prometheus-postgres-exporter) against a test database,
 * with extra queries: the Debian example's pg_stat_user_tables and pg_statio_user_tables, and
 * pg_stat_statements under the modern collector's names with PostgreSQL 15's columns.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { freePort, portAnswers, sharedTempDir } from "./net.js";

export const EXPORTER = "prometheus-postgres-exporter";
const DEBIAN_EXAMPLE = "/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml";

const STATEMENTS_QUERY = `
pg_stat_statements:
  query: "SELECT pg_get_userbyid(s.userid) AS user, d.datname, s.queryid::text AS queryid, sum(s.calls) AS calls_total, sum(s.total_exec_time) / 1000.0 AS seconds_total, sum(s.rows) AS rows_total, sum(s.blk_read_time) / 1000.0 AS block_read_seconds_total, sum(s.blk_write_time) / 1000.0 AS block_write_seconds_total FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE s.queryid IS NOT NULL GROUP BY s.userid, d.datname, s.queryid ORDER BY sum(s.total_exec_time) DESC LIMIT 50"
  master: true
  metrics:
    - user:
        usage: "LABEL"
    - datname:
        usage: "LABEL"
    - queryid:
        usage: "LABEL"
    - calls_total:
        usage: "COUNTER"
    - seconds_total:
        usage: "COUNTER"
    - rows_total:
        usage: "COUNTER"
    - block_read_seconds_total:
        usage: "COUNTER"
    - block_write_seconds_total:
        usage: "COUNTER"
`;

export interface RunningExporter {
  url: string;
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

/** The Debian example's queries without its pg_stat_statements (pre-13 columns), plus ours. */
async function queriesFile(dir: string): Promise<string> {
  const example = await readFile(DEBIAN_EXAMPLE, "utf8");
  const withoutStatements = example.replace(/\n# WARNING[^\n]*\npg_stat_statements:[\s\S]*?(?=\n\S)/, "\n");
  const file = path.join(dir, "queries.yaml");
  await writeFile(file, `${withoutStatements}\n${STATEMENTS_QUERY}`);
  return file;
}

export async function startPostgresExporter(databaseUrl: string): Promise<RunningExporter> {
  const dir = await sharedTempDir("gap-exporter-");
  const port = await freePort();
  const dsn = new URL(databaseUrl);
  dsn.searchParams.set("sslmode", "disable");
  const child: ChildProcess = spawn(
    EXPORTER,
    [`--web.listen-address=127.0.0.1:${port}`, `--extend.query-path=${await queriesFile(dir)}`, "--log.level=error"],
    {
      env: { DATA_SOURCE_NAME: dsn.toString() },
      stdio: "ignore",
    },
  );
  for (let i = 0; i < 100 && !(await portAnswers(port)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  const url = `http://127.0.0.1:${port}/metrics`;
  return {
    url,
    scrape: () => fetch(url).then((response) => response.text()),
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
