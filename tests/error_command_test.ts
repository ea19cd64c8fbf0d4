/**
 * RFC 37, "Error Handling": "The peer SHALL treat an incoming ERROR command
 * as fatal, and act by closing the connection, and not re-connecting using
 * the same security credentials." And: "The peer SHALL treat an unexpected
 * connection close as a temporary error, and SHOULD reconnect." A peer that
 * refuses our REQ with ERROR is never dialed again; one that merely hangs up
 * is dialed again.
 */
import assert from "node:assert/strict";
import {
  HandshakeRefusedError,
  Request,
  type SocketEvent,
} from "../lib/zmtp/mod.ts";
import { runClient, sleep, within } from "./_process.ts";
import { hangUp, mute, RawServer, refuse } from "./peers/raw_server.ts";

type Stopped = Extract<SocketEvent, { type: "stopped" }>;

/** A Request socket that records its events, and its first `stopped`. */
function recordingRequest() {
  const events: SocketEvent[] = [];
  let onStopped!: (event: Stopped) => void;
  const stopped = new Promise<Stopped>((resolve) => onStopped = resolve);
  const request = new Request({
    onEvent: (event) => {
      events.push(event);
      if (event.type === "stopped") onStopped(event);
    },
  });
  return { request, events, stopped };
}

Deno.test("RFC 37: an ERROR in answer to our REQ's greeting is final: a `stopped` event with HandshakeRefusedError and its reason, and no second connection in 1.5 s", async () => {
  await using server = new RawServer(refuse("go-away"));
  const { request, events, stopped } = recordingRequest();
  await using _request = request;
  const started = performance.now();
  request.connect(server.endpoint);
  const event = await within(stopped, 10_000, "a stopped event");
  assert.equal(event.endpoint, server.endpoint);
  assert.ok(event.error instanceof HandshakeRefusedError, String(event.error));
  assert.equal(event.error.reason, "go-away");
  await sleep(Math.max(0, 1500 - (performance.now() - started)));
  assert.equal(server.accepted, 1);
  assert.equal(events.filter((e) => e.type === "connected").length, 1);
  assert.equal(events.filter((e) => e.type === "retrying").length, 0);
});

Deno.test("compare: a peer that closes the connection without ERROR is dialed again and again", async () => {
  await using server = new RawServer(hangUp);
  const { request, events } = recordingRequest();
  await using _request = request;
  request.connect(server.endpoint);
  await server.accepts(3);
  assert.ok(events.filter((e) => e.type === "retrying").length >= 2);
  assert.equal(events.filter((e) => e.type === "stopped").length, 0);
});

Deno.test("client.ts never dials again a server that refused it with ERROR, while another server lets its tries time out", async () => {
  await using refusing = new RawServer(refuse("go-away"));
  await using silent = new RawServer(mute);
  const result = await runClient([
    "--connect",
    refusing.endpoint,
    "--connect",
    silent.endpoint,
    "--timeout",
    "500",
    "--retries",
    "3",
  ], "100\n");
  assert.equal(result.code, 1, result.stderr);
  assert.equal(refusing.accepted, 1);
});
