import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, parseConfig } from "../lib/config.js";

describe(".env.example", () => {
  it("documents exactly the variables the configuration reads, and parses", async () => {
    const text = await readFile(new URL("../.env.example", import.meta.url), "utf8");
    const assignments = text
      .split("\n")
      .map((line) => /^#?\s*([A-Z][A-Z0-9_]+)=(.*)$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null);
    const documented = assignments.map((match) => match[1]);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
    const active = Object.fromEntries(assignments.filter((match) => !match[0].startsWith("#")).map((match) => [match[1], match[2]]));
    expect(() => parseConfig(active)).not.toThrow();
  });
});
