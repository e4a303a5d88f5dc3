/**
 * What Vercel's real builder made of the project (`.ci/run` runs `vercel build` first):
 * one function per api/ file, a route for each dynamic segment, every cron of vercel.json,
 * and no source published as a static file. Without a build here the test is skipped,
 * except under CI, where a missing build is a failure.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { discoverRoutes } from "../lib/server/router.js";
import { API_DIR } from "./harness/http.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const OUTPUT = path.join(ROOT, ".vercel/output");
const built = existsSync(path.join(OUTPUT, "config.json"));
const underCi = process.env.CI === "true";

interface OutputConfig {
  routes: Array<{ src?: string; dest?: string; headers?: Record<string, string> }>;
  crons?: Array<{ path: string; schedule: string }>;
}

/** A sample URL for a route pattern: each dynamic segment filled with a value. */
function sampleUrl(pattern: string): string {
  return pattern.replace(/\[\.\.\.\w+\]/g, "a/b").replace(/\[\w+\]/g, "0b6c1b5e-8c55-4c52-9f51-63f5dfb0b3b4");
}

/** Where Vercel's routes send `url`: the first route whose src matches, applied. */
function destination(config: OutputConfig, url: string): string {
  for (const route of config.routes) {
    if (!route.src || !route.dest) continue;
    const match = new RegExp(route.src).exec(url);
    if (match) return route.dest.replace(/\$(\d+)/g, (_, n: string) => match[Number(n)] ?? "");
  }
  return url;
}

describe.skipIf(!built && !underCi)("vercel build output", () => {
  it("exists (CI runs vercel build before the tests)", () => {
    expect(built).toBe(true);
  });

  it("has one function per api/ file, each reached at the route Vercel gives it", async () => {
    const config = JSON.parse(await readFile(path.join(OUTPUT, "config.json"), "utf8")) as OutputConfig;
    const routes = await discoverRoutes(API_DIR);
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) {
      const functionDir = path.join(OUTPUT, "functions", path.relative(ROOT, route.file).replace(/\.ts$/, ".func"));
      expect(existsSync(path.join(functionDir, ".vc-config.json")), route.pattern).toBe(true);
      const dynamic = route.segments.some((s) => s.kind !== "static");
      const reached = destination(config, sampleUrl(route.pattern)).split("?")[0];
      expect(reached, route.pattern).toBe(dynamic ? route.pattern : sampleUrl(route.pattern));
    }
  });

  it("schedules every cron of vercel.json", async () => {
    const config = JSON.parse(await readFile(path.join(OUTPUT, "config.json"), "utf8")) as OutputConfig;
    const project = JSON.parse(await readFile(path.join(ROOT, "vercel.json"), "utf8")) as { crons: unknown[] };
    expect(config.crons ?? []).toEqual(project.crons);
  });

  it("publishes no source, test or migration as a static file", async () => {
    const files = await readdir(path.join(OUTPUT, "static"), { recursive: true });
    expect(files.filter((file) => /\.(ts|sql|json)$/.test(file) || file.startsWith("supabase"))).toEqual([]);
  });

  it("serves the dashboard: its page at /dashboard, its bundle (100 KB gzipped at most) as static files, under vercel.json's Content-Security-Policy", async () => {
    const config = JSON.parse(await readFile(path.join(OUTPUT, "config.json"), "utf8")) as OutputConfig;
    expect(destination(config, "/dashboard")).toBe("/dashboard/index.html");
    const page = await readFile(path.join(OUTPUT, "static/dashboard/index.html"), "utf8");
    expect(page).toContain('<script type="module" src="/dashboard/app.js"></script>');
    const bundle = await Promise.all(["app.js", "app.css"].map((file) => readFile(path.join(OUTPUT, "static/dashboard", file))));
    expect(bundle.reduce((total, file) => total + gzipSync(file).length, 0)).toBeLessThanOrEqual(100 * 1024);
    const project = JSON.parse(await readFile(path.join(ROOT, "vercel.json"), "utf8")) as {
      headers: Array<{ source: string; headers: Array<{ key: string; value: string }> }>;
    };
    const csp = project.headers.find((rule) => rule.source === "/dashboard(.*)")?.headers.find((h) => h.key === "Content-Security-Policy")?.value;
    expect(csp).toMatch(/^default-src 'none'; script-src 'self';/);
    const applied = config.routes.find((route) => route.headers && route.src && new RegExp(route.src).test("/dashboard"));
    expect(applied?.headers?.["Content-Security-Policy"]).toBe(csp);
  });
});
