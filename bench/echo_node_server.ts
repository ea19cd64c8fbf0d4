/**
 * The other floor: the same echo as `echo_server.ts`, on `node:net` under
 * Deno. Deno's `node:net` reads through libuv-style callbacks that its
 * runtime drives from the reactor, one callback per readable socket per
 * turn, so it serves every connection in turn, at about twice the CPU per
 * request of a `Deno.Conn` echo. The benchmark shows both.
 *
 *     deno run --allow-net bench/echo_node_server.ts PORT
 *
 * @module
 */

import { createServer, type Socket } from "node:net";

const port = Number(Deno.args[0] ?? 0);
const server = createServer({ noDelay: true }, (socket: Socket) => {
  socket.on("data", (chunk) => socket.write(chunk));
  // The generator closed the connection.
  socket.on("error", () => socket.destroy());
});
server.listen(port, "127.0.0.1", () => {
  const address = server.address();
  const bound = typeof address === "object" && address !== null
    ? address.port
    : port;
  console.log(`echo listening on port ${bound}`);
});

// Exit cleanly on a signal, so that --cpu-prof can write its profile.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}
