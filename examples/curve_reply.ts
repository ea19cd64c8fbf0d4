/**
 * A REP server over CURVE (RFC 26): a fresh key pair, whose public key it
 * prints for clients; every connection is encrypted and authenticated.
 * Answers each request with its text in capitals, until SIGINT or SIGTERM.
 *
 *     deno run --allow-net examples/curve_reply.ts [tcp://127.0.0.1:5556]
 *
 * @module
 */

import { curveKeyPair, Reply } from "../lib/zmtp/mod.ts";

const server = await curveKeyPair();
const reply = new Reply({
  curveServer: true,
  curvePublicKey: server.publicKey,
  curveSecretKey: server.secretKey,
});
const stop = () => reply.close();
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

const endpoint = await reply.bind(Deno.args[0] ?? "tcp://127.0.0.1:5556");
console.log(`listening on ${endpoint}`);
console.log(`server key ${server.publicKey}`);

for await (const [request] of reply) {
  const text = new TextDecoder().decode(request);
  console.log(`received ${text}`);
  await reply.send(text.toUpperCase());
}

Deno.removeSignalListener("SIGINT", stop);
Deno.removeSignalListener("SIGTERM", stop);
console.log("closed");
