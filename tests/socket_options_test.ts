/**
 * Socket options under their zeromq.js and libzmq names, on loopback.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Reply,
  Request,
  type SocketEvent,
  type SocketOptions,
} from "../lib/zmtp/mod.ts";
import { within } from "./_process.ts";

Deno.test("SocketOptions: the handshake limit is handshakeInterval, as zeromq.js names it; handshakeTimeout is refused", async () => {
  const old = { handshakeTimeout: 500 } as SocketOptions;
  assert.throws(() => new Reply(old), {
    name: "TypeError",
    message: 'Cannot set option "handshakeTimeout": there is no such option',
  });
  await new Reply({ handshakeInterval: 500 }).close();
});

Deno.test("SocketOptions: sendTimeout is accepted, and REQ send() still resolves at once without a peer", async () => {
  await using request = new Request({ sendTimeout: 0 });
  await within(request.send("waits in the socket"), 1000, "send()");
});

Deno.test("Request with reconnectInterval -1 stops after its first refused attempt, without retrying", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const request = new Request({ reconnectInterval: -1 });
  const events = request.events;
  const endpoint = `tcp://127.0.0.1:${port}`;
  request.connect(endpoint);
  const seen: SocketEvent[] = [];
  await within(
    (async () => {
      for await (const event of events) {
        seen.push(event);
        if (event.type === "stopped" || event.type === "retrying") return;
      }
    })(),
    5000,
    "a stopped or retrying event",
  );
  await request.close();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].type, "stopped");
  assert.ok(
    seen[0].type === "stopped" &&
      seen[0].error instanceof Deno.errors.ConnectionRefused,
    String(seen[0].type === "stopped" && seen[0].error),
  );
});
