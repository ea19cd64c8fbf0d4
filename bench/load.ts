/**
 * A closed-loop load generator on Deno, for what bench/loadgen (C) does not
 * speak: CURVE, new CURVE connections, and idle connections held open.
 * C connections each send a request and wait for its reply before the next,
 * every reply checked byte for byte, through the engine's own handshake
 * (NULL or CURVE, as REQ), or raw bytes for an echo server.
 *
 *     deno run --allow-net bench/load.ts PORT CONNECTIONS DURATION_MS MODE [WARMUP_MS] [SERVER_KEY]
 *
 * MODE is `zmtp` or `echo`; `curve` speaks CURVE (RFC 26) to the server
 * whose public key is SERVER_KEY (Z85), through the engine's own CURVE
 * mechanism; `handshakes` opens and closes CURVE connections on CONNECTIONS
 * loops and counts completed handshakes; `idle` opens CONNECTIONS,
 * handshakes, and holds them until stdin closes. Each connection runs for
 * WARMUP_MS, then the generator prints "ready", waits for a line on stdin,
 * runs each connection for DURATION_MS (finishing the request in flight),
 * and prints one JSON line: requests, errors, elapsedMs, latencies (each
 * request's, in microseconds) and perConnection (the least and most
 * replies a connection got, and how many got none).
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
  durationText,
  mode = "zmtp",
  warmupText = "500",
  serverKeyText,
] = Deno.args;
const port = Number(portText);
const connections = Number(connectionsText);
const durationMs = Number(durationText);
const warmupMs = Number(warmupText);
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
  until: number,
  latencies: number[] | undefined,
): Promise<Driven> {
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
  let i = first;
  for (; performance.now() < until; i++) {
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
  return { count: i - first, errors };
}

// CURVE handshakes, one after another on each of CONNECTIONS loops: no
// errors, since a failed handshake throws.
async function runHandshakes(until: number): Promise<Driven> {
  let count = 0;
  for (; performance.now() < until; count++) {
    const { conn } = await openCurve();
    conn.close();
  }
  return { count, errors: 0 };
}

function same(a: Uint8Array, b: Uint8Array, length: number): boolean {
  if (length !== b.length) return false;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Requests completed on one connection, and how many replies were wrong. */
interface Driven {
  count: number;
  errors: number;
}

async function run(
  conn: Deno.Conn,
  first: number,
  until: number,
  latencies: number[] | undefined,
): Promise<Driven> {
  const buffer = new Uint8Array(4096);
  let errors = 0;
  let i = first;
  for (; performance.now() < until; i++) {
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
  return { count: i - first, errors };
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

/** Drives one connection from request `first` until a time; its counts. */
type Drive = (
  c: number,
  first: number,
  until: number,
  latencies: number[] | undefined,
) => Promise<Driven>;

// Warms up on every connection, prints "ready", waits for the word, then
// runs every connection for the duration and prints one line of results.
// Each connection starts at its own request, so that they do not move in
// step.
async function measure(
  drive: Drive,
  finish: () => void = () => {},
): Promise<never> {
  const each = (ms: number, offset: number, latencies?: number[]) => {
    const until = performance.now() + ms;
    return Promise.all(
      Array.from(
        { length: connections },
        (_, c) => drive(c, c * offset, until, latencies),
      ),
    );
  };
  await each(warmupMs, 7);
  console.log("ready");
  await waitForGo();
  const latencies: number[] = [];
  const t0 = performance.now();
  const driven = await each(durationMs, 13, latencies);
  const elapsedMs = performance.now() - t0;
  finish();
  const counts = driven.map((d) => d.count);
  console.log(JSON.stringify({
    requests: counts.reduce((a, b) => a + b, 0),
    errors: driven.reduce((n, d) => n + d.errors, 0),
    elapsedMs,
    latencies,
    perConnection: {
      min: Math.min(...counts),
      max: Math.max(...counts),
      zero: counts.filter((n) => n === 0).length,
    },
  }));
  Deno.exit(0);
}

if (mode === "handshakes") {
  await measure((_c, _first, until) => runHandshakes(until));
}

if (mode === "curve") {
  const sessions = await Promise.all(
    Array.from({ length: connections }, openCurve),
  );
  await measure(
    (c, first, until, latencies) =>
      runCurve(sessions[c], first, until, latencies),
    () => sessions.forEach(({ conn }) => conn.close()),
  );
}

const conns = await Promise.all(Array.from({ length: connections }, open));
if (mode === "idle") {
  // Prove the server still answers while holding them all.
  const before = await run(conns[0], 0, performance.now() + 200, undefined);
  const answering = conns.slice(1, -1).map(answerPings);
  console.log(
    JSON.stringify({
      ready: true,
      errors: before.errors,
      requests: before.count,
    }),
  );
  await waitForGo();
  const after = await run(conns.at(-1)!, 0, performance.now() + 200, undefined);
  for (const conn of conns) conn.close();
  await Promise.all(answering);
  console.log(JSON.stringify({ errors: after.errors, requests: after.count }));
  Deno.exit(0);
}
await measure(
  (c, first, until, latencies) => run(conns[c], first, until, latencies),
  () => conns.forEach((conn) => conn.close()),
);
