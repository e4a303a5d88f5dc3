/**
 * `npm run platform:mode -- [normal|read-only|maintenance] [--reason text] [--url base]`: shows
 * or sets the platform's mode through its admin endpoint (Bearer ADMIN_TOKEN), on the local
 * platform by default or on a deployment with --url.
 */
import { config, ConfigError } from "../lib/config.js";
import { fetchFailureOf } from "../lib/fetch-failure.js";
import { keptLocalSecret } from "../lib/local/secrets.js";
import { MODES, type Mode, type ModeState } from "../lib/platform/mode.js";
import { commandLine, runCli, UsageError } from "./cli.js";

const USAGE = `usage: npm run platform:mode -- [${MODES.join("|")}] [--reason text] [--url https://your-deployment]
  without a mode, shows the current one; --url defaults to the local platform`;

await runCli(async () => {
  const { positionals, values } = commandLine(
    { args: process.argv.slice(2), allowPositionals: true, options: { reason: { type: "string" }, url: { type: "string" } } },
    USAGE,
  );
  const [mode, ...extra] = positionals;
  if (extra.length || (mode !== undefined && !MODES.includes(mode as Mode))) throw new UsageError(`the mode must be one of ${MODES.join(", ")}\n${USAGE}`);
  if (values.reason !== undefined && mode === undefined) throw new UsageError(`--reason goes with a mode\n${USAGE}`);
  // The local platform keeps the token it generated; a deployment's must be given.
  const token = config().adminToken ?? (values.url ? undefined : await keptLocalSecret("admin-token"));
  if (!token) throw new ConfigError("Invalid configuration: ADMIN_TOKEN must be set (the deployment's own)");
  const base = values.url ?? `http://localhost:${config().port}`;
  let endpoint: URL;
  try {
    endpoint = new URL("/api/admin/mode", base);
  } catch {
    throw new UsageError(`--url must be an http(s) URL\n${USAGE}`);
  }
  let response: Response;
  try {
    response = await fetch(endpoint, {
      method: mode ? "PUT" : "GET",
      headers: { authorization: `Bearer ${token}`, ...(mode ? { "content-type": "application/json" } : {}) },
      body: mode ? JSON.stringify({ mode, ...(values.reason ? { reason: values.reason } : {}) }) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new Error(`cannot reach ${endpoint.origin} (${fetchFailureOf(error)}): is the platform running there?`);
  }
  const body = (await response.json().catch(() => ({}))) as ModeState & { error?: { message?: string } };
  if (!response.ok) throw new Error(`${endpoint.origin} answered ${response.status}: ${body.error?.message ?? "no reason given"}`);
  console.log(`mode: ${body.mode}${body.reason ? ` (${body.reason})` : ""}${body.since ? `, since ${body.since}` : ""}`);
});
