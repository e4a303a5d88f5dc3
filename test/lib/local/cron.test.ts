import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { scheduleCrons, type CronRun } from "../../../lib/local/cron.js";

describe("scheduleCrons", () => {
  it("calls each path on its schedule with the cron secret, and stops when told", async () => {
    const seen: string[] = [];
    const server = createServer((request, response) => {
      seen.push(`${request.url} ${request.headers.authorization}`);
      response.writeHead(200).end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const runs: CronRun[] = [];
    const scheduled = scheduleCrons([{ path: "/api/cron/every-second", cron: "* * * * * *" }], {
      baseUrl,
      secret: "local-cron-secret-0123",
      onRun: (run) => runs.push(run),
    });
    await expect.poll(() => runs.length, { timeout: 3000 }).toBeGreaterThanOrEqual(1);
    scheduled.stop();
    const count = runs.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(runs.length).toBe(count);
    expect(runs[0]).toEqual({ path: "/api/cron/every-second", status: 200 });
    expect(seen[0]).toBe("/api/cron/every-second Bearer local-cron-secret-0123");
    await new Promise((resolve) => server.close(resolve));
  });
});
