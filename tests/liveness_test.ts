/**
 * Liveness, with real processes: connects that cannot complete are
 * abandoned in bounded time and never hold up close(); peers that go silent
 * after their handshake (a frozen process, a vanished broker) are found by
 * heartbeats and dropped, and a connecting server reconnects once its broker
 * is back. Separate network stacks and silent link cuts are in
 * tests/liveness_netns_test.ts.
 */
import assert from "node:assert/strict";
import { encodeCommand } from "../lib/zmtp/frame.ts";
import { PeerTimeoutError, type SocketEvent } from "../lib/zmtp/mod.ts";
import { blackholeEndpoint } from "./_netns.ts";
import { RawPeer } from "./_raw_peer.ts";
import {
  deno,
  freePort,
  type Proc,
  python,
  ROOT,
  runClient,
  sleep,
  startBroker,
  startServer,
  within,
} from "./_process.ts";
import { boundReply } from "./_sockets.ts";

Deno.test("client.ts against a host that drops connection requests: one line, exit 1, well under 2 s", async () => {
  await using hole = await blackholeEndpoint();
  const t0 = performance.now();
  const result = await runClient([
    "--connect",
    hole.endpoint,
    "--timeout",
    "300",
    "--retries",
    "2",
  ], "100\n");
  const elapsed = performance.now() - t0;
  console.log(
    `client.ts gave up in ${elapsed.toFixed(0)} ms (${hole.technique})`,
  );
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `no reply after 2 tries: no connection to ${hole.hostname}:${hole.port} within 300 ms\n`,
  );
  // Two tries of 300 ms, the process's start and its close(): a connect
  // that could not be cancelled would hold the close for ~130 s.
  assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
});

Deno.test("server.ts --connect to a host that drops connection requests stops on SIGTERM at once", async () => {
  await using hole = await blackholeEndpoint();
  await using server = deno("server.ts", ["2", "--connect", hole.endpoint]);
  await server.waitFor(/Taking requests from/);
  const t0 = performance.now();
  server.kill("SIGTERM");
  const finished = await server.finish(5_000);
  const elapsed = performance.now() - t0;
  console.log(`server.ts stopped ${elapsed.toFixed(0)} ms after SIGTERM`);
  assert.equal(finished.code, 0, finished.stderr);
  assert.ok(elapsed < 1000, `SIGTERM took ${elapsed.toFixed(0)} ms`);
});

/** A libzmq DEALER holding a connection, stopped by the test when told. */
async function heldDealer(port: number): Promise<Proc> {
  const dealer = python(
    ["-u", `${ROOT}tests/peers/dealer_hold.py`, `tcp://127.0.0.1:${port}`],
    { interactiveStdin: true },
  );
  await dealer.waitFor(/^ready 2\.0$/m);
  return dealer;
}

Deno.test("server.ts drops peers frozen after their handshake within its heartbeat, so --max-connections lets a new client in", async () => {
  await using ours = await startServer([
    "2",
    "0",
    "--max-connections",
    "2",
    "--heartbeat",
    "300",
  ]);
  await using frozen1 = await heldDealer(ours.port);
  await using frozen2 = await heldDealer(ours.port);
  frozen1.kill("SIGSTOP");
  frozen2.kill("SIGSTOP");
  try {
    // The third connection takes the place of a frozen peer (they are
    // idle: tests/bounds_test.ts), or comes once heartbeats have found them
    // dead (300 ms of silence, then 300 more), whichever is first.
    const t0 = performance.now();
    const result = await runClient([String(ours.port)], "21\n");
    const elapsed = performance.now() - t0;
    console.log(
      `the third client was served ${elapsed.toFixed(0)} ms after it started`,
    );
    assert.equal(result.stdout, "42.0\n", result.stderr);
    assert.equal(result.code, 0);
    await ours.server.waitFor(/dropped a silent peer/, 5_000, "stderr");
    assert.ok(elapsed < 5000, `the third client waited ${elapsed} ms`);
  } finally {
    frozen1.kill("SIGCONT");
    frozen2.kill("SIGCONT");
  }
});

Deno.test("server.ts keeps an idle libzmq peer that answers its heartbeats", async () => {
  await using ours = await startServer(["2", "0", "--heartbeat", "100"]);
  await using idle = await heldDealer(ours.port);
  // Twenty heartbeat intervals of silence from the application: libzmq
  // answers each PING, so the connection stays.
  const t0 = Date.now();
  while (Date.now() - t0 < 2000) {
    await sleep(200);
    assert.doesNotMatch(ours.server.stderr, /dropped a silent peer/);
  }
  await idle.write("\n");
  assert.ok(idle.running, "the peer is still connected and running");
});

Deno.test("server.ts behind zmq.proxy finds the broker frozen, reconnects when it is back, and serves again", async () => {
  const front = freePort();
  const back = freePort();
  await using broker = await startBroker(front, back);
  await using server = deno("server.ts", [
    "2",
    "--connect",
    `tcp://127.0.0.1:${back}`,
    "--heartbeat",
    "300",
    "--handshake-timeout",
    "1000",
  ]);
  await server.waitFor(/Taking requests from/);
  const before = await runClient([String(front)], "5\n");
  assert.equal(before.stdout, "10.0\n", before.stderr);

  broker.kill("SIGSTOP");
  try {
    await server.waitFor(/dropped a silent peer/, 5_000, "stderr");
  } finally {
    broker.kill("SIGCONT");
  }
  // The server reconnects (a connection made to the stopped broker's
  // backlog completes once it runs again, or a later attempt does).
  const after = await runClient([
    String(front),
    "--timeout",
    "1000",
    "--retries",
    "10",
  ], "7\n");
  assert.equal(after.stdout, "14.0\n", after.stderr);
  await server.waitFor(/received: 7 sending: 14\.0/);
});

Deno.test("heartbeats keep a peer that reads its replies slowly while it keeps sending: the reader waiting on a write is not silence", async () => {
  // 60 KB replies to a DEALER that reads them slowly: the server's read
  // loop waits on its writes most of the time, and must still count the
  // peer alive (RFC 37: any traffic is a sign of life).
  const events: SocketEvent[] = [];
  const big = "x".repeat(60_000);
  const rep = await boundReply({
    heartbeatInterval: 300,
    heartbeatTimeout: 300,
    onEvent: (event) => {
      if (event.type === "disconnected" && event.error) events.push(event);
    },
  }, () => big);
  using peer = await RawPeer.connect(rep.port);
  await peer.handshake("DEALER");
  const slow = new Uint8Array(65536);
  // A hundred requests at once: six megabytes of replies fill the
  // system's buffers, so the server's writes wait on the reader.
  let sent = 0;
  while (sent < 100) await peer.send("", String(sent++));
  const t0 = Date.now();
  try {
    while (Date.now() - t0 < 2000) {
      await peer.send("", String(sent++));
      // Read some of the replies now and then, never all of them: 0.6 MB/s
      // against the server's megabytes.
      for (let i = 0; i < 1; i++) {
        const n = await peer.conn.read(slow);
        assert.ok(
          n !== null,
          `the server closed the connection after ${sent} requests`,
        );
      }
      await sleep(100);
    }
  } finally {
    await rep[Symbol.asyncDispose]();
  }
  assert.ok(sent >= 110, `${sent} requests sent`);
  assert.deepEqual(events, []);
});

Deno.test("server.ts's PINGs carry twice its --heartbeat as their TTL, in tenths of a second (RFC 37)", async () => {
  await using ours = await startServer(["2", "0", "--heartbeat", "300"]);
  using peer = await RawPeer.connect(ours.port);
  await peer.handshake("REQ");
  // Silent after the handshake: a PING comes after 300 ms.
  const ping = await peer.next(3000);
  assert.equal(ping.kind, "command");
  assert.equal(ping.kind === "command" && ping.name, "PING");
  // --heartbeat 300 stands for a TTL of 600 ms: 6 tenths of a second.
  assert.deepEqual([...ping.data.subarray(0, 2)], [0, 6]);
});

Deno.test("server.ts honours a peer's TTL: with its own heartbeats off, it drops a peer silent for the TTL its PING asked for", async () => {
  await using ours = await startServer(["2", "0", "--heartbeat", "0"]);
  using peer = await RawPeer.connect(ours.port);
  await peer.handshake("DEALER");
  const t0 = performance.now();
  // TTL 3: "close me after 300 ms without traffic from me".
  await peer.write(
    encodeCommand(
      "PING",
      Uint8Array.of(0, 3, ...new TextEncoder().encode("ctx")),
    ),
  );
  const pong = await peer.next(3000);
  assert.equal(pong.kind === "command" && pong.name, "PONG");
  // Nothing more from the peer; it keeps reading, so only the TTL can
  // close it (the server sends no PING with --heartbeat 0).
  const closed = await peer.closedByPeer(5000);
  const ms = performance.now() - t0;
  console.log(
    `the server closed the connection ${ms.toFixed(0)} ms after the PING`,
  );
  assert.ok(closed, "the server closed the connection within 5 s");
  assert.ok(ms >= 290, `closed at ${ms} ms: before the TTL ran out`);
  await ours.server.waitFor(
    /dropped a silent peer: No traffic from the peer within its TTL/,
    5_000,
    "stderr",
  );
});

Deno.test("a peer that stops reading and sending while a write to it is stuck is dropped after six heartbeat periods, not before", async () => {
  // 100 KB replies to a DEALER that never reads them: the server's write
  // fills the system's buffers and stops; the read loop waits on it, so
  // nothing from the peer is read, and heartbeats cannot tell. Only the
  // write's progress can, and it makes none: 6 x (100 + 100) ms.
  const errors: Error[] = [];
  let gone!: () => void;
  const disconnected = new Promise<void>((resolve) => gone = resolve);
  await using rep = await boundReply({
    heartbeatInterval: 100,
    heartbeatTimeout: 100,
    onEvent: (event) => {
      if (event.type !== "disconnected") return;
      if (event.error) errors.push(event.error);
      gone();
    },
  }, () => "x".repeat(100_000));
  using peer = await RawPeer.connect(rep.port);
  await peer.handshake("DEALER");
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) await peer.send("", String(i));
  await within(disconnected, 10_000, "the server dropping the stalled peer");
  const ms = performance.now() - t0;
  console.log(
    `the stalled peer was dropped ${ms.toFixed(0)} ms after its requests`,
  );
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof PeerTimeoutError, String(errors[0]));
  assert.equal(
    errors[0].message,
    "No write to the peer went through within 1200 ms",
  );
  assert.ok(ms >= 1100, `dropped at ${ms} ms: before six periods`);
});
