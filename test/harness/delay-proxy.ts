/**
 * A TCP proxy that holds every chunk a fixed time in each direction: a network of that
 * one-way latency between the function and its database, on one machine. Nagle's algorithm is
 * off on both sides (TCP_NODELAY): it would otherwise add stalls of its own to small writes.
 * Chunks keep their order: each direction writes in arrival order once its delay is over.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface DelayProxy {
  port: number;
  /**
   * The client's flights so far: each time it sends after the server last did (or first), on
   * any connection. A query in one round trip is one flight, whatever TCP splits it into.
   */
  flights(): number;
  close(): Promise<void>;
}

function delayed(from: Socket, to: Socket, oneWayMs: number, onData: () => void): void {
  from.on("data", (chunk: Buffer) => {
    onData();
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, oneWayMs);
  });
  from.on("end", () => setTimeout(() => to.end(), oneWayMs));
  from.on("error", () => to.destroy());
}

export async function startDelayProxy(target: { host: string; port: number }, oneWayMs: number): Promise<DelayProxy> {
  let flights = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target);
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    }
    let serverSpokeLast = true;
    delayed(client, upstream, oneWayMs, () => {
      if (serverSpokeLast) flights++;
      serverSpokeLast = false;
    });
    delayed(upstream, client, oneWayMs, () => (serverSpokeLast = true));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    flights: () => flights,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
