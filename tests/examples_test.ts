/**
 * The programs in examples/, run as a user runs them: each server and its
 * client as separate processes on loopback, their output checked.
 *
 * @module
 */

import assert from "node:assert/strict";
import { deno } from "./_process.ts";

const LISTENING = /^listening on (tcp:\/\/127\.0\.0\.1:\d+)$/m;

Deno.test("examples/reply.ts and examples/request.ts: each word comes back in capitals; SIGINT closes the server", async () => {
  await using server = deno("examples/reply.ts", ["tcp://127.0.0.1:0"]);
  const [, endpoint] = await server.waitFor(LISTENING);
  const client = await deno("examples/request.ts", [
    endpoint,
    "hello",
    "zeromq",
  ]).finish();
  assert.equal(client.stderr, "");
  assert.equal(client.code, 0);
  assert.equal(client.stdout, "hello -> HELLO\nzeromq -> ZEROMQ\n");
  server.kill("SIGINT");
  const { code, stdout } = await server.finish();
  assert.equal(code, 0);
  assert.equal(
    stdout,
    `listening on ${endpoint}\nreceived hello\nreceived zeromq\nclosed\n`,
  );
});

Deno.test("examples/curve_reply.ts and examples/curve_request.ts: a CURVE client with the printed server key is answered", async () => {
  await using server = deno("examples/curve_reply.ts", ["tcp://127.0.0.1:0"]);
  const [, endpoint] = await server.waitFor(LISTENING);
  const [, serverKey] = await server.waitFor(/^server key (\S{40})$/m);
  const client = await deno("examples/curve_request.ts", [
    endpoint,
    serverKey,
    "secret",
  ]).finish();
  assert.equal(client.stderr, "");
  assert.equal(client.code, 0);
  assert.equal(client.stdout, "secret -> SECRET\n");
  server.kill("SIGTERM");
  const { code, stdout } = await server.finish();
  assert.equal(code, 0);
  assert.match(stdout, /\nreceived secret\nclosed\n$/);
});

Deno.test("examples/curve_request.ts with another server key gets no reply", async () => {
  await using server = deno("examples/curve_reply.ts", ["tcp://127.0.0.1:0"]);
  const [, endpoint] = await server.waitFor(LISTENING);
  const [, serverKey] = await server.waitFor(/^server key (\S{40})$/m);
  // The same key with its first character changed: a key of another server.
  const wrongKey = (serverKey[0] === "0" ? "1" : "0") + serverKey.slice(1);
  const client = await deno("examples/curve_request.ts", [
    endpoint,
    wrongKey,
    "secret",
  ]).finish();
  assert.notEqual(client.code, 0);
  assert.equal(client.stdout, "");
  assert.match(client.stderr, /EAGAIN|Cannot receive/);
  assert.doesNotMatch(server.stdout, /received/);
});
