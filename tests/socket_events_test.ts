/**
 * `socket.events`, the async iterable of a socket's events (zeromq.js v6's
 * `for await (const event of socket.events)`), on loopback sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Reply,
  Request,
  SOCKET_EVENT_LIMIT,
  type SocketEvent,
} from "../lib/zmtp/mod.ts";
import { within } from "./_process.ts";

async function collect(
  events: AsyncIterable<SocketEvent>,
): Promise<SocketEvent["type"][]> {
  const types: SocketEvent["type"][] = [];
  for await (const event of events) types.push(event.type);
  return types;
}

Deno.test("Socket.events yields a peer's events in order and ends when the socket closes", async () => {
  const reply = new Reply();
  const reading = collect(reply.events);
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  const request = new Request();
  request.connect(endpoint);
  await request.send("ping");
  await reply.receive();
  await reply.send("pong");
  await request.receive();
  await request.close();
  await reply.close();
  const types = await within(reading, 5000, "the events loop");
  assert.deepEqual(
    types.filter((type) => type !== "disconnected"),
    ["bound", "accepted", "ready"],
  );
  assert.ok(types.includes("disconnected"), types.join());
});

Deno.test("Socket.events keeps nothing from before it is first read", async () => {
  const reply = new Reply();
  await reply.bind("tcp://127.0.0.1:0");
  const events = reply.events;
  await reply.bind("tcp://127.0.0.1:0");
  await reply.close();
  const types = await within(collect(events), 5000, "the events loop");
  assert.deepEqual(types, ["bound"]);
});

Deno.test("Socket.events keeps at most SOCKET_EVENT_LIMIT unread events and counts the rest as dropped", async () => {
  let emitted = 0;
  let enough!: () => void;
  const flooded = new Promise<void>((resolve) => enough = resolve);
  // A peer that refuses at once, retried every millisecond: a steady stream
  // of "retrying" events that nobody reads.
  const refusing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = refusing.addr.port;
  refusing.close();
  const request = new Request({
    reconnectInterval: 1,
    reconnectMaxInterval: 1,
    onEvent: () => {
      if (++emitted === SOCKET_EVENT_LIMIT + 50) enough();
    },
  });
  const events = request.events;
  request.connect(`tcp://127.0.0.1:${port}`);
  await within(flooded, 30_000, "the flood of events");
  await request.close();
  const kept = await within(collect(events), 5000, "the events loop");
  assert.equal(kept.length, SOCKET_EVENT_LIMIT);
  assert.equal(events.dropped, emitted - SOCKET_EVENT_LIMIT);
});

Deno.test("Socket.events: a loop left early does not end the events; the next loop goes on", async () => {
  const reply = new Reply();
  const events = reply.events;
  await reply.bind("tcp://127.0.0.1:0");
  await reply.bind("tcp://127.0.0.1:0");
  for await (const event of events) {
    assert.equal(event.type, "bound");
    break;
  }
  await reply.close();
  assert.deepEqual(await within(collect(events), 5000, "the second loop"), [
    "bound",
  ]);
});
