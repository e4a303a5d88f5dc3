/** A private redis-server for a test that stops or stalls it. */
import { spawn, type ChildProcess } from "node:child_process";
import { Redis as RedisClient } from "ioredis";

export interface PrivateRedis {
  url: string;
  /** SIGSTOP: the process stays, its socket stays open, nothing answers. */
  stall(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startRedisServer(port: number): Promise<PrivateRedis> {
  const child: ChildProcess = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const client = new RedisClient(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const up = await client.connect().then(
      () => client.ping(),
      () => undefined,
    );
    client.disconnect();
    if (up === "PONG") break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    stall: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    stop: async () => {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));
    },
  };
}
