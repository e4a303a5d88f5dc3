/** The flags of `npm run db:seed`. */
import { DEFAULT_DEMO_SIZES, type DemoSizes } from "../functions/demo-data.js";
import { commandLine, UsageError } from "./cli.js";

export function seedUsage(): string {
  return `usage: npm run db:seed -- [--messages N] [--conversations N] [--agents N]
                        [--organizations N] [--users-per-organization N] [--reset]
  Fills the database at DATABASE_URL with reproducible demo data.
  --reset replaces ALL rows of the platform's tables.
  Defaults: ${Object.entries(SIZE_FLAGS).map(([flag, key]) => `--${flag} ${DEFAULT_DEMO_SIZES[key]}`).join(", ")}`;
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
}

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
      },
    },
    seedUsage(),
  );
  const sizes = { ...DEFAULT_DEMO_SIZES };
  for (const [flag, key] of Object.entries(SIZE_FLAGS)) {
    const raw = (parsed.values as Record<string, unknown>)[flag];
    if (typeof raw === "string") sizes[key] = count(flag, raw);
  }
  return { sizes, reset: parsed.values.reset === true, help: parsed.values.help === true };
}
