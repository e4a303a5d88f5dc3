/** Numbers as a person reads them. */

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function count(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : grouped.format(value);
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let size = value;
  let unit = 0;
  while (Math.abs(size) >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${size.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (value >= 100_000) return `${grouped.format(Math.round(value / 1000))} s`;
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value >= 100 ? 0 : 1)} ms`;
}

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

/** A duration in seconds, in its two largest units. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export type Zone = "utc" | "local";
const ZONE_KEY = "gap-dashboard-zone";
let chosen: Zone = "utc";
try {
  chosen = localStorage.getItem(ZONE_KEY) === "local" ? "local" : "utc";
} catch {
  // Storage refused (a private window): UTC, the default.
}

/** The clock every time on the page is shown in: UTC (the command line's, the runbook's, the alerts') unless the reader asked for local time. */
export function zone(): Zone {
  return chosen;
}

export function setZone(next: Zone): void {
  chosen = next;
  try {
    localStorage.setItem(ZONE_KEY, next);
  } catch {
    // Kept for this page only.
  }
}

/** The zone as shown beside every time: UTC, or the browser's own zone by name. */
export function zoneName(): string {
  return chosen === "utc" ? "UTC" : Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

interface Fields {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
}

/** The calendar and clock fields of Unix seconds in the chosen zone. */
function fieldsOf(at: number): Fields {
  const d = new Date(at * 1000);
  return chosen === "utc"
    ? { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), hours: d.getUTCHours(), minutes: d.getUTCMinutes(), seconds: d.getUTCSeconds() }
    : { year: d.getFullYear(), month: d.getMonth(), day: d.getDate(), hours: d.getHours(), minutes: d.getMinutes(), seconds: d.getSeconds() };
}

/** Unix seconds as a Date whose local fields read the chosen zone's clock (what uPlot draws its axis from), with its day and time of day. */
export function clockParts(at: number): { date: Date; day: string; clock: string } {
  const x = fieldsOf(at);
  return {
    date: new Date(x.year, x.month, x.day, x.hours, x.minutes, x.seconds),
    day: `${MONTHS[x.month]} ${pad(x.day)}`,
    clock: `${pad(x.hours)}:${pad(x.minutes)}`,
  };
}

/** An ISO time or Unix seconds on the page's clock, the zone shown: 2026-12-06 14:05 UTC. */
export function time(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const at = typeof value === "number" ? value : new Date(value).getTime() / 1000;
  if (!Number.isFinite(at)) return "–";
  const x = fieldsOf(at);
  return `${x.year}-${pad(x.month + 1)}-${pad(x.day)} ${pad(x.hours)}:${pad(x.minutes)} ${zoneName()}`;
}

/** The time of day with seconds, on the page's clock with its zone (the status line). */
export function clockTime(at: Date): string {
  const x = fieldsOf(at.getTime() / 1000);
  return `${pad(x.hours)}:${pad(x.minutes)}:${pad(x.seconds)} ${zoneName()}`;
}

const SINGULAR: Record<string, string> = { connections: "connection" };

/** A Target Metric's value in its unit. */
export function metricValue(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined) return "–";
  if (unit === "ratio") return percent(value);
  if (unit === "ms") return ms(value);
  return `${count(value)} ${value === 1 ? (SINGULAR[unit] ?? unit) : unit}`;
}

/** Wait events a DBA meets most, in words (PostgreSQL's names: pg_stat_activity's wait_event_type:wait_event). */
const WAIT_EVENTS: Record<string, string> = {
  "Lock:relation": "a lock on a table",
  "Lock:transactionid": "another transaction to end (a row it changed)",
  "Lock:tuple": "a lock on a row",
  "Lock:advisory": "an advisory lock",
  "Lock:virtualxid": "another transaction to end",
  "Lock:extend": "room to grow a table",
  "Timeout:PgSleep": "pg_sleep()",
  "Client:ClientRead": "the client to send its next command",
  "Client:ClientWrite": "the client to read the answer",
  "IO:DataFileRead": "a read from disk",
  "IO:WALSync": "the write-ahead log to reach the disk",
  "IO:WALWrite": "a write to the write-ahead log",
  "IPC:ExecuteGather": "parallel workers",
  "IPC:SyncRep": "a synchronous replica",
};

/** A wait event as a person reads it; an unknown one by its kind (an internal lock, the disk). */
export function waitEvent(event: string): string {
  const known = WAIT_EVENTS[event];
  if (known) return known;
  const kind = event.split(":")[0];
  if (kind === "LWLock") return "an internal lock";
  if (kind === "Lock") return "a lock";
  if (kind === "IO") return "the disk";
  if (kind === "Client") return "the client";
  if (kind === "IPC") return "another server process";
  if (kind === "Timeout") return "a timer";
  return "the server";
}
