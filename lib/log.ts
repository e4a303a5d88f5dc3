/**
 * Structured one-line JSON logs. Errors are reduced to name, code and message: query
 * parameters and connection strings never reach the log.
 */
type Fields = Record<string, unknown>;
type Level = "info" | "warn" | "error";

function serializable(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(typeof code === "string" ? { code } : {}) };
  }
  return value;
}

function write(level: Level, message: string, fields: Fields): void {
  const entry: Fields = { level, time: new Date().toISOString(), message };
  for (const [key, value] of Object.entries(fields)) entry[key] = serializable(value);
  const line = JSON.stringify(entry);
  if (level === "error") console.error(line);
  else console.log(line);
}

export const log = {
  info: (message: string, fields: Fields = {}) => write("info", message, fields),
  warn: (message: string, fields: Fields = {}) => write("warn", message, fields),
  error: (message: string, fields: Fields = {}) => write("error", message, fields),
};
