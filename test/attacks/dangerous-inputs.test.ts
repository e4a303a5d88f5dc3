/**
 * Inputs that looked harmless and were not: a webhook URL with credentials that passed the
 * config check and then never delivered, and a manifest "file" that is a FIFO or a device.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../lib/config.js";
import { TEST_SIGNING_KEY } from "../harness/file-database.js";
import { runScript } from "../harness/scripts.js";

describe("a URL with credentials", () => {
  it.each(["ALERT_WEBHOOK_URL", "BACKUP_WORKER_URL", "PUBLIC_URL"])(
    "%s with user:password@ is refused at start-up, naming the variable and not the password",
    (variable) => {
      const parse = () =>
        parseConfig({ DATABASE_URL: "postgres://u:p@db.example.com:5432/postgres", [variable]: "https://alerts:Hunter2-secret@hooks.example.com/notify" });
      expect(parse).toThrow(ConfigError);
      expect(parse).toThrow(`${variable} must not carry a user or password (user:password@)`);
      let message = "";
      try {
        parse();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toContain("Hunter2");
    },
  );

  it("a URL without one still passes", () => {
    expect(
      parseConfig({ DATABASE_URL: "postgres://u:p@db.example.com:5432/postgres", ALERT_WEBHOOK_URL: "https://hooks.example.com/notify/T0KEN" }).alerts
        .webhookUrl,
    ).toBe("https://hooks.example.com/notify/T0KEN");
  });
});

describe("db:restore given a path that is not a regular file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "gap-fifo-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const machine = () => ({ BACKUP_DIR: dir, BACKUP_SIGNING_KEY: TEST_SIGNING_KEY, DATABASE_URL: "", BACKUP_S3_BUCKET: "" });

  it("a FIFO is refused at once, never waited on", async () => {
    const fifo = path.join(dir, "gap-20261206T000000Z-1.json");
    execFileSync("mkfifo", [fifo]);
    const refused = await runScript("restore", [fifo, "--verify"], machine());
    expect(refused).toEqual({ code: 1, stdout: "", stderr: `error: ${fifo} is not a regular file: not a backup manifest\n` });
  });

  it("a device such as /dev/zero is refused without reading it", async () => {
    expect(await runScript("restore", ["/dev/zero", "--verify"], machine())).toEqual({
      code: 1,
      stdout: "",
      stderr: "error: /dev/zero is not a regular file: not a backup manifest\n",
    });
  });
});
