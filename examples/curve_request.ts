/**
 * A REQ client over CURVE: needs the server's public key (which
 * `curve_reply.ts` prints), and makes a key pair of its own.
 *
 *     deno run --allow-net examples/curve_request.ts ENDPOINT SERVER_KEY [WORD...]
 *
 * @module
 */

import { curveKeyPair, Request } from "../lib/zmtp/mod.ts";

const [endpoint, serverKey, ...words] = Deno.args;
if (endpoint === undefined || serverKey === undefined) {
  console.error("usage: curve_request.ts ENDPOINT SERVER_KEY [WORD...]");
  Deno.exit(2);
}

const client = await curveKeyPair();
await using request = new Request({
  curveServerKey: serverKey,
  curvePublicKey: client.publicKey,
  curveSecretKey: client.secretKey,
  receiveTimeout: 5000,
});
request.connect(endpoint);

for (const word of words.length > 0 ? words : ["hello"]) {
  await request.send(word);
  const [reply] = await request.receive();
  console.log(`${word} -> ${new TextDecoder().decode(reply)}`);
}
