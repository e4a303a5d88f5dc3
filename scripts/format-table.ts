/** Rows as a plain-text table for a person: units read off the column names. */
import { bytesText } from "../lib/units.js";

export function cell(column: string, value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "number") {
    if (/Bytes$/.test(column)) return bytesText(value);
    // A ratio can pass 1 (a table past its freeze threshold); the cache hit rates' table and index never do.
    if (/(Ratio$|^shareOfTotal$|^costCut$)/.test(column) || (/^(table|index)$/.test(column) && value <= 1)) return `${(value * 100).toFixed(1)}%`;
    if (/Seconds$/.test(column)) return `${value.toFixed(1)} s`;
    if (/Ms$/.test(column)) return `${value.toFixed(1)} ms`;
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }
  const text = (typeof value === "string" ? value : typeof value === "bigint" ? value.toString() : (JSON.stringify(value) ?? "")).replace(/\s+/g, " ");
  // A statement to run is shown whole, to be copied.
  return /Statement$/.test(column) ? text : text.slice(0, 80);
}

export function formatTable(rows: object[]): string {
  if (rows.length === 0) return "  (none)";
  const columns = Object.keys(rows[0] ?? {});
  const cells = rows.map((row) => columns.map((column) => cell(column, (row as Record<string, unknown>)[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => (line[i] ?? "").length)));
  const numeric = columns.map((column) => rows.every((row) => typeof (row as Record<string, unknown>)[column] === "number"));
  const line = (values: string[]) =>
    `  ${values.map((value, i) => (numeric[i] ? value.padStart(widths[i] ?? 0) : value.padEnd(widths[i] ?? 0))).join("  ")}`.trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
