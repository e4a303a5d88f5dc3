/**
 * The dashboard in a real browser (Debian's Chromium, driven by puppeteer-core) against the
 * local server and a real history: sign in with the keyboard, every view, every window, a
 * statement's page, the mode switched and back. Each view's numbers are checked against the
 * database, each chart must have drawn its line, no request may fail and the console must
 * stay clean. A screenshot of each view goes to test-output/dashboard/.
 */
import { mkdir } from "node:fs/promises";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedHistory } from "../scripts/demo/history.js";
import { SNAPSHOT_INTERVAL_MS, takeStatsSnapshot } from "../functions/stats-snapshot.js";
import { directDb } from "../lib/db/pool.js";
import { setPlatformMode } from "../lib/platform/mode.js";
import { useConfig } from "./harness/config.js";
import { serve, type RunningServer } from "./harness/http.js";
import { fileAvailable } from "./harness/services.js";

/*
 * What the functions run in the page use of the DOM, declared here: this project's TypeScript
 * is compiled for Node (the DOM's own types would clash with Node's), the page's for the browser.
 */
interface PageElement {
  textContent: string | null;
  innerText: string;
  hasAttribute(name: string): boolean;
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  getBoundingClientRect(): { left: number };
}
interface PageCanvas extends PageElement {
  width: number;
  height: number;
  getContext(kind: "2d"): { getImageData(x: number, y: number, width: number, height: number): { data: ArrayLike<number> } } | null;
}
interface PageTable extends PageElement {
  tBodies: ArrayLike<{ rows: { length: number } }>;
}
declare const document: { querySelector(selector: string): PageElement | null; getElementById(id: string): PageElement | null; cookie: string };
declare const location: { hash: string };

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const hasChromium = await fileAvailable(CHROMIUM, "Debian's chromium package, or CHROMIUM_PATH");
const ADMIN = "browser-admin-token-0123456789";
// DASHBOARD_SCREENSHOTS=docs/screenshots/ writes them where the docs show them (npm test -- test/dashboard-browser.test.ts).
const SCREENSHOTS = new URL(process.env.DASHBOARD_SCREENSHOTS ?? "test-output/dashboard/", new URL("../", import.meta.url));

let server: RunningServer;
let browser: Browser;
let page: Page;
const problems: string[] = [];

async function shot(name: string): Promise<void> {
  if (!process.env.DASHBOARD_SCREENSHOTS) {
    await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
    return;
  }
  // For the docs: the views at a desktop's and a phone's width, as WebP (a fifth of the PNG).
  if (/-(1440|390)$/.test(name)) await page.screenshot({ path: new URL(`${name}.webp`, SCREENSHOTS).pathname, fullPage: true, type: "webp", quality: 80 });
}

/** Waits for the view to finish drawing (the status line is stamped last). */
async function drawn(): Promise<void> {
  await page.waitForFunction(
    () => !document.querySelector("main")?.hasAttribute("aria-busy") && document.getElementById("status")?.textContent?.startsWith("Updated"),
    { timeout: 15_000 },
  );
}

/** Does `action`, then waits for the view it draws. */
async function redrawnAfter(action: () => Promise<unknown>): Promise<void> {
  await page.evaluate(() => {
    const status = document.getElementById("status");
    if (status) status.textContent = "";
  });
  await action();
  await drawn();
}

async function open(hash: string): Promise<void> {
  await redrawnAfter(() =>
    page.evaluate((h) => {
      location.hash = h;
    }, hash),
  );
}

/** Answers the confirmation dialog with Confirm, and waits for the view to redraw. */
async function confirmDialog(): Promise<void> {
  await page.waitForSelector("dialog[open]");
  await redrawnAfter(() => page.click("dialog button[value=confirm]"));
}

/** For each chart: its title, and how many of its pixels have the first line's colour. */
async function chartInk(): Promise<Array<{ title: string; ink: number }>> {
  return page.$$eval("figure.chart", (figures: PageElement[]) =>
    figures.map((figure) => {
      const canvas = figure.querySelector("canvas") as PageCanvas;
      const context = canvas.getContext("2d");
      if (!context) return { title: figure.getAttribute("data-chart") ?? "", ink: 0 };
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      let ink = 0;
      // The first line is drawn in #2563eb.
      for (let i = 0; i < data.length; i += 4)
        if (Math.abs((data[i] ?? 0) - 37) < 40 && Math.abs((data[i + 1] ?? 0) - 99) < 40 && (data[i + 2] ?? 0) > 180) ink++;
      return { title: figure.getAttribute("data-chart") ?? "", ink };
    }),
  );
}

async function mainText(): Promise<string> {
  return page.$eval("main", (main: PageElement) => main.innerText);
}

describe.skipIf(!hasChromium)("the dashboard in Chromium", () => {
  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    await useConfig({ ADMIN_TOKEN: ADMIN, DB_SIZE_QUOTA_BYTES: String(2 * 1024 ** 3) });
    await seedHistory(directDb(), { days: 3, statements: 40, backups: true });
    server = await serve();
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
    page = await browser.newPage();
    await page.setViewport({ width: 1366, height: 900 });
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warn") problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${String(error)}`));
    page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`));
    page.on("response", (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await setPlatformMode("normal", null);
    await server?.close();
  });

  it("signs in with the keyboard, from a page that asked for nothing it could not have", async () => {
    await page.goto(`${server.baseUrl}/dashboard`, { waitUntil: "networkidle0" });
    expect(await page.$eval("main", (main: PageElement) => main.querySelector("form.sign-in") !== null)).toBe(true);
    await page.keyboard.type(ADMIN);
    await page.keyboard.press("Enter");
    await drawn();
    expect(await page.$eval("h1", (h: PageElement) => h.textContent)).toBe("Overview");
    expect(problems).toEqual([]);
  });

  it("shows the Target Metrics as the newest snapshot judged them, in words and colour, each charted", async () => {
    const [p95] = await directDb()<{ value: number; status: string }[]>`
      select value, status from ops.threshold_results
      where metric = 'active_connections' and snapshot_id = (select id from ops.db_stats_snapshots order by taken_at desc limit 1)`;
    const row = await page.$$eval("table tr", (rows: PageElement[]) => rows.map((r) => r.innerText).find((text) => text.startsWith("Active connections")));
    expect(row).toContain(`${new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 }).format(p95?.value ?? 0)} connections`);
    expect(row).toContain((p95?.status ?? "").toUpperCase());
    const charts = await chartInk();
    expect(charts.map((c) => c.title)).toEqual([
      "Statement time, p95",
      "Connection slots in use (server-wide)",
      "Active connections",
      "Slow queries per hour",
      "Longest lock wait",
    ]);
    for (const chart of charts) expect(chart.ink, chart.title).toBeGreaterThan(50);
    expect(await mainText()).toMatch(/Alerts[\s\S]*threshold:statement_p95_ms/);
    expect(await mainText()).toMatch(/Stats snapshots: OK newest \d+ min \d+ s old/);
    await shot("overview");
  });

  it("redraws every view in every window", async () => {
    for (const window of ["1h", "7d", "14d", "24h"]) {
      await redrawnAfter(() => page.click(`#windows a[href*="window=${window}"]`));
      expect(await page.evaluate(() => location.hash)).toBe(`#/overview?window=${window}`);
      const charts = await chartInk();
      expect(charts).toHaveLength(5);
      for (const chart of charts) expect(chart.ink, `${window}: ${chart.title}`).toBeGreaterThan(10);
    }
    expect(problems).toEqual([]);
  });

  it("lists the top statements with sparklines and opens a statement's page with its regression marked", async () => {
    await open("#/queries?window=7d");
    const [top] = await directDb()<{ calls: number }[]>`
      select sum(calls)::float8 as calls from ops.query_stats_daily
      where day >= date_trunc('day', now() - interval '7 days', 'UTC') group by queryid order by 1 desc limit 1`;
    const text = await mainText();
    expect(text).toContain(new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 }).format(top?.calls ?? 0));
    expect(await page.$$eval(".sparkline canvas", (canvases: PageElement[]) => canvases.length)).toBe(20);
    await shot("queries");
    // Sorted by a column's heading, searched, every statement listed.
    await redrawnAfter(() => page.click('th a.sort[href*="sort=calls"]'));
    expect(await page.evaluate(() => location.hash)).toContain("sort=calls");
    await page.type("#queries-search", "analytics_events");
    await redrawnAfter(() => page.keyboard.press("Enter"));
    const searched = await page.$$eval("table tbody tr td:first-child", (cells: PageElement[]) => cells.map((c) => c.innerText));
    expect(searched.length).toBeGreaterThan(0);
    for (const cell of searched) expect(cell.toLowerCase()).toContain("analytics_events");
    expect(await mainText()).toMatch(/statements? in database \w+ over the window matching "analytics_events"/);
    await redrawnAfter(() => page.select("#queries-limit", "all"));
    expect(await page.evaluate(() => location.hash)).toMatch(/limit=all/);

    await open("#/queries/-7000000000000000001?window=7d");
    const statement = await mainText();
    expect(statement).toContain("/* history 1 */");
    expect(statement).toContain("REGRESSION");
    // The plan change behind the regression, both plans side by side; advice measured on a copy apart from hypopg's.
    expect(statement).toMatch(
      /Plan changes\s+REGRESSION [^\n]*: plan changed from Index Scan using idx_messages_conversation_created on public\.conversation_messages to Seq Scan on public\.conversation_messages; mean [\d.]+ ms before [^\n]*, [\d.]+ ms after/,
    );
    expect(statement).toMatch(
      /Before\s+Limit\s+->\s+Index Scan using idx_messages_conversation_created[\s\S]*After\s+Limit\s+->\s+Sort\s+->\s+Seq Scan on public\.conversation_messages/,
    );
    const sides = await page.$$eval(".side-by-side > div", (columns: PageElement[]) => columns.map((c) => c.getBoundingClientRect().left));
    expect(sides).toHaveLength(2);
    expect(sides[1] ?? 0).toBeGreaterThan((sides[0] ?? 0) + 100);
    expect(statement).toMatch(
      /MEASURED Build idx_conversation_messages_conversation_id_created_at on public\.conversation_messages OK suggested\s+measured on the copy of \S+: 50 ms -> 0\.05 ms \(982x\)/,
    );
    expect(statement).toMatch(/HYPOTHETICAL hypopg's estimate, not measured/);
    expect(statement).toMatch(/Generic plan/);
    for (const chart of await chartInk()) expect(chart.ink, chart.title).toBeGreaterThan(50);
    await shot("statement");
  });

  it("shows connections now and over time, space against the quota, the findings and the backups", async () => {
    await open("#/connections?window=24h");
    expect(await mainText()).toMatch(/usable connection slots in use on the server/);
    expect(await mainText()).toMatch(/Connections by database, role, application and SSL[\s\S]*Standbys streaming from this server[\s\S]*Replication slots/);
    for (const chart of await chartInk()) expect(chart.ink, chart.title).toBeGreaterThan(50);
    await shot("connections");

    await open("#/space?window=24h");
    const [growth] = await directDb()<
      { bytes: number }[]
    >`select max(database_size_bytes)::float8 as bytes from ops.db_stats_snapshots where taken_at >= now() - interval '24 hours'`;
    expect(await mainText()).toMatch(/Quota 2\.0 GB: \d+\.\d% used; \d+(\.\d)? days left at this pace\./);
    expect(growth?.bytes).toBeGreaterThan(0);
    for (const chart of await chartInk()) expect(chart.ink, chart.title).toBeGreaterThan(50);
    expect(await mainText()).toMatch(/Every table and index[\s\S]*Growth a day[\s\S]*Days to quota[\s\S]*conversation_messages\s+table\s[^\n]*\+\d/);
    await shot("space");
    await redrawnAfter(() => page.click('a[href*="name=conversation_messages&"], a[href$="name=conversation_messages"]'));
    expect(await page.evaluate(() => location.hash)).toContain("#/space/relation?");
    expect(await mainText()).toMatch(/public\.conversation_messages[\s\S]*Table: [\d.]+ [kMG]?B[\s\S]*a day since/);
    for (const chart of await chartInk()) expect(chart.ink, chart.title).toBeGreaterThan(50);

    await open("#/findings");
    expect(await mainText()).toMatch(/(critical|warning|notice), most urgent first|Nothing found/);
    expect(await mainText()).toMatch(/Passed checks \(\d+ of 13\)[\s\S]*Maintenance of every table[\s\S]*Last autovacuum/);
    expect(await mainText()).toMatch(
      /Advice measured on a restored copy\s+MEASURED [^\n]*on the copy of[\s\S]*OK suggested\s+build idx_conversation_messages_conversation_id_created_at[\s\S]*ALERT withheld\s+drop idx_messages_created/,
    );
    await shot("findings");

    await open("#/tune");
    expect(await mainText()).toMatch(
      /Recommendations for [\d.]+ [MG]B of memory[\s\S]*Memory[\s\S]*shared_buffers[\s\S]*Checkpoints and WAL[\s\S]*Autovacuum[\s\S]*Timeouts/,
    );
    await shot("tune");

    await open("#/backups?window=7d");
    const [backups] = await directDb()<{ n: number }[]>`select count(*)::int as n from ops.backups where requested_at >= now() - interval '7 days'`;
    const rows = await page.$$eval(
      "table",
      (tables: PageElement[]) =>
        (tables.find((t) => t.querySelector("caption")?.textContent?.startsWith("Each run")) as PageTable | undefined)?.tBodies[0]?.rows.length,
    );
    expect(rows).toBe(backups?.n);
    expect(await mainText()).toContain("s3://demo-history/backups/");
    for (const chart of await chartInk()) expect(chart.ink, chart.title).toBeGreaterThan(10);
    await shot("backups");
    expect(problems).toEqual([]);
  });

  it("runs EXPLAIN ANALYZE of a real statement with the value typed in, and lists the tables it reads", async () => {
    for (const status of ["active", "closed", "active"]) await directDb()`select count(*) from conversations where status = ${status}`;
    await takeStatsSnapshot({ at: new Date(Date.now() + SNAPSHOT_INTERVAL_MS) });
    const [row] = await directDb()<{ id: string }[]>`
      select queryid::text as id from pg_stat_statements
      where query like '%from conversations where status = $1%' and dbid = (select oid from pg_database where datname = current_database()) limit 1`;
    await open(`#/queries/${row?.id ?? ""}?window=1h`);
    expect(await mainText()).toMatch(/Tables it reads[\s\S]*conversations \(table\)[\s\S]*Indexes of conversations/);
    await page.type("#explain-param-1", "active");
    await page.click(".explain-form button[type=submit]");
    await page.waitForSelector("#explain-result pre");
    const plan = await page.$eval("#explain-result pre", (pre: PageElement) => pre.textContent ?? "");
    expect(plan).toMatch(/actual time=/);
    expect(plan).toMatch(/conversations/);
    // The snapshot left the demo history's statements whole (they were once cut to their first keyword).
    await open("#/queries/-7000000000000000001?window=7d");
    expect(await mainText()).toContain("/* history 1 */");
    expect(problems).toEqual([]);
  });

  it("switches the mode behind a confirmation, and back", async () => {
    await open("#/backups?window=7d");
    await page.select("#mode-select", "read-only");
    await page.type("#mode-reason", "browser test");
    await page.click(".mode-form button[type=submit]");
    await confirmDialog();
    expect(await mainText()).toMatch(/Platform mode: WARN read-only \(browser test\)/);
    await page.select("#mode-select", "normal");
    await page.click(".mode-form button[type=submit]");
    await confirmDialog();
    expect(await mainText()).toMatch(/Platform mode: OK normal/);
    expect(problems).toEqual([]);
  });

  it("lays out every view at 1440, 1024 and 390 px: no sideways scroll, labels whole and apart, a zone on every time", async () => {
    const views = [
      "overview?window=14d",
      "queries?window=7d",
      "queries/-7000000000000000001?window=14d",
      "connections?window=24h",
      "space?window=7d",
      "space/relation?window=7d&schema=public&name=conversation_messages",
      "findings",
      "tune",
      "backups?window=7d",
    ];
    for (const width of [1440, 1024, 390]) {
      await page.setViewport({ width, height: 900 });
      for (const view of views) {
        await open(`#/${view}`);
        const where = `${view} at ${width} px`;
        const layout = await page.evaluate(() => {
          const root = (document as unknown as { documentElement: { scrollWidth: number } }).documentElement;
          const box = (selector: string) => {
            const rect = (
              document.querySelector(selector) as unknown as { getBoundingClientRect(): { top: number; bottom: number } } | null
            )?.getBoundingClientRect();
            return { top: rect?.top ?? 0, bottom: rect?.bottom ?? 0 };
          };
          return {
            scrollWidth: root.scrollWidth,
            innerWidth: (globalThis as unknown as { innerWidth: number }).innerWidth,
            signOut: box("#sign-out"),
            status: box("#status"),
          };
        });
        expect(layout.scrollWidth, where).toBeLessThanOrEqual(layout.innerWidth);
        // Sign out shares the status' row (it once wrapped alone onto a second one).
        expect(layout.signOut.top < layout.status.bottom && layout.signOut.bottom > layout.status.top, `${where}: Sign out beside the status`).toBe(true);
        const charts = await page.$$eval("figure.chart", (figures: PageElement[]) =>
          figures.map((figure) => {
            const canvas = figure.querySelector("canvas") as PageCanvas;
            return {
              title: figure.getAttribute("data-chart") ?? "",
              axis: JSON.parse(figure.getAttribute("data-y-axis") ?? "{}") as { ticks?: number[]; labels?: string[]; fits?: boolean },
              labels: JSON.parse(figure.getAttribute("data-labels") ?? "[]") as Array<{ text: string; x: number; y: number; w: number; h: number }>,
              canvas: {
                width: canvas.width / (globalThis as unknown as { devicePixelRatio: number }).devicePixelRatio,
                height: canvas.height / (globalThis as unknown as { devicePixelRatio: number }).devicePixelRatio,
              },
            };
          }),
        );
        for (const chart of charts) {
          const name = `${where}, ${chart.title}`;
          expect(chart.axis.fits, `${name}: y labels ${chart.axis.labels?.join(", ")} cut off`).toBe(true);
          const ticks = chart.axis.ticks ?? [];
          expect(
            ticks.every((tick, i) => i === 0 || tick > (ticks[i - 1] ?? -Infinity)),
            `${name}: ticks ${ticks.join(", ")}`,
          ).toBe(true);
          expect(new Set(chart.axis.labels).size, `${name}: labels ${chart.axis.labels?.join(", ")}`).toBe(chart.axis.labels?.length);
          for (const [i, a] of chart.labels.entries()) {
            expect(
              a.x >= 0 && a.y >= 0 && a.x + a.w <= chart.canvas.width + 0.5 && a.y + a.h <= chart.canvas.height + 0.5,
              `${name}: "${a.text}" off the canvas`,
            ).toBe(true);
            for (const b of chart.labels.slice(i + 1)) {
              const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
              expect(apart, `${name}: "${a.text}" on "${b.text}"`).toBe(true);
            }
          }
        }
        const text = `${await mainText()}\n${await page.$eval("#status", (status: PageElement) => status.textContent ?? "")}`;
        for (const stamp of text.match(/\b\d{4}-\d\d-\d\d \d\d:\d\d\b(?! UTC)/g) ?? []) expect.fail(`${where}: "${stamp}" without its zone`);
        for (const stamp of text.match(/\b\d\d:\d\d:\d\d\b(?! UTC)/g) ?? []) expect.fail(`${where}: "${stamp}" without its zone`);
        if (width === 1440 || width === 390)
          await shot(
            `${view
              .split("?")[0]
              ?.replace(/^queries\/.*/, "queries-statement")
              .replace("/", "-")}-${width}`,
          );
      }
    }
    await page.setViewport({ width: 1366, height: 900 });
    await open("#/overview?window=24h");
    expect(problems).toEqual([]);
  });

  it("shows times in local time on request, with the zone named, and keeps the choice", async () => {
    await page.emulateTimezone("America/New_York");
    await redrawnAfter(() => page.click("#zones button:nth-of-type(2)"));
    const text = await mainText();
    expect(text).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d America\/New_York/);
    expect(text).not.toMatch(/\d\d:\d\d UTC/);
    await page.reload({ waitUntil: "networkidle0" });
    await drawn();
    expect(await mainText()).toMatch(/America\/New_York/);
    await redrawnAfter(() => page.click("#zones button:nth-of-type(1)"));
    expect(await mainText()).toMatch(/\d\d:\d\d UTC/);
    expect(problems).toEqual([]);
  });

  it("signs out, after which the page asks for the token again", async () => {
    await page.click("#sign-out");
    await page.waitForSelector("form.sign-in");
    expect(await page.evaluate(() => document.cookie)).toBe("");
    expect(problems).toEqual([]);
  });
});
