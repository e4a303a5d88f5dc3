/**
 * monitoring/: the alert rules load (promtool check rules), each alert is unit-tested firing and
 * resolving (promtool test rules), and every expression of the rules and the Grafana dashboard
 * names only series the endpoint exports, read off a real scrape.
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse } from "yaml";
import { takeStatsSnapshot } from "../functions/stats-snapshot.js";
import { directDb } from "../lib/db/pool.js";
import { useConfig } from "./harness/config.js";
import { parsedExposition } from "./harness/exposition.js";
import { serve, type RunningServer } from "./harness/http.js";
import { commandAvailable } from "./harness/services.js";

const DIR = fileURLToPath(new URL("../monitoring/", import.meta.url));
const TOKEN = "metrics-token-0123456789abcdef";
const withPromtool = commandAvailable("promtool");
/** Published only where the server has replicas: no test server has one. */
const REPLICA_ONLY = ["pg_stat_replication_pg_current_wal_lsn_bytes", "pg_stat_replication_pg_wal_lsn_diff"];

const PROMQL_WORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"]);

/** The series a PromQL expression reads: strings, label matchers, ranges and grouping clauses taken out first. */
function seriesNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  return [...bare.matchAll(/(?<![\w$:.])[a-zA-Z_:][\w:]*/g)]
    .filter((m) => !/^\s*\(/.test(bare.slice((m.index ?? 0) + m[0].length)))
    .map((m) => m[0])
    .filter((word) => !PROMQL_WORDS.has(word));
}

interface RuleFile {
  groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
}
interface RuleTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; eval_time: string; exp_alerts: unknown[] }> }>;
}

async function ruleFile(): Promise<RuleFile> {
  return parse(await readFile(`${DIR}alerts.yml`, "utf8")) as RuleFile;
}

let server: RunningServer;
beforeAll(async () => {
  await useConfig({ METRICS_TOKEN: TOKEN });
  server = await serve();
});
afterAll(() => server.close());

describe.skipIf(!withPromtool)("the alert rules", () => {
  it("load, and pass their unit tests", () => {
    expect(execFileSync("promtool", ["check", "rules", `${DIR}alerts.yml`]).toString()).toContain("SUCCESS: 22 rules found");
    const tested = execFileSync("promtool", ["test", "rules", "alerts.test.yml", "alerts-recovery.test.yml"], { cwd: DIR }).toString();
    expect(tested.match(/SUCCESS/g)).toHaveLength(2);
  });

  it("test every alert quiet, firing, then resolved", async () => {
    const alerts = (await ruleFile()).groups.flatMap((g) => g.rules.map((r) => r.alert));
    const cases = await Promise.all(
      ["alerts.test.yml", "alerts-recovery.test.yml"].map(async (file) =>
        (parse(await readFile(`${DIR}${file}`, "utf8")) as RuleTests).tests.flatMap((t) => t.alert_rule_test ?? []),
      ),
    );
    const seconds = (time: string) =>
      [...time.matchAll(/(\d+)([dhms])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * { d: 86_400, h: 3600, m: 60, s: 1 }[unit as "d"], 0);
    for (const alert of alerts) {
      const checks = cases.flat().filter((c) => c.alertname === alert);
      const firing = checks.find((c) => c.exp_alerts.length > 0);
      expect(firing, `${alert} is tested firing`).toBeDefined();
      const at = seconds(firing?.eval_time ?? "0s");
      const quiet = checks.filter((c) => c.exp_alerts.length === 0).map((c) => seconds(c.eval_time));
      expect(
        quiet.some((t) => t < at),
        `${alert} is tested quiet before it fires`,
      ).toBe(true);
      expect(
        quiet.some((t) => t > at),
        `${alert} is tested resolved after it fires`,
      ).toBe(true);
    }
  });
});

describe("the rules and the dashboard", () => {
  it("name only series the endpoint exports", async () => {
    // Every optional series present: snapshots with a window and judgements, a backup, a drill, a slot.
    await takeStatsSnapshot({ at: new Date(Date.now() - 10 * 60_000) });
    await takeStatsSnapshot();
    await directDb()`
      insert into ops.threshold_results (snapshot_id, metric, value, status, target, alert_level)
      select max(id), m, 1, 'ok', 100, 500 from ops.db_stats_snapshots, unnest(array['statement_p95_ms', 'slow_queries_per_hour']) m
      group by m on conflict do nothing`;
    await directDb()`insert into ops.backups (finished_at, status, location, size_bytes, sha256) values (now(), 'succeeded', 'file:///b.dump', 1, ${"0".repeat(64)})`;
    await directDb()`insert into ops.dr_drills (status, finished_at, recovery_seconds, restored_bytes) values ('succeeded', now(), 1.5, 50000000)`;
    await directDb()`
      insert into ops.table_changes (snapshot_id, schema_name, table_name, inserted, updated, deleted, rows_before)
      select max(id), 'public', 'agents', 0, 0, 3, 10 from ops.db_stats_snapshots`;
    // Block reads for the cache hit ratio, flushed to the statistics (PostgreSQL 15 flushes a backend's at most once a second).
    await directDb()`select count(*) from agents`;
    await directDb()`select count(*) from conversation_messages`;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const slot = `gap_monitoring_slot_${process.pid}`;
    await directDb()`select pg_create_physical_replication_slot(${slot}, true)`;
    let body: string;
    try {
      body = await fetch(`${server.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
    } finally {
      await directDb()`select pg_drop_replication_slot(${slot})`;
    }
    const exported = new Set([...parsedExposition(body).keys(), ...REPLICA_ONLY]);
    if (inject("embedded")) expect(exported).toContain("pg_stat_statements_seconds_total");

    const rules = (await ruleFile()).groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
    const dashboard = JSON.parse(await readFile(`${DIR}grafana-dashboard.json`, "utf8")) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
      templating: { list: Array<{ name: string; query: string }> };
    };
    const panels = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel ${p.title}`, expr: t.expr })));
    const variables = dashboard.templating.list
      .filter((v) => v.query.startsWith("label_values("))
      .map((v) => ({ where: `variable ${v.name}`, expr: v.query.replace(/^label_values\((.*),\s*\w+\)$/, "$1") }));
    expect(panels.length).toBeGreaterThan(20);
    for (const { where, expr } of [...rules, ...panels, ...variables]) {
      const names = seriesNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${where} reads ${name}`).toContain(name);
    }
  });
});
