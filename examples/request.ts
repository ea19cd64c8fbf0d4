/**
 * A REQ client: sends each word as a request and prints the reply.
 *
 *     deno run --allow-net examples/request.ts tcp://127.0.0.1:5555 hello world
 *
 * @module
 */

import { Request } from "../lib/zmtp/mod.ts";

const [endpoint = "tcp://127.0.0.1:5555", ...words] = Deno.args;

// A reply that takes over 5 s rejects with code "EAGAIN".
await using request = new Request({ receiveTimeout: 5000 });
request.connect(endpoint);

for (const word of words.length > 0 ? words : ["hello"]) {
  await request.send(word);
  const [reply] = await request.receive();
  console.log(`${word} -> ${new TextDecoder().decode(reply)}`);
}
