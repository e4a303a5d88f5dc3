import { describe, expect, it } from "vitest";
import { DEFAULT_DEMO_SIZES } from "../../scripts/demo/data.js";
import { UsageError } from "../../scripts/cli.js";
import { parseSeedArgs } from "../../scripts/seed-args.js";

describe("parseSeedArgs", () => {
  it("defaults every size and reads the flags given", () => {
    expect(parseSeedArgs([])).toEqual({ sizes: DEFAULT_DEMO_SIZES, reset: false, help: false });
    const args = parseSeedArgs(["--messages", "1_000_000", "--conversations=1", "--reset"]);
    expect(args.sizes).toMatchObject({ messages: 1_000_000, conversations: 1 });
    expect(args.reset).toBe(true);
    expect(parseSeedArgs(["--history-days", "3"]).history).toEqual({ days: 3, statements: 200 });
    expect(parseSeedArgs(["--history-days=2", "--history-statements=50"]).history).toEqual({ days: 2, statements: 50 });
  });

  it.each([
    [["--messages", "abc"], /--messages must be a whole number/],
    [["--messages", "0"], /--messages must be a whole number of at least 1/],
    [["--agents", "-3"], /agents/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["extra"], /Unexpected argument 'extra'/],
    [["--history-days", "91"], /--history-days must be at most 90/],
    [["--history-statements", "10"], /--history-statements goes with --history-days/],
    [["--history-days", "1", "--history-statements", "20000"], /--history-statements must be at most 10000/],
  ])("rejects %j with a usage error", (argv, message) => {
    expect(() => parseSeedArgs(argv)).toThrow(UsageError);
    expect(() => parseSeedArgs(argv)).toThrow(message);
  });
});
