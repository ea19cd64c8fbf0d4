/**
 * A REP server whose handler gets some requests wrong: `garbage KIND`
 * returns something that is not a message (KIND: number, object, null,
 * empty, async-number), throws (throw) or rejects (reject); any other
 * request is echoed. It must stay up and answer the valid requests.
 *
 *     deno run --allow-net tests/peers/rep_garbage.ts
 *
 * Prints "port N" on stdout once bound, and "error TYPE REMOTE: MESSAGE" on
 * stderr for each error event.
 *
 * @module
 */

import { type MessageLike, Reply } from "../../lib/zmtp/mod.ts";

const garbage: Record<string, () => MessageLike | Promise<MessageLike>> = {
  number: () => 42 as unknown as MessageLike,
  object: () => ({ reply: "42" }) as unknown as MessageLike,
  null: () => null as unknown as MessageLike,
  empty: () => [],
  "async-number": () => Promise.resolve(42 as unknown as MessageLike),
  throw: () => {
    throw new Error("handler broke");
  },
  reject: () => Promise.reject(new Error("handler broke")),
};

const encoder = new TextEncoder();
const reply = new Reply({
  onEvent: (event) => {
    if (event.type !== "error") return;
    const peer = event.peer;
    Deno.stderr.writeSync(encoder.encode(
      `error ${peer?.socketType} ${peer?.remote}: ${event.error.message}\n`,
    ));
  },
});
const endpoint = await reply.bind("tcp://127.0.0.1:0");
console.log(`port ${endpoint.split(":").pop()}`);
Deno.addSignalListener("SIGTERM", () => void reply.close());
await reply.serve((request) => {
  const text = new TextDecoder().decode(request[0]);
  const kind = text.startsWith("garbage ") ? text.slice(8) : undefined;
  return kind === undefined ? request : garbage[kind]();
});
