/**
 * The second floor: a TCP echo server on `node:net` under Deno, no protocol
 * at all. Beside bench/echo_server.ts (on `Deno.Conn`) it shows what each of
 * Deno's two socket APIs costs per round trip, and how evenly each serves
 * many connections.
 *
 *     deno run --allow-net bench/node_echo_server.ts PORT
 *
 * @module
 */

import { createServer } from "node:net";

const port = Number(Deno.args[0] ?? 0);
const server = createServer({ noDelay: true }, (socket) => {
  socket.on("data", (chunk) => socket.write(chunk));
  // The generator closing its connections is the normal end.
  socket.on("error", () => socket.destroy());
});
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  console.log(`echo listening on port ${bound}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}
