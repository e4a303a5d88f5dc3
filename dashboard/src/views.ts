/** The dashboard's views, each drawn into the page's main region from one /api/ops answer. */
import { getJson, sendJson } from "./api.js";
import { sparkline, timeChart, type Marker } from "./charts.js";
import { badge, h, runnable, section, table } from "./dom.js";
import * as f from "./format.js";
import type {
  Activity,
  AlertEvent,
  BackupsView,
  ConnectionsView,
  Deploy,
  Finding,
  FindingsView,
  ModeState,
  Overview,
  RelationView,
  TuneView,
  SpaceView,
  StatementsView,
  StatementView,
  Window,
} from "./types.js";
import { CHECK_TITLES, SEVERITIES } from "./types.js";

export interface ViewContext {
  window: Window;
  /** Redraws the current view (after a change). */
  refresh(): void;
  /** Asks a person to confirm; true when they did. */
  confirm(message: string): Promise<boolean>;
  /** Runs `work` every `ms` while the view stays open. */
  every(ms: number, work: () => Promise<void>): void;
}

const WINDOW_SECONDS: Record<Window, number> = { "1h": 3600, "24h": 86_400, "7d": 604_800, "14d": 1_209_600 };

function rangeOf(window: Window): [number, number] {
  const now = Date.now() / 1000;
  return [now - WINDOW_SECONDS[window], now];
}

/** A time in a table cell, kept on one line. */
const at = (value: string | number | null | undefined) => h("span", { class: "time" }, f.time(value));

const deployMarkers = (deploys: Deploy[]): Marker[] => deploys.map((d) => ({ at: d.at, label: `deploy ${d.deployId.slice(0, 7)}` }));

const METRIC_TITLES: Record<string, string> = {
  statement_p95_ms: "Statement time, p95",
  connection_pool_usage_ratio: "Connection slots in use (server-wide)",
  active_connections: "Active connections",
  slow_queries_per_hour: "Slow queries per hour",
  lock_wait_ms: "Longest lock wait",
};

function recoveryLine(point: Overview["recoveryPoint"]): HTMLElement {
  return h(
    "p",
    {},
    "Recovery point: ",
    badge(point.status),
    ` newest backup ${f.duration(point.ageSeconds)} old (objective ${f.duration(point.rpoSeconds)})`,
    point.newestBackupAt ? `, finished ${f.time(point.newestBackupAt)}` : ", none yet",
  );
}

function recoveryTimeLine(time: BackupsView["recoveryTime"]): HTMLElement {
  if (time.status === "unmeasured") {
    return h("p", {}, "Recovery time: ", badge("warn"), ` not measured yet: the next drill measures it (objective ${f.duration(time.rtoSeconds)})`);
  }
  return h(
    "p",
    {},
    "Recovery time: ",
    badge(time.status === "ok" ? "ok" : "alert"),
    ` about ${f.duration(time.projectedSeconds)} for the database's ${f.bytes(time.databaseBytes)} today (objective ${f.duration(time.rtoSeconds)})`,
    `, at the ${f.bytes(time.throughputBytesPerSecond)}/s the drill of ${f.time(time.drilledAt)} restored`,
    time.status === "over" ? " — past the objective: restore faster (a larger worker, a closer bucket) or split the data" : "",
  );
}

function drillLine(drills: Overview["drills"]): HTMLElement {
  const { newest, newestSucceeded } = drills;
  if (!newest) {
    return h(
      "p",
      {},
      "Disaster-recovery drill: ",
      badge("warn"),
      " none yet: the recovery time is unmeasured, and GapDrillAbsent fires after 8 days without one (npm run db:drill runs one now; the weekly drill runs Sundays 04:00 UTC)",
    );
  }
  return h(
    "p",
    {},
    "Disaster-recovery drill: ",
    badge(newest.status === "succeeded" ? "ok" : newest.status === "failed" ? "alert" : "warn"),
    ` newest ${newest.status} ${f.time(newest.startedAt)}`,
    newestSucceeded ? `; newest recovery measured ${f.duration(newestSucceeded.recoverySeconds)} (${f.time(newestSucceeded.finishedAt)})` : "",
    newest.error ? ` — ${newest.error}` : "",
  );
}

/** Whether the stats snapshots still come: the whole dashboard reads them, and on Vercel their schedule is set up apart from the deploy. */
function snapshotLine(snapshots: Overview["snapshots"]): HTMLElement {
  const notRunning = "the stats-snapshot schedule is not running (on Vercel: npm run jobs:schedules -- --apply)";
  if (snapshots.status === "none") return h("p", {}, "Stats snapshots: ", badge("warn"), ` none yet: ${notRunning}`);
  return h(
    "p",
    {},
    "Stats snapshots: ",
    badge(snapshots.status === "ok" ? "ok" : "alert"),
    ` newest ${f.duration(snapshots.ageSeconds)} old, taken ${f.time(snapshots.takenAt)}`,
    snapshots.status === "stale" ? ` — every figure here is that old: ${notRunning}` : "",
  );
}

/** How an alert message went: delivered (to the webhook, to QStash, or only to the log), being retried, or given up, with why. */
function deliveryText(alert: AlertEvent): HTMLElement {
  const words: Record<AlertEvent["delivery"], [string, string]> = {
    sent: ["ok", "sent"],
    queued: ["ok", "handed to QStash, which retries it"],
    logged: ["ok", "logged (no ALERT_WEBHOOK_URL)"],
    retrying: ["warn", "not yet: the next run sends it again"],
    undelivered: ["alert", "undelivered"],
  };
  const [status, text] = words[alert.delivery];
  return h("span", {}, badge(status), ` ${text}${alert.deliveryReason ? `: ${alert.deliveryReason}` : ""}`);
}

function modeLine(mode: ModeState): HTMLElement {
  return h(
    "p",
    {},
    "Platform mode: ",
    badge(mode.mode === "normal" ? "ok" : "warn"),
    ` ${mode.mode}`,
    mode.reason ? ` (${mode.reason})` : "",
    mode.since ? `, since ${f.time(mode.since)}` : "",
  );
}

export async function overviewView(main: HTMLElement, ctx: ViewContext): Promise<void> {
  const data = await getJson<Overview>(`/api/ops/overview?window=${ctx.window}`);
  const status = section("Status", modeLine(data.mode), snapshotLine(data.snapshots), recoveryLine(data.recoveryPoint), drillLine(data.drills));
  const metrics = section(
    "Target Metrics now",
    table("Each metric as the newest stats snapshot judged it", data.targetMetrics, [
      { label: "Metric", value: (m) => METRIC_TITLES[m.metric] ?? m.metric },
      { label: "Now", value: (m) => f.metricValue(m.now?.value, m.unit), numeric: true },
      { label: "Target", value: (m) => f.metricValue(m.target, m.unit), numeric: true },
      { label: "Alert level", value: (m) => f.metricValue(m.alertLevel, m.unit), numeric: true },
      { label: "Status", value: (m) => (m.now ? badge(m.now.status) : "no data yet") },
    ]),
  );
  const charts = section("Target Metrics over the window");
  const alerts = section(
    "Alerts",
    table("Firing now", data.alerts.firing, [
      { label: "Alert", value: (a) => a.key },
      { label: "Since", value: (a) => at(a.since) },
      { label: "Summary", value: (a) => a.summary },
    ]),
    table("Messages in the window", data.alerts.history, [
      { label: "At", value: (a) => at(a.at) },
      { label: "Alert", value: (a) => a.key },
      { label: "Status", value: (a) => badge(a.status === "firing" ? "alert" : "ok") },
      { label: "Summary", value: (a) => a.summary },
      { label: "Delivery", value: (a) => deliveryText(a) },
    ]),
  );
  main.append(status, metrics, charts, alerts);
  for (const metric of data.targetMetrics) {
    const format = (v: number) => f.metricValue(v, metric.unit);
    timeChart(charts, {
      title: METRIC_TITLES[metric.metric] ?? metric.metric,
      axisFormat: metric.unit === "ratio" ? f.percent : metric.unit === "ms" ? f.ms : f.count,
      t: data.series.t,
      lines: [{ label: "value", values: data.series.values[metric.metric] ?? data.series.t.map(() => null) }],
      levels: [
        { label: "target", value: metric.target, kind: "target" },
        { label: "alert", value: metric.alertLevel, kind: "alert" },
      ],
      markers: deployMarkers(data.deploys),
      format,
      range: rangeOf(ctx.window),
    });
  }
}

/** A wait event in words, with PostgreSQL's own name after it for searching. */
function waitEventCell(event: string | null): HTMLElement | string {
  if (!event) return "–";
  return h("span", { title: event }, f.waitEvent(event), " ", h("small", { class: "raw" }, `(${event})`));
}

function statementLink(s: { queryId: string; query: string }): HTMLElement {
  return h("a", { href: `#/queries/${s.queryId}`, class: "statement-link" }, s.query.length > 120 ? `${s.query.slice(0, 120)}…` : s.query);
}

type Sort = "total" | "mean" | "calls";

interface QueriesState {
  sort: Sort;
  limit: "20" | "100" | "all";
  q: string;
  platform: "show" | "hide";
}

/** The Queries view's choices, kept in the URL after the window: #/queries?window=7d&sort=mean&q=agents. */
function queriesState(): QueriesState {
  const params = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const sort = params.get("sort");
  const limit = params.get("limit");
  return {
    sort: sort === "mean" || sort === "calls" ? sort : "total",
    limit: limit === "100" || limit === "all" ? limit : "20",
    q: (params.get("q") ?? "").slice(0, 200),
    platform: params.get("platform") === "hide" ? "hide" : "show",
  };
}

function queriesHref(window: Window, state: QueriesState): string {
  const params = new URLSearchParams({ window, sort: state.sort, limit: state.limit, platform: state.platform });
  if (state.q) params.set("q", state.q);
  return `#/queries?${params.toString()}`;
}

const SORT_TITLES: Record<Sort, string> = { total: "Total time", mean: "Mean", calls: "Calls" };

/** A column heading that sorts the list by it (the current one marked). */
function sortHeading(window: Window, state: QueriesState, sort: Sort): HTMLElement {
  const current = state.sort === sort;
  return h(
    "a",
    {
      href: queriesHref(window, { ...state, sort }),
      class: "sort",
      "aria-current": current ? "true" : undefined,
      title: `Sort by ${SORT_TITLES[sort].toLowerCase()}`,
    },
    SORT_TITLES[sort],
    current ? " ▼" : "",
  );
}

function queriesForm(window: Window, state: QueriesState): HTMLElement {
  const search = h("input", { id: "queries-search", name: "q", type: "search", value: state.q, maxlength: 200, placeholder: "table, column, text…" });
  const limit = h(
    "select",
    { id: "queries-limit", name: "limit" },
    ...(["20", "100", "all"] as const).map((n) => h("option", { value: n, selected: n === state.limit }, n === "all" ? "all" : `top ${n}`)),
  );
  const hide = h("input", { id: "queries-hide", name: "platform", type: "checkbox", checked: state.platform === "hide" });
  const apply = () => {
    location.hash = queriesHref(window, {
      ...state,
      q: search.value.trim(),
      limit: limit.value as QueriesState["limit"],
      platform: hide.checked ? "hide" : "show",
    });
  };
  limit.addEventListener("change", apply);
  hide.addEventListener("change", apply);
  return h(
    "form",
    {
      class: "queries-form",
      role: "search",
      onsubmit: (event: Event) => {
        event.preventDefault();
        apply();
      },
    },
    h("label", { for: "queries-search" }, "Search "),
    search,
    h("button", { type: "submit" }, "Search"),
    h("label", { for: "queries-limit" }, " Show "),
    limit,
    h("label", { class: "check" }, hide, " hide the platform's own (ops.*)"),
  );
}

export async function queriesView(main: HTMLElement, ctx: ViewContext): Promise<void> {
  const state = queriesState();
  const query = new URLSearchParams({ window: ctx.window, sort: state.sort, limit: state.limit, platform: state.platform });
  if (state.q) query.set("q", state.q);
  const data = await getJson<StatementsView>(`/api/ops/statements?${query.toString()}`);
  const { t, values } = data.sparklines;
  const line = (id: string): Array<number | null> => {
    const calls = values[`calls:${id}`] ?? [];
    const mean = values[`meanMs:${id}`] ?? [];
    if (state.sort === "calls") return calls;
    if (state.sort === "mean") return mean;
    return calls.map((c, i) => (c === null || mean[i] === null || mean[i] === undefined ? null : c * mean[i]));
  };
  const listed = data.statements.length;
  const caption =
    `${f.count(data.matched)} statement${data.matched === 1 ? "" : "s"} in database ${data.database} over the window` +
    (state.q ? ` matching "${state.q}"` : "") +
    (state.platform === "hide" ? ", the platform's own left out" : "") +
    (listed < data.matched ? `; the first ${f.count(listed)} by ${SORT_TITLES[state.sort].toLowerCase()}` : "") +
    (state.sort === "mean" ? " (called 10 times or more)" : "");
  main.append(
    section(
      "Statements",
      queriesForm(ctx.window, state),
      table(
        caption,
        data.statements,
        [
          { label: "Statement", value: (s) => statementLink(s) },
          { label: "Roles", value: (s) => (s.roles.length ? s.roles.join(", ") : "–") },
          { label: "Database", value: () => data.database },
          { label: "Calls", header: sortHeading(ctx.window, state, "calls"), value: (s) => f.count(s.calls), numeric: true },
          { label: "Total time", header: sortHeading(ctx.window, state, "total"), value: (s) => f.ms(s.totalMs), numeric: true },
          { label: "Mean", header: sortHeading(ctx.window, state, "mean"), value: (s) => f.ms(s.meanMs), numeric: true },
          { label: "Share of all time", value: (s) => f.percent(s.shareOfTotal), numeric: true },
          {
            label: `${SORT_TITLES[state.sort]} over the window`,
            value: (s) => (values[`calls:${s.queryId}`] ? sparkline(t, line(s.queryId), `${state.sort} of the statement over the window`) : ""),
          },
        ],
        state.q ? "none matches" : "none in this window",
      ),
    ),
  );
}

function tablesSection(tables: StatementView["tables"]): HTMLElement {
  if (!tables.length)
    return section("Tables it reads", h("p", { class: "empty" }, "none found: its text names no table of this database (or could not be read)"));
  return section(
    "Tables it reads",
    ...tables.map((t) =>
      h(
        "div",
        { class: "read-table" },
        h("h3", {}, `${t.table} (${t.kind})`),
        h("p", {}, `${f.bytes(t.sizeBytes)}; ${f.bytes(t.totalBytes)} with its indexes and TOAST; about ${f.count(t.estimatedRows)} rows`),
        table(`Indexes of ${t.table}`, t.indexes, [
          { label: "Index", value: (i) => i.name },
          { label: "Definition", value: (i) => h("code", {}, i.definition) },
          { label: "Size", value: (i) => f.bytes(i.sizeBytes), numeric: true },
          { label: "Scans", value: (i) => f.count(i.scans), numeric: true },
        ]),
      ),
    ),
  );
}

interface ExplainAnswer {
  ran: boolean;
  plan?: string;
  readOnly?: boolean;
  reason?: string;
  needsConfirmation?: boolean;
}

/** EXPLAIN ANALYZE with the values the operator types for $1 … $n; a statement that writes asks first (it is rolled back either way). */
function explainSection(ctx: ViewContext, data: StatementView): HTMLElement {
  const intro = "Runs the statement for real with the values below, as the platform's role, inside a transaction that is rolled back, for at most 10 s.";
  if (!data.run) return section("EXPLAIN ANALYZE", h("p", { class: "note" }, "Its stored text cannot be parsed (cut short?): nothing to run."));
  const inputs = Array.from({ length: data.run.parameters }, (_, i) =>
    h("input", { id: `explain-param-${i + 1}`, name: `p${i + 1}`, type: "text", placeholder: `$${i + 1}`, "aria-label": `value of $${i + 1}` }),
  );
  const result = h("div", { id: "explain-result", "aria-live": "polite" });
  const show = (answer: ExplainAnswer) => {
    result.replaceChildren(
      answer.ran ? h("pre", { class: "plan" }, h("code", {}, answer.plan ?? "")) : h("p", { class: "problem" }, answer.reason ?? "not run"),
    );
    if (answer.ran && !answer.readOnly) result.append(h("p", { class: "note" }, "It wrote, and was rolled back: nothing it did remains."));
  };
  const run = async (confirm: boolean): Promise<void> => {
    result.replaceChildren(h("p", { class: "loading" }, "Running…"));
    const answer = await sendJson<ExplainAnswer>("POST", `/api/ops/statements/${encodeURIComponent(data.statement.queryId)}/explain`, {
      params: inputs.map((input) => input.value),
      confirm,
    });
    if (!answer.ran && answer.needsConfirmation && !confirm) {
      if (await ctx.confirm(answer.reason ?? "Run it?")) return run(true);
      result.replaceChildren(h("p", { class: "note" }, "Not run."));
      return;
    }
    show(answer);
  };
  const form = h(
    "form",
    {
      class: "explain-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void run(false);
      },
    },
    ...inputs.flatMap((input, i) => [h("label", { for: input.id }, `$${i + 1}`), input]),
    h("button", { type: "submit" }, "Run EXPLAIN ANALYZE"),
  );
  return section(
    "EXPLAIN ANALYZE",
    h(
      "p",
      { class: "note" },
      intro,
      data.run.writes ? ` It is not a plain SELECT (${data.run.writes}): you will be asked to confirm.` : " It is a SELECT: it runs read-only.",
    ),
    form,
    result,
  );
}

/** Each plan change the snapshots caught: when, the verdict, and both plans side by side. */
function planChangesSection(changes: StatementView["planChanges"]): HTMLElement {
  if (!changes.length) return section("Plan changes", h("p", { class: "empty" }, "The snapshots saw no change of its plan in the window."));
  return section(
    "Plan changes",
    ...changes.map((c) =>
      h(
        "div",
        { class: "plan-change" },
        h(
          "p",
          {},
          c.regression ? badge("regression") : badge("ok"),
          " ",
          at(c.at),
          `: plan changed from ${c.from} to ${c.to}; mean ${f.ms(c.meanMsBefore)} before (${f.count(c.callsBefore)} calls), ${f.ms(c.meanMsAfter)} after (${f.count(c.callsAfter)} calls)`,
        ),
        h(
          "div",
          { class: "side-by-side" },
          h("div", {}, h("h4", {}, "Before"), h("pre", { class: "plan" }, h("code", {}, c.planBefore))),
          h("div", {}, h("h4", {}, "After"), h("pre", { class: "plan" }, h("code", {}, c.planAfter))),
        ),
      ),
    ),
  );
}

/** A measured verdict's badge and word: suggested is good news, withheld a warning kept. */
function verdictBadge(verdict: NonNullable<StatementView["measuredAdvice"]>["verdict"]): HTMLElement {
  return h("span", {}, badge(verdict === "suggested" ? "ok" : verdict === "withheld" ? "alert" : "warn"), ` ${verdict}`);
}

/** Advice proven on a restored copy, marked apart from hypopg's estimate. */
function measuredAdviceBlock(measured: StatementView["measuredAdvice"]): HTMLElement {
  if (!measured) {
    return h(
      "p",
      { class: "note" },
      badge("info"),
      " Not measured on a copy yet: the weekly drill measures the advice on its restored copy (or npm run db:advise -- --on <url>).",
    );
  }
  return h(
    "div",
    { class: "measured-advice" },
    h("h4", {}, badge("measured"), ` ${measured.kind === "create" ? "Build" : "Drop"} ${measured.index} on ${measured.table} `, verdictBadge(measured.verdict)),
    h("p", {}, measured.reason),
    h("p", { class: "note" }, `measured ${f.time(measured.measuredAt)}`),
    measured.verdict === "suggested" ? runnable(measured.statement) : null,
  );
}

function hypotheticalAdviceBlock(advice: StatementView["advice"]): HTMLElement {
  return h(
    "div",
    { class: "hypothetical-advice" },
    h("h4", {}, badge("hypothetical"), " hypopg's estimate, not measured"),
    h("p", {}, advice.note),
    advice.advice
      ? h(
          "div",
          {},
          h(
            "p",
            {},
            `On ${advice.advice.table} (${advice.advice.columns.join(", ")}): cost ${advice.advice.costBefore} → ${advice.advice.costAfter}, about ${f.bytes(advice.advice.estimatedSizeBytes)}`,
          ),
          runnable(advice.advice.createStatement),
        )
      : null,
  );
}

/** The newest advice measured on a copy, suggested first. */
function measuredSection(measured: FindingsView["measured"]): HTMLElement {
  if (!measured) {
    return section(
      "Advice measured on a restored copy",
      h(
        "p",
        { class: "empty" },
        "None yet: the weekly drill measures the advice on its restored copy, or run npm run db:advise -- --on <url of a restored copy>.",
      ),
    );
  }
  return section(
    "Advice measured on a restored copy",
    h(
      "p",
      { class: "note" },
      badge("measured"),
      ` ${f.time(measured.measuredAt)}${measured.drillId ? ` by drill ${measured.drillId}` : ""}${measured.copyTakenAt ? `, on the copy of ${f.time(measured.copyTakenAt)}` : ""}: each index built or dropped on the copy and the statements timed before and after. The findings above marked hypothetical are hypopg's estimates.`,
    ),
    table("Measured advice", measured.advice, [
      { label: "Verdict", value: (a) => verdictBadge(a.verdict) },
      { label: "Index", value: (a) => `${a.kind === "create" ? "build" : "drop"} ${a.index} on ${a.table}` },
      { label: "Before", value: (a) => (a.msBefore === null ? "–" : f.ms(a.msBefore)), numeric: true },
      { label: "After", value: (a) => (a.msAfter === null ? "–" : f.ms(a.msAfter)), numeric: true },
      { label: "Why", value: (a) => a.reason },
      { label: "Run", value: (a) => (a.verdict === "suggested" ? runnable(a.statement) : "–") },
    ]),
  );
}

export async function statementPage(main: HTMLElement, ctx: ViewContext, queryId: string): Promise<void> {
  const data = await getJson<StatementView>(`/api/ops/statements/${encodeURIComponent(queryId)}?window=${ctx.window}`);
  const markers: Marker[] = [
    ...deployMarkers(data.deploys).filter((m) => !data.deployEffects.some((e) => e.at === m.at && e.regression)),
    ...data.deployEffects.filter((e) => e.regression).map((e) => ({ at: e.at, label: `regression: deploy ${e.deployId.slice(0, 7)}`, bad: true })),
    ...data.planChanges.map((c) => ({ at: Date.parse(c.at) / 1000, label: c.regression ? "regression: plan changed" : "plan changed", bad: c.regression })),
  ];
  const charts = section("Over the window");
  main.append(
    section(
      "Statement",
      h("pre", { class: "query" }, h("code", {}, data.statement.query)),
      h("p", { class: "note" }, `first seen ${f.time(data.statement.firstSeenAt)}; pg_stat_statements query id ${data.statement.queryId}`),
    ),
    charts,
    section(
      "Deploys",
      table("The statement's mean time in the 24 hours before each deploy and under it", data.deployEffects, [
        { label: "Deploy", value: (e) => `${e.previousDeployId?.slice(0, 7) ?? "–"} → ${e.deployId.slice(0, 7)}` },
        { label: "At", value: (e) => at(e.at) },
        { label: "Mean before", value: (e) => f.ms(e.meanMsBefore), numeric: true },
        { label: "Mean after", value: (e) => f.ms(e.meanMsAfter), numeric: true },
        { label: "Calls before / after", value: (e) => `${f.count(e.callsBefore)} / ${f.count(e.callsAfter)}`, numeric: true },
        { label: "Verdict", value: (e) => (e.regression ? badge("regression") : badge("ok")) },
      ]),
    ),
    planChangesSection(data.planChanges),
    section("Generic plan", data.plan.plan !== null ? h("pre", { class: "plan" }, h("code", {}, data.plan.plan)) : h("p", {}, data.plan.reason)),
    explainSection(ctx, data),
    tablesSection(data.tables),
    section("Index advice", measuredAdviceBlock(data.measuredAdvice), hypotheticalAdviceBlock(data.advice)),
  );
  const id = data.statement.queryId;
  timeChart(charts, {
    title: "Calls",
    t: data.series.t,
    lines: [{ label: "calls", values: data.series.values[`calls:${id}`] ?? [] }],
    markers,
    format: f.count,
    range: rangeOf(ctx.window),
  });
  timeChart(charts, {
    title: "Mean time",
    t: data.series.t,
    lines: [{ label: "mean", values: data.series.values[`meanMs:${id}`] ?? [] }],
    markers,
    format: f.ms,
    range: rangeOf(ctx.window),
  });
}

function usageLine(usage: Activity["usage"]): HTMLElement {
  return h(
    "p",
    {},
    `${usage.total} of ${usage.usable} usable connection slots in use on the server (${f.percent(usage.usageRatio)}), ${usage.thisDatabase} by this database; `,
    `${usage.active} active, ${usage.idle} idle, ${usage.idleInTransaction} idle in a transaction, ${usage.waiting} waiting on a lock`,
    usage.hidden ? `; ${usage.hidden} of other roles whose state is hidden from this role` : "",
  );
}

async function signal(ctx: ViewContext, pid: number, action: "cancel" | "terminate", query: string): Promise<void> {
  const what = action === "cancel" ? `Cancel the running query of session ${pid}?` : `Terminate session ${pid}? Its transaction is rolled back.`;
  if (!(await ctx.confirm(`${what}\n\n${query.slice(0, 300)}`))) return;
  await sendJson("POST", `/api/ops/sessions/${pid}`, { action });
  ctx.refresh();
}

function liveActivity(ctx: ViewContext, data: Activity): HTMLElement {
  const actions = (pid: number, query: string) =>
    h(
      "span",
      { class: "actions" },
      h("button", { type: "button", onclick: () => void signal(ctx, pid, "cancel", query) }, "Cancel"),
      h("button", { type: "button", class: "danger", onclick: () => void signal(ctx, pid, "terminate", query) }, "Terminate"),
    );
  return h(
    "div",
    { id: "live", "aria-live": "polite" },
    usageLine(data.usage),
    ...data.notes.map((note) => h("p", { class: "note" }, note)),
    table("Connections by database, role, application and SSL (every database on the server)", data.groups, [
      { label: "Database", value: (g) => g.database },
      { label: "Role", value: (g) => g.role },
      { label: "Application", value: (g) => g.application },
      { label: "SSL", value: (g) => (g.ssl === null ? "–" : g.ssl ? "yes" : "no") },
      { label: "Connections", value: (g) => g.connections, numeric: true },
      { label: "Active", value: (g) => g.active, numeric: true },
    ]),
    table("Running queries (refreshed every 5 s)", data.running, [
      { label: "PID", value: (q) => q.pid, numeric: true },
      { label: "Application", value: (q) => q.application },
      { label: "State", value: (q) => q.state },
      { label: "For", value: (q) => f.duration(q.durationSeconds), numeric: true },
      { label: "Waiting on", value: (q) => waitEventCell(q.waitEvent) },
      { label: "Query", value: (q) => h("code", {}, q.query) },
      { label: "", value: (q) => actions(q.pid, q.query) },
    ]),
    table("Blocked sessions: who waits for whom", data.blocked, [
      { label: "PID", value: (b) => b.pid, numeric: true },
      { label: "Blocked by", value: (b) => b.blockedBy.join(", ") },
      { label: "Root blocker", value: (b) => b.rootBlocker, numeric: true },
      { label: "Waiting", value: (b) => f.duration(b.lockWaitSeconds), numeric: true },
      { label: "Query", value: (b) => h("code", {}, b.query) },
      { label: "Blocker's query", value: (b) => h("code", {}, `${b.blockerState ?? ""} ${b.blockerQuery ?? ""}`) },
      { label: "", value: (b) => actions(b.rootBlocker, b.blockerQuery ?? "") },
    ]),
  );
}

function replicationSection(data: ConnectionsView["replication"]): HTMLElement {
  if (data.inRecovery) return section("Replication", h("p", {}, "This server is a standby: its primary lists it among its standbys."));
  return section(
    "Replication",
    table(
      "Standbys streaming from this server",
      data.standbys,
      [
        { label: "Application", value: (s) => s.application },
        { label: "Address", value: (s) => s.clientAddress ?? "–" },
        { label: "State", value: (s) => `${s.state} (${s.syncState})` },
        { label: "Replay lag", value: (s) => `${f.bytes(s.replayLagBytes)}, ${f.duration(s.replayLagSeconds)}`, numeric: true },
      ],
      "none",
    ),
    table(
      "Replication slots: the WAL each holds back (an inactive slot keeps it growing until the disk is full)",
      data.slots,
      [
        { label: "Slot", value: (s) => s.name },
        { label: "Kind", value: (s) => s.kind },
        { label: "Database", value: (s) => s.database ?? "–" },
        { label: "Active", value: (s) => (s.active ? badge("ok") : badge("warn")) },
        { label: "WAL retained", value: (s) => f.bytes(s.retainedBytes), numeric: true },
      ],
      "none",
    ),
  );
}

export async function connectionsView(main: HTMLElement, ctx: ViewContext): Promise<void> {
  const data = await getJson<ConnectionsView>(`/api/ops/connections?window=${ctx.window}`);
  const live = section("Now", liveActivity(ctx, await getJson<Activity>("/api/ops/activity")));
  const charts = section("Over the window");
  main.append(
    live,
    section(
      "Capacity",
      h("p", {}, data.capacity.limitedBy && (data.capacity.limitedBy.headroom ?? Infinity) < 2 ? badge("warn") : badge("ok"), " ", data.capacity.summary),
      ...data.capacity.notes.map((note) => h("p", { class: "note" }, note)),
    ),
    replicationSection(data.replication),
    charts,
  );
  const states = Object.keys(data.series.values).filter((name) => name.startsWith("connections:"));
  timeChart(charts, {
    title: "This database's client connections by state",
    t: data.series.t,
    lines: states.map((name) => ({ label: name.slice("connections:".length), values: data.series.values[name] ?? [] })),
    markers: deployMarkers(data.deploys),
    format: f.count,
    range: rangeOf(ctx.window),
  });
  timeChart(charts, {
    title: "Connection slots in use (server-wide)",
    t: data.series.t,
    lines: [{ label: "usage", values: data.series.values.connection_pool_usage_ratio ?? [] }],
    levels: [
      { label: "target", value: data.saturation.target, kind: "target" },
      { label: "alert", value: data.saturation.alertLevel, kind: "alert" },
    ],
    markers: deployMarkers(data.deploys),
    format: f.percent,
    range: rangeOf(ctx.window),
  });
  ctx.every(5000, async () => {
    const fresh = liveActivity(ctx, await getJson<Activity>("/api/ops/activity"));
    document.getElementById("live")?.replaceWith(fresh);
  });
}

function relationLink(window: Window, schema: string, name: string): HTMLElement {
  const params = new URLSearchParams({ window, schema, name });
  return h("a", { href: `#/space/relation?${params.toString()}` }, name);
}

function growthText(bytesPerDay: number | null): string {
  if (bytesPerDay === null) return "–";
  return `${bytesPerDay < 0 ? "−" : "+"}${f.bytes(Math.abs(bytesPerDay))}`;
}

/** One table's or index's size over the window, one point an hour. */
export async function relationPage(main: HTMLElement, ctx: ViewContext): Promise<void> {
  const asked = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const params = new URLSearchParams({ window: ctx.window, schema: asked.get("schema") ?? "", name: asked.get("name") ?? "" });
  const data = await getJson<RelationView>(`/api/ops/space/relation?${params.toString()}`);
  const now = data.now;
  const charts = section("Size over the window");
  main.append(
    section(
      `${data.schema}.${data.name}`,
      now
        ? h(
            "p",
            {},
            `${now.kind === "table" ? "Table" : "Index"}: ${f.bytes(now.sizeBytes)}`,
            now.kind === "table" ? `, ${f.bytes(now.totalBytes)} with its indexes and TOAST, about ${f.count(now.estimatedRows)} rows` : "",
            now.bytesPerDay === null ? "; growth unknown until an hour of samples" : `; ${growthText(now.bytesPerDay)} a day since ${f.time(now.since)}`,
          )
        : h("p", { class: "note" }, "Not measured now: it no longer exists, or a lock holds it. Its history is below."),
      h("p", {}, h("a", { href: `#/space?window=${ctx.window}` }, "All tables and indexes")),
    ),
    charts,
  );
  timeChart(charts, {
    title: now?.kind === "index" ? "Size" : "Size, and with its indexes and TOAST",
    t: data.series.t,
    lines: [
      { label: "size", values: data.series.values.bytes ?? [] },
      ...(now?.kind === "index" ? [] : [{ label: "with indexes", values: data.series.values.totalBytes ?? [] }]),
    ],
    markers: deployMarkers(data.deploys),
    format: f.bytes,
    range: rangeOf(ctx.window),
  });
}

export async function spaceView(main: HTMLElement, ctx: ViewContext): Promise<void> {
  const data = await getJson<SpaceView>(`/api/ops/space?window=${ctx.window}`);
  const sizes = data.series.values.sizeBytes ?? [];
  const latest = sizes.findLast((v) => v !== null) ?? null;
  const charts = section("Database size over the window");
  const changeCharts = section("Rows changed per 5-minute snapshot, every table");
  main.append(
    section(
      "Size",
      h(
        "p",
        {},
        `Database size ${f.bytes(latest)}; growth ${data.growth ? `${f.bytes(data.growth.bytesPerDay)} a day (${f.time(data.growth.fromAt)} to ${f.time(data.growth.toAt)})` : "unknown: it needs two stats snapshots"}.`,
      ),
      data.quota
        ? h(
            "p",
            {},
            `Quota ${f.bytes(data.quota.bytes)}: ${f.percent(data.quota.usedRatio)} used; `,
            data.quota.daysLeft === null ? "not growing." : `${data.quota.daysLeft} days left at this pace.`,
          )
        : h("p", {}, "No quota set (DB_SIZE_QUOTA_BYTES)."),
    ),
    charts,
    section(
      "Every table and index",
      table(
        `Largest first, each with its growth over the last 7 days (from the hourly samples)${data.quota ? " and the days until the quota if it alone kept growing at that pace" : ""}`,
        data.relations,
        [
          { label: "Schema", value: (r) => r.schema },
          { label: "Name", value: (r) => relationLink(ctx.window, r.schema, r.name) },
          { label: "Kind", value: (r) => r.kind },
          { label: "Size", value: (r) => f.bytes(r.sizeBytes), numeric: true },
          { label: "With indexes", value: (r) => (r.kind === "table" ? f.bytes(r.totalBytes) : "–"), numeric: true },
          { label: "Rows (estimate)", value: (r) => (r.kind === "table" ? f.count(r.estimatedRows) : "–"), numeric: true },
          { label: "Growth a day", value: (r) => growthText(r.bytesPerDay), numeric: true },
          ...(data.quota
            ? [{ label: "Days to quota", value: (r: SpaceView["relations"][number]) => (r.daysToQuota === null ? "–" : f.count(r.daysToQuota)), numeric: true }]
            : []),
        ],
      ),
    ),
    changeCharts,
    section(
      "Largest losses",
      table("The 5-minute intervals in which a table shrank the most (deletes net of inserts): where to look for a mass delete", data.largestLosses, [
        { label: "Snapshot", value: (c) => at(c.takenAt) },
        { label: "Table", value: (c) => `${c.schema}.${c.table}` },
        { label: "Deleted", value: (c) => f.count(c.deleted), numeric: true },
        { label: "Inserted", value: (c) => f.count(c.inserted), numeric: true },
        { label: "Rows before", value: (c) => f.count(c.rowsBefore), numeric: true },
        { label: "Lost", value: (c) => f.percent((c.deleted - c.inserted) / Math.max(c.rowsBefore, 1)), numeric: true },
      ]),
    ),
  );
  timeChart(changeCharts, {
    title: "Rows changed",
    t: data.changes.t,
    lines: [
      { label: "inserted", values: data.changes.inserted },
      { label: "updated", values: data.changes.updated },
      { label: "deleted", values: data.changes.deleted },
    ],
    markers: deployMarkers(data.deploys),
    format: f.count,
    range: rangeOf(ctx.window),
  });
  const quota = data.quota;
  timeChart(charts, {
    title: "Database size",
    t: data.series.t,
    lines: [{ label: "size", values: sizes }],
    levels: quota ? [{ label: "quota", value: quota.bytes, kind: "alert" }] : [],
    markers: deployMarkers(data.deploys),
    format: f.bytes,
    range: rangeOf(ctx.window),
  });
}

const SEVERITY_BADGE: Record<Finding["severity"], string> = { critical: "alert", warning: "warn", notice: "info" };

function findingCard(finding: Finding): HTMLElement {
  return h(
    "article",
    { class: `finding finding-${finding.severity}` },
    h("h3", {}, h("span", { class: `badge badge-${SEVERITY_BADGE[finding.severity]}` }, finding.severity.toUpperCase()), " ", finding.subject),
    h("p", { class: "finding-check" }, CHECK_TITLES[finding.check]),
    h("p", {}, finding.detail),
    finding.note ? h("p", { class: "note" }, finding.note) : null,
    finding.run ? runnable(finding.run) : null,
  );
}

export async function findingsView(main: HTMLElement): Promise<void> {
  const data = await getJson<FindingsView>("/api/ops/findings");
  const counts = SEVERITIES.map((severity) => [severity, data.findings.filter((x) => x.severity === severity).length] as const).filter(([, n]) => n > 0);
  main.append(
    section(
      "Findings",
      h(
        "p",
        {},
        data.findings.length === 0
          ? "Nothing found: every check that ran passes."
          : `${counts.map(([severity, n]) => `${n} ${severity}`).join(", ")}, most urgent first. The statements suggested are safe to run together.`,
      ),
      ...data.notes.map((note) => h("p", { class: "note" }, note)),
      ...data.findings.map(findingCard),
    ),
    measuredSection(data.measured),
    section(
      `Passed checks (${data.passed.length} of ${Object.keys(CHECK_TITLES).length})`,
      data.passed.length === 0
        ? h("p", { class: "empty" }, "None: every check found something, or could not run (see the notes above).")
        : h("ul", { class: "passed" }, ...data.passed.map((check) => h("li", {}, badge("ok"), " ", CHECK_TITLES[check]))),
    ),
    section(
      "Maintenance of every table",
      table("Dead rows and the last vacuum and analyze, by hand and by autovacuum; most dead rows first", data.maintenance, [
        { label: "Table", value: (t) => (t.schema === "public" ? t.table : `${t.schema}.${t.table}`) },
        { label: "Live rows", value: (t) => f.count(t.liveRows), numeric: true },
        { label: "Dead rows", value: (t) => f.count(t.deadRows), numeric: true },
        { label: "Dead", value: (t) => f.percent(t.deadRatio), numeric: true },
        { label: "Last vacuum", value: (t) => at(t.lastVacuum) },
        { label: "Last autovacuum", value: (t) => at(t.lastAutovacuum) },
        { label: "Last analyze", value: (t) => at(t.lastAnalyze) },
        { label: "Last autoanalyze", value: (t) => at(t.lastAutoanalyze) },
      ]),
    ),
  );
}

const GROUP_TITLES: Record<TuneView["settings"][number]["group"], string> = {
  memory: "Memory",
  checkpoints: "Checkpoints and WAL",
  autovacuum: "Autovacuum",
  connections: "Connections",
  timeouts: "Timeouts",
  planner: "Planner",
  logging: "Logging",
};

export async function tuneView(main: HTMLElement): Promise<void> {
  const data = await getJson<TuneView>("/api/ops/tune");
  const review = data.settings.filter((s) => s.verdict === "review").length;
  const pending = data.settings.filter((s) => s.pendingRestart);
  main.append(
    section(
      "Server",
      h(
        "p",
        {},
        `Recommendations for ${f.bytes(data.memory.bytes)} of memory`,
        data.memory.from === "DB_MEMORY_BYTES" ? " (DB_MEMORY_BYTES)" : " (read as four times shared_buffers; set DB_MEMORY_BYTES to the server's real memory)",
        ` and ${data.maxConnections} connections, on SSD storage: PGTune's formulas for a web application. `,
        review === 0 ? "Every setting is at or near its recommendation." : `${review} setting${review === 1 ? "" : "s"} to review.`,
      ),
      pending.length ? h("p", { class: "problem" }, `Waiting for a restart: ${pending.map((s) => s.name).join(", ")}.`) : null,
      h(
        "p",
        { class: "note" },
        "On Supabase, settings are changed in the project's database settings (or with ALTER ROLE / ALTER DATABASE where allowed); ALTER SYSTEM is refused.",
      ),
    ),
    section(
      "Changed in the last 7 days",
      table(
        "Each change the stats snapshots saw, newest first",
        data.changes,
        [
          { label: "Seen", value: (c) => at(c.seenAt) },
          { label: "Setting", value: (c) => h("code", {}, c.name) },
          { label: "Before", value: (c) => c.before },
          { label: "After", value: (c) => c.after },
        ],
        "none",
      ),
    ),
    ...Object.entries(GROUP_TITLES).map(([group, title]) =>
      section(
        title,
        table(
          `${title}: now and recommended`,
          data.settings.filter((s) => s.group === group),
          [
            { label: "Setting", value: (s) => h("code", {}, s.name) },
            { label: "Now", value: (s) => s.current, numeric: true },
            { label: "Recommended", value: (s) => s.recommended ?? "–", numeric: true },
            { label: "", value: (s) => (s.verdict === null ? "" : s.verdict === "ok" ? badge("ok") : badge("warn")) },
            { label: "Why", value: (s) => s.why },
            { label: "Set by", value: (s) => s.source },
            {
              label: "A change needs",
              value: (s) => (s.pendingRestart ? "a restart (pending)" : s.applies === "session" ? "nothing (per session)" : `a ${s.applies}`),
            },
          ],
        ),
      ),
    ),
  );
}

function modeForm(ctx: ViewContext, mode: ModeState): HTMLElement {
  const select = h(
    "select",
    { id: "mode-select", name: "mode" },
    ...["normal", "read-only", "maintenance"].map((m) => h("option", { value: m, selected: m === mode.mode }, m)),
  );
  const reason = h("input", { id: "mode-reason", name: "reason", type: "text", maxlength: 200, placeholder: "why (shown to API callers)" });
  const form = h(
    "form",
    {
      class: "mode-form",
      onsubmit: (event: Event) => {
        event.preventDefault();
        void (async () => {
          const next = select.value;
          if (!(await ctx.confirm(`Switch the platform to ${next}?`))) return;
          await sendJson("PUT", "/api/ops/mode", { mode: next, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) });
          ctx.refresh();
        })();
      },
    },
    h("label", { for: "mode-select" }, "Mode "),
    select,
    h("label", { for: "mode-reason" }, " Reason "),
    reason,
    h("button", { type: "submit" }, "Switch"),
  );
  return h("div", {}, modeLine(mode), form);
}

export async function backupsView(main: HTMLElement, ctx: ViewContext): Promise<void> {
  const data = await getJson<BackupsView>(`/api/ops/backups?window=${ctx.window}`);
  const charts = section("Backups over the window");
  main.append(
    section("Recovery", recoveryLine(data.recoveryPoint), recoveryTimeLine(data.recoveryTime), drillLine(data.newestDrills)),
    charts,
    section(
      "Backups",
      table("Each run, newest first, with every copy", data.backups, [
        { label: "Requested", value: (b) => at(b.requestedAt) },
        { label: "State", value: (b) => badge(b.status) },
        { label: "Size", value: (b) => f.bytes(b.sizeBytes), numeric: true },
        { label: "Encrypted", value: (b) => (b.encrypted === null ? "–" : b.encrypted ? "yes" : "no") },
        { label: "Signed", value: (b) => (b.signed === null ? "–" : b.signed ? "yes" : "no") },
        { label: "Copies", value: (b) => h("ul", { class: "copies" }, ...b.copies.map((c) => h("li", {}, `${c.location}: ${c.status}`))) },
        { label: "Error", value: (b) => b.error ?? "" },
      ]),
    ),
    section(
      "Disaster-recovery drills",
      table("Each drill, newest first, with its measured recovery time", data.drills, [
        { label: "Started", value: (d) => at(d.startedAt) },
        { label: "State", value: (d) => badge(d.status) },
        { label: "Recovery time", value: (d) => f.duration(d.recoverySeconds), numeric: true },
        { label: "Restored", value: (d) => f.bytes(d.restoredBytes), numeric: true },
        { label: "ANALYZE", value: (d) => f.duration(d.analyzeSeconds), numeric: true },
        { label: "Data age", value: (d) => f.duration(d.dataAgeSeconds), numeric: true },
        { label: "From", value: (d) => d.source ?? "–" },
        { label: "Error", value: (d) => d.error ?? "" },
      ]),
    ),
    section("Platform mode", modeForm(ctx, data.mode)),
  );
  const succeeded = data.backups.filter((b) => b.status === "succeeded" && b.finishedAt).reverse();
  timeChart(charts, {
    title: "Backup size",
    t: succeeded.map((b) => Date.parse(b.finishedAt ?? "") / 1000),
    lines: [{ label: "size", values: succeeded.map((b) => b.sizeBytes) }],
    format: f.bytes,
    range: rangeOf(ctx.window),
  });
}
