/**
 * The floor: a raw Deno TCP echo server, no protocol at all, one read and one
 * write per round trip. What Deno's TCP API costs per request, measured the
 * same way as the real servers.
 *
 *     deno run --allow-net bench/echo_server.ts PORT
 *
 * @module
 */

const port = Number(Deno.args[0] ?? 0);
const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(`echo listening on port ${(listener.addr as Deno.NetAddr).port}`);

async function echo(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      let written = 0;
      while (written < n) {
        written += await conn.write(buffer.subarray(written, n));
      }
    }
  } catch {
    // The generator closed the connection.
  }
  conn.close();
}

// Exit cleanly on a signal, so that --cpu-prof can write its profile.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}

for await (const conn of listener) {
  conn.setNoDelay(true);
  echo(conn);
}
