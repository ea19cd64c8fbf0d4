/**
 * A closed-loop load generator: C connections, each sending a request and
 * waiting for its reply before the next, every reply checked byte for byte.
 * It speaks ZMTP through the engine's own handshake (NULL or CURVE, as REQ)
 * and sends each request framed, to drive any REP server alike, or raw bytes
 * for the echo floor.
 *
 *     deno run --allow-net bench/load.ts PORT CONNECTIONS REQUESTS MODE [WARMUP] [SERVER_KEY]
 *
 * MODE is `zmtp` or `echo`; `curve` speaks CURVE (RFC 26) to the server
 * whose public key is SERVER_KEY (Z85), through the engine's own CURVE
 * mechanism; `handshakes` opens and closes CURVE connections, REQUESTS of
 * them over CONNECTIONS loops, and counts completed handshakes; `idle` opens
 * CONNECTIONS, handshakes, and holds them until stdin closes. Prints "ready"
 * after warm-up, waits for a line on stdin, runs, and prints one JSON line of
 * results.
 *
 * @module
 */

import { replyFor } from "../lib/protocol.ts";
import {
  COMMAND,
  EMPTY,
  encodeCommand,
  encodeMessage,
  FrameDecoder,
  MORE,
  parseCommand,
} from "../lib/zmtp/frame.ts";
import { GREETING_HEAD, Handshake } from "../lib/zmtp/handshake.ts";
import type { Mechanism } from "../lib/zmtp/mechanism.ts";
import { NullMechanism } from "../lib/zmtp/null_mechanism.ts";
import { createCurveFactory } from "../lib/zmtp/curve_mechanism.ts";
import { generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import { decodeZ85Key } from "../lib/zmtp/z85.ts";

const [
  portText,
  connectionsText,
  requestsText,
  mode = "zmtp",
  warmupText = "500",
  serverKeyText,
] = Deno.args;
const port = Number(portText);
const connections = Number(connectionsText);
const requests = Number(requestsText);
const warmup = Number(warmupText);
const encoder = new TextEncoder();

// Request i carries the number i % 1000; its expected reply is Python's.
const VARIANTS = 1000;
const requestBytes: Uint8Array[] = [];
const replyBytes: Uint8Array[] = [];
const requestBodies: Uint8Array[] = [];
const replyBodies: Uint8Array[] = [];
for (let i = 0; i < VARIANTS; i++) {
  requestBodies.push(encoder.encode(String(i)));
  replyBodies.push(encoder.encode(replyFor(String(i), 2)));
  const request = encodeMessage([new Uint8Array(0), encoder.encode(String(i))]);
  requestBytes.push(request);
  replyBytes.push(
    mode === "echo" ? request : encodeMessage([
      new Uint8Array(0),
      encoder.encode(replyFor(String(i), 2)),
    ]),
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

// The handshake, by the engine's own Handshake and mechanism, client side:
// NULL, or CURVE with a fresh key pair per generator process (the servers
// admit any client that knows their key).
const curveFor = mode === "curve" || mode === "handshakes"
  ? await createCurveFactory({
    role: "client",
    keyPair: await generateKeyPair(),
    serverKey: decodeZ85Key(serverKeyText ?? ""),
  })
  : undefined;
const LIMITS = { maxMessageFrame: 4096, maxCommandFrame: 4096 };

async function open(): Promise<Deno.Conn> {
  if (mode !== "zmtp" && mode !== "idle") {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return conn;
  }
  return (await openWith(
    new NullMechanism({ socketType: "REQ", isServer: false }),
  )).conn;
}

/** One connection, after its handshake. */
interface Session {
  conn: Deno.Conn;
  mechanism: Mechanism;
  decoder: FrameDecoder;
}

function openCurve(): Promise<Session> {
  return openWith(curveFor!({ socketType: "REQ", isServer: false }));
}

async function openWith(mechanism: Mechanism): Promise<Session> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const out: Uint8Array[] = [];
  const shake = new Handshake(mechanism, "REQ", (bytes) => out.push(bytes));
  const decoder = new FrameDecoder(LIMITS);
  const sink = {
    frame: (flags: number, body: Uint8Array) =>
      shake.frame(flags, body, (flags & COMMAND) !== 0),
  };
  await writeAll(conn, GREETING_HEAD);
  const buffer = new Uint8Array(4096);
  while (!shake.ready) {
    const n = await conn.read(buffer);
    if (n === null) throw new Error("server closed during the handshake");
    const start = shake.greetingDone ? 0 : shake.greeting(buffer, 0, n);
    if (shake.greetingDone && start < n) decoder.push(buffer, sink, start, n);
    for (const bytes of out.splice(0)) await writeAll(conn, bytes);
    if (shake.error !== undefined) throw shake.error;
  }
  return { conn, mechanism, decoder };
}

async function runCurve(
  session: Session,
  first: number,
  count: number,
  latencies: number[] | undefined,
): Promise<number> {
  const { conn, mechanism, decoder } = session;
  const out = new Uint8Array(4096);
  const buffer = new Uint8Array(4096);
  let errors = 0;
  let reply: Uint8Array | undefined;
  let done = false;
  const plain = {
    frame: (flags: number, body: Uint8Array) => {
      if (flags & COMMAND) return;
      if (!(flags & MORE)) {
        reply = body;
        done = true;
      }
    },
  };
  const sink = {
    frame: (flags: number, body: Uint8Array) =>
      mechanism.decodeFrame(flags, body, plain),
  };
  for (let i = first; i < first + count; i++) {
    const body = requestBodies[i % VARIANTS];
    const t0 = performance.now();
    let at = mechanism.encodeFrame(MORE, EMPTY, 0, out, 0);
    at = mechanism.encodeFrame(0, body, body.length, out, at);
    await writeAll(conn, out.subarray(0, at));
    done = false;
    while (!done) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("server closed the connection");
      decoder.push(buffer, sink, 0, n);
    }
    latencies?.push(Math.round((performance.now() - t0) * 1000));
    const expected = replyBodies[i % VARIANTS];
    if (!same(reply!, expected, reply!.length)) errors++;
  }
  return errors;
}

// CURVE handshakes, one after another on each of CONNECTIONS loops.
// Returns the errors: none, since a failed handshake throws.
async function runHandshakes(count: number): Promise<number> {
  for (let i = 0; i < count; i++) {
    const { conn } = await openCurve();
    conn.close();
  }
  return 0;
}

function same(a: Uint8Array, b: Uint8Array, length: number): boolean {
  if (length !== b.length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function run(
  conn: Deno.Conn,
  first: number,
  count: number,
  latencies: number[] | undefined,
) {
  const buffer = new Uint8Array(4096);
  let errors = 0;
  for (let i = first; i < first + count; i++) {
    const expected = replyBytes[i % VARIANTS];
    const t0 = performance.now();
    await writeAll(conn, requestBytes[i % VARIANTS]);
    let have = 0;
    while (have < expected.length) {
      const n = await conn.read(buffer.subarray(have));
      if (n === null) throw new Error("server closed the connection");
      have += n;
    }
    latencies?.push(Math.round((performance.now() - t0) * 1000));
    if (!same(buffer, expected, have)) errors++;
  }
  return errors;
}

async function waitForGo(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  await reader.read();
  reader.releaseLock();
}

// Idle connections answer the server's heartbeats, as libzmq's would, so
// that the server keeps them for as long as the bench holds them.
async function answerPings(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(256);
  const pong = encodeCommand("PONG", new Uint8Array(0));
  const decoder = new FrameDecoder(LIMITS);
  let pings = 0;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return;
      decoder.push(buffer.subarray(0, n), {
        frame: (flags, body) => {
          if ((flags & COMMAND) && parseCommand(body).name === "PING") pings++;
        },
      });
      for (; pings > 0; pings--) await writeAll(conn, pong);
    }
  } catch {
    // Closed by the bench at the end.
  }
}

const perConnection = (n: number, c: number) =>
  Math.floor(n / connections) + (c < n % connections ? 1 : 0);

/** Drives one connection: `count` requests from `first`; returns errors. */
type Drive = (
  c: number,
  first: number,
  count: number,
  latencies: number[] | undefined,
) => Promise<number>;

// Warms up on every connection, prints "ready", waits for the word, then
// times REQUESTS spread over the connections and prints one line of
// results. Each connection starts at its own request, so that they do not
// move in step.
async function measure(
  drive: Drive,
  finish: () => void = () => {},
): Promise<never> {
  const each = (n: number, offset: number, latencies?: number[]) =>
    Promise.all(
      Array.from(
        { length: connections },
        (_, c) => drive(c, c * offset, perConnection(n, c), latencies),
      ),
    );
  await each(warmup, 7);
  console.log("ready");
  await waitForGo();
  const latencies: number[] = [];
  const t0 = performance.now();
  const errors = (await each(requests, 13, latencies))
    .reduce((a, b) => a + b, 0);
  const elapsedMs = performance.now() - t0;
  finish();
  // Handshakes have no latencies: each counts once.
  const done = mode === "handshakes" ? requests : latencies.length;
  console.log(
    JSON.stringify({ requests: done, errors, elapsedMs, latencies }),
  );
  Deno.exit(0);
}

if (mode === "handshakes") {
  await measure((_c, _first, count) => runHandshakes(count));
}

if (mode === "curve") {
  const sessions = await Promise.all(
    Array.from({ length: connections }, openCurve),
  );
  await measure(
    (c, first, count, latencies) =>
      runCurve(sessions[c], first, count, latencies),
    () => sessions.forEach(({ conn }) => conn.close()),
  );
}

const conns = await Promise.all(Array.from({ length: connections }, open));
if (mode === "idle") {
  // Prove the server still answers while holding them all.
  const errors = await run(conns[0], 0, 100, undefined);
  const answering = conns.slice(1, -1).map(answerPings);
  console.log(JSON.stringify({ ready: true, errors }));
  await waitForGo();
  const errorsAfter = await run(conns[conns.length - 1], 0, 100, undefined);
  for (const conn of conns) conn.close();
  await Promise.all(answering);
  console.log(JSON.stringify({ errors: errorsAfter }));
  Deno.exit(0);
}
await measure(
  (c, first, count, latencies) => run(conns[c], first, count, latencies),
  () => conns.forEach((conn) => conn.close()),
);
