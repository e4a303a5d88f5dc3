/** The flags of `npm run db:seed`. */
import { DEFAULT_DEMO_SIZES, type DemoSizes } from "./demo/data.js";
import { commandLine, UsageError } from "./cli.js";

export function seedUsage(): string {
  return `usage: npm run db:seed -- [--messages N] [--conversations N] [--agents N]
                        [--organizations N] [--users-per-organization N] [--reset]
                        [--history-days N [--history-statements N]]
  Fills the database at DATABASE_URL with reproducible demo data.
  --reset replaces ALL rows of the platform's tables.
  --history-days adds N days (1 to ${MAX_HISTORY_DAYS}) of synthetic statistics history for the dashboard,
  ending before the oldest real snapshot, with --history-statements statements (default ${DEFAULT_HISTORY_STATEMENTS}).
  Defaults: ${Object.entries(SIZE_FLAGS)
    .map(([flag, key]) => `--${flag} ${DEFAULT_DEMO_SIZES[key]}`)
    .join(", ")}`;
}

const SIZE_FLAGS = {
  organizations: "organizations",
  "users-per-organization": "usersPerOrganization",
  agents: "agents",
  conversations: "conversations",
  messages: "messages",
} as const satisfies Record<string, keyof DemoSizes>;

export interface SeedArgs {
  sizes: DemoSizes;
  reset: boolean;
  help: boolean;
  /** Synthetic statistics history to add; undefined for none. */
  history?: { days: number; statements: number };
}

const MAX_HISTORY_DAYS = 90;
const DEFAULT_HISTORY_STATEMENTS = 200;
const MAX_HISTORY_STATEMENTS = 10_000;

function count(flag: string, raw: string): number {
  const digits = raw.replaceAll("_", "");
  const value = Number(digits);
  if (!/^\d+$/.test(digits) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`--${flag} must be a whole number of at least 1 (got "${raw}")\n${seedUsage()}`);
  }
  return value;
}

export function parseSeedArgs(argv: string[]): SeedArgs {
  const parsed = commandLine(
    {
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(SIZE_FLAGS).map((flag) => [flag, { type: "string" as const }])),
        reset: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        "history-days": { type: "string" },
        "history-statements": { type: "string" },
      },
    },
    seedUsage(),
  );
  const sizes = { ...DEFAULT_DEMO_SIZES };
  for (const [flag, key] of Object.entries(SIZE_FLAGS)) {
    const raw = (parsed.values as Record<string, unknown>)[flag];
    if (typeof raw === "string") sizes[key] = count(flag, raw);
  }
  const days = parsed.values["history-days"];
  const statements = parsed.values["history-statements"];
  if (statements !== undefined && days === undefined) throw new UsageError(`--history-statements goes with --history-days\n${seedUsage()}`);
  const args: SeedArgs = { sizes, reset: parsed.values.reset === true, help: parsed.values.help === true };
  if (days === undefined) return args;
  const history = {
    days: count("history-days", days),
    statements: statements === undefined ? DEFAULT_HISTORY_STATEMENTS : count("history-statements", statements),
  };
  if (history.days > MAX_HISTORY_DAYS) throw new UsageError(`--history-days must be at most ${MAX_HISTORY_DAYS}\n${seedUsage()}`);
  if (history.statements > MAX_HISTORY_STATEMENTS) throw new UsageError(`--history-statements must be at most ${MAX_HISTORY_STATEMENTS}\n${seedUsage()}`);
  return { ...args, history };
}
