/**
 * A server for the read benchmark, in its own process so the load generator does not
 * share its event loop: `platform` serves api/ like `npm start`; `bare` is the ceiling, a
 * plain node:http server answering every request with the JSON in the file given.
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createLocalServer } from "../lib/server/server.js";

const [mode, bodyFile] = process.argv.slice(2);

async function bareServer(file: string): Promise<Server> {
  const body = await readFile(file);
  return createServer((_request, response) => {
    response.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    response.end(body);
  });
}

const server =
  mode === "bare" && bodyFile ? await bareServer(bodyFile) : await createLocalServer({ apiDir: fileURLToPath(new URL("../api/", import.meta.url)) });
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
