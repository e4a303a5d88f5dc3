/**
 * Structured one-line JSON logs. Errors are reduced to name, code and message: query
 * parameters and connection strings never reach the log.
 */
type Fields = Record<string, unknown>;
type Level = "info" | "warn" | "error";

function stringField(error: object, field: string): Record<string, string> {
  const value = (error as Record<string, unknown>)[field];
  return typeof value === "string" ? { [field]: value } : {};
}

/** An error as name, message, code and reason (a DbUnavailableError's: POOL_TIMEOUT, 57P01, ECONNREFUSED), and its cause's name and code. */
function serializable(value: unknown): unknown {
  if (value instanceof Error) {
    const cause = value.cause instanceof Error ? { cause: { name: value.cause.name, ...stringField(value.cause, "code") } } : {};
    return { name: value.name, message: value.message, ...stringField(value, "code"), ...stringField(value, "reason"), ...cause };
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
