import { describe, expect, it } from "vitest";
import { DEFAULT_DEMO_SIZES } from "../../functions/demo-data.js";
import { UsageError } from "../../scripts/cli.js";
import { parseSeedArgs } from "../../scripts/seed-args.js";

describe("parseSeedArgs", () => {
  it("defaults every size and reads the flags given", () => {
    expect(parseSeedArgs([])).toEqual({ sizes: DEFAULT_DEMO_SIZES, reset: false, help: false });
    const args = parseSeedArgs(["--messages", "1_000_000", "--conversations=1", "--reset"]);
    expect(args.sizes).toMatchObject({ messages: 1_000_000, conversations: 1 });
    expect(args.reset).toBe(true);
  });

  it.each([
    [["--messages", "abc"], /--messages must be a whole number/],
    [["--messages", "0"], /--messages must be a whole number of at least 1/],
    [["--agents", "-3"], /agents/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["extra"], /Unexpected argument 'extra'/],
  ])("rejects %j with a usage error", (argv, message) => {
    expect(() => parseSeedArgs(argv)).toThrow(UsageError);
    expect(() => parseSeedArgs(argv)).toThrow(message);
  });
});
