/**
 * server.ts under broken and hostile peers, each followed by a normal
 * request that must still get its exact reply. Real process, raw bytes.
 */
import assert from "node:assert/strict";
import { encodeCommand } from "../lib/zmtp/frame.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import { RawPeer, readyCommand } from "./_raw_peer.ts";
import {
  freePort,
  Proc,
  ROOT,
  runClient,
  sleep,
  startServer,
} from "./_process.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** A well-behaved request through our own client, which must succeed. */
async function stillServes(port: number, line = "21", expected = "42.0") {
  const result = await runClient([
    String(port),
    "--timeout",
    "5000",
    "--retries",
    "1",
  ], `${line}\n`);
  assert.equal(result.stdout, `${expected}\n`, result.stderr);
}

Deno.test("server.ts answers long frames and many-part messages", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  using peer = await RawPeer.connect(ours.port);
  await peer.handshake("REQ");
  // A long-form frame (over 255 octets) holding a valid number.
  await peer.send("", " ".repeat(300) + "1" + " ".repeat(300));
  assert.deepEqual(await peer.receiveText(), ["", "2.0"]);
  // 70,000 digits: long, valid, and a huge number.
  await peer.send("", "9".repeat(70_000));
  assert.deepEqual(await peer.receiveText(), ["", "inf"]);
  // Extra parts after the body: the first body frame is the request.
  await peer.send("", "100", "ignored", "also ignored");
  assert.deepEqual(await peer.receiveText(), ["", "200.0"]);
  // A DEALER behind a broker: the envelope comes back intact.
  using dealer = await RawPeer.connect(ours.port);
  await dealer.handshake("DEALER");
  await dealer.send("client-7", "", "1000");
  await dealer.send("client-8", "", "oops");
  assert.deepEqual(await dealer.receiveText(), ["client-7", "", "2000.0"]);
  assert.deepEqual(await dealer.receiveText(), [
    "client-8",
    "",
    "not a 'float'",
  ]);
  await stillServes(ours.port);
});

Deno.test("server.ts refuses a peer of the wrong socket type with ERROR", async () => {
  await using ours = await startServer(["2", "0"]);
  for (const type of ["PUB", "REP", "ROUTER", "PAIR"]) {
    using peer = await RawPeer.connect(ours.port);
    await peer.write(encodeGreeting());
    await peer.write(readyCommand(type));
    const error = await peer.next();
    assert.equal(error.kind, "command");
    assert.ok(error.kind === "command" && error.name === "ERROR");
    assert.equal(
      new TextDecoder().decode(error.data.subarray(1)),
      "Invalid-socket-type",
    );
    assert.ok(await peer.closedByPeer(), `${type} peer disconnected`);
  }
  await stillServes(ours.port);
});

Deno.test("server.ts drops garbage, a wrong greeting and a peer speaking first", async () => {
  await using ours = await startServer(["2", "0"]);
  const attempts: Uint8Array[] = [
    text("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    new Uint8Array(64).fill(0xff),
    (() => {
      const g = encodeGreeting();
      g[10] = 2; // ZMTP 2.0
      return g;
    })(),
    encodeGreeting("CURVE"),
    new Uint8Array([...encodeGreeting(), 0x00, 0x03, 0x31, 0x30, 0x30]), // a message before READY
    new Uint8Array([...encodeGreeting(), 0x04, 0x05, 5, ...text("HELLO")]), // not READY
    new Uint8Array([...encodeGreeting(), ...readyCommand("REQ"), 0xf0, 0x00]), // reserved flags
  ];
  for (const bytes of attempts) {
    using peer = await RawPeer.connect(ours.port);
    await peer.write(bytes);
    assert.ok(
      await peer.closedByPeer(),
      `dropped after ${bytes.length} octets`,
    );
  }
  await stillServes(ours.port);
  // The server wrote nothing about them on stdout and did not crash.
  assert.equal(ours.server.running, true);
});

Deno.test("server.ts keeps serving while a half-sent greeting hangs, and peers vanish mid-frame", async () => {
  await using ours = await startServer(["2", "0"]);
  using half = await RawPeer.connect(ours.port);
  await half.write(encodeGreeting().subarray(0, 5));
  using vanishing = await RawPeer.connect(ours.port);
  await vanishing.handshake("REQ");
  await vanishing.write(new Uint8Array([0x01, 0x00, 0x00, 0xff, 0x31])); // 1 of 255 octets
  vanishing.close();
  await stillServes(ours.port);
  await half.write(encodeGreeting().subarray(5, 20));
  await stillServes(ours.port, "-3", "-6.0");
  // Bytes that are not UTF-8: a clear answer, not a crash (pyzmq's recv_string would raise).
  using peer = await RawPeer.connect(ours.port);
  await peer.handshake("REQ");
  await peer.send("", new Uint8Array([0x31, 0xff, 0xfe]));
  assert.deepEqual(await peer.receiveText(), ["", "not a 'float'"]);
  await ours.server.waitFor(/received: 1\uFFFD\uFFFD sending: not a 'float'/);
});

Deno.test("server.ts --max-message-size drops only the peer that exceeds it", async () => {
  await using ours = await startServer([
    "2",
    "0",
    "--max-message-size",
    "1000",
  ]);
  using fine = await RawPeer.connect(ours.port);
  await fine.handshake("REQ");
  using big = await RawPeer.connect(ours.port);
  await big.handshake("REQ");
  await big.send("", "1".repeat(1001));
  assert.ok(await big.closedByPeer());
  // A hostile size claim of 2^63-1 octets: dropped before any allocation.
  using hostile = await RawPeer.connect(ours.port);
  await hostile.handshake("REQ");
  await hostile.write(
    new Uint8Array([0x02, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  );
  assert.ok(await hostile.closedByPeer());
  // 900 digits fit under the limit (and overflow a double, as in Python).
  await fine.send("", "1".repeat(900));
  assert.deepEqual(await fine.receiveText(), ["", "inf"]);
  await ours.server.waitFor(
    /over 1000 octets \(--max-message-size\) \(said once\)/,
    5000,
    "stderr",
  );
  assert.equal(ours.server.stderr.match(/--max-message-size/g)?.length, 1);
  await stillServes(ours.port);
});

// A REQ mid-request (its delimiter sent, the body held back): busy, so a
// full server refuses newcomers rather than close it (tests/bounds_test.ts).
async function busyPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  await peer.handshake("REQ");
  await peer.write(Uint8Array.of(0x01, 0x00));
  return peer;
}

// A newcomer's greeting and READY, answered with ERROR and a close.
async function refused(port: number): Promise<boolean> {
  using extra = await RawPeer.connect(port);
  await extra.write(encodeGreeting());
  await extra.write(readyCommand("REQ"));
  return await extra.closedByPeer();
}

Deno.test("server.ts --max-connections refuses the extra connection and says so once", async () => {
  await using ours = await startServer(["2", "0", "--max-connections", "2"]);
  using a = await busyPeer(ours.port);
  using b = await busyPeer(ours.port);
  for (let i = 0; i < 3; i++) assert.ok(await refused(ours.port), "refused");
  await ours.server.waitFor(
    /refusing connections: 2 connections are open already/,
    5000,
    "stderr",
  );
  assert.equal(ours.server.stderr.match(/refusing/g)?.length, 1);
  await a.send("4");
  await b.send("4");
  assert.deepEqual(await b.receiveText(), ["", "8.0"]);
  assert.deepEqual(await a.receiveText(), ["", "8.0"]);
  a.close();
  await sleep(100);
  await stillServes(ours.port);
});

Deno.test("server.ts --max-connections 1 says '1 connection is open already'", async () => {
  await using ours = await startServer(["2", "0", "--max-connections", "1"]);
  using _a = await busyPeer(ours.port);
  assert.ok(await refused(ours.port), "refused");
  await ours.server.waitFor(/\(said once\)\n/, 5000, "stderr");
  assert.equal(
    ours.server.stderr,
    "server: refusing connections: 1 connection is open already (--max-connections) (said once)\n",
  );
});

Deno.test("server.ts answers PING with PONG in the middle of traffic", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  using peer = await RawPeer.connect(ours.port);
  await peer.handshake("REQ");
  await peer.write(encodeCommand("PING", new Uint8Array([0, 10, 7, 7])));
  const pong = await peer.next();
  assert.ok(pong.kind === "command" && pong.name === "PONG");
  assert.deepEqual([...pong.data], [7, 7]);
  await peer.send("", "5");
  assert.deepEqual(await peer.receiveText(), ["", "10.0"]);
});

Deno.test("server.ts refuses a message over --max-message-size at the header of the frame that would cross it, before its body comes", async () => {
  await using ours = await startServer([
    "2",
    "0",
    "--quiet",
    "--max-message-size",
    "1000",
  ]);
  using peer = await RawPeer.connect(ours.port);
  await peer.handshake("DEALER");
  // 600 octets, then a frame header claiming 600 more: its body is never
  // sent, so only a refusal at the header closes the connection.
  const first = new Uint8Array([0x03, 0, 0, 0, 0, 0, 0, 0x02, 0x58]);
  await peer.write(new Uint8Array([0x01, 0x00]));
  await peer.write(first);
  await peer.write(new Uint8Array(600));
  await peer.write(new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0x02, 0x58]));
  assert.ok(await peer.closedByPeer(), "closed at the second header");
  await ours.server.waitFor(/over 1000 octets/, 5_000, "stderr");
  await stillServes(ours.port);
});

Deno.test("server.ts refuses a message frame in the middle of the handshake at its header", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  using peer = await RawPeer.connect(ours.port);
  // A whole greeting, then a message frame claiming a megabyte instead of
  // READY: refused at its header, before any body.
  await peer.write(encodeGreeting());
  await peer.write(new Uint8Array([0x02, 0, 0, 0, 0, 0, 0x10, 0, 0]));
  assert.ok(await peer.closedByPeer(), "closed at the header");
  await stillServes(ours.port);
});

Deno.test("server.ts names made-up mechanisms under one heading: a flood of them is one line", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  for (let i = 0; i < 20; i++) {
    using peer = await RawPeer.connect(ours.port);
    await peer.write(encodeGreeting(`X${i}`));
    assert.ok(await peer.closedByPeer(), `peer ${i} refused`);
  }
  await stillServes(ours.port);
  // The notices are written asynchronously: one more refused peer, with a
  // known name, shows that every earlier line has had its turn.
  using last = await RawPeer.connect(ours.port);
  await last.write(encodeGreeting("PLAIN"));
  await last.closedByPeer();
  await ours.server.waitFor(/asks for PLAIN/, 5_000, "stderr");
  const lines = ours.server.stderr.split("\n").filter((l) =>
    /asks for X/.test(l)
  );
  assert.equal(lines.length, 1, ours.server.stderr);
});

Deno.test("server.ts --connect without --allow-net says so once, naming deno task server, and with nothing else to serve exits 1", async () => {
  const port = await freePort();
  await using server = new Proc(Deno.execPath(), [
    "run",
    `${ROOT}server.ts`,
    "2",
    "--connect",
    `tcp://127.0.0.1:${port}`,
  ]);
  const { code, stderr } = await server.finish();
  assert.equal(code, 1);
  assert.equal(
    stderr,
    `server: no longer takes requests from tcp://127.0.0.1:${port}: no permission to connect to 127.0.0.1:${port} (run Deno with --allow-net; deno task server grants it) (not tried again)\n`,
  );
});
