/**
 * A REP server: answers each request with its text in capitals, until
 * Ctrl-C (SIGINT) or SIGTERM closes it gracefully.
 *
 *     deno run --allow-net examples/reply.ts [tcp://127.0.0.1:5555]
 *
 * @module
 */

import { Reply } from "../lib/zmtp/mod.ts";

const reply = new Reply();
const stop = () => reply.close();
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

const endpoint = await reply.bind(Deno.args[0] ?? "tcp://127.0.0.1:5555");
console.log(`listening on ${endpoint}`);

// The loop ends when the socket closes.
for await (const [request] of reply) {
  const text = new TextDecoder().decode(request);
  console.log(`received ${text}`);
  await reply.send(text.toUpperCase());
}

Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);
console.log("closed");
