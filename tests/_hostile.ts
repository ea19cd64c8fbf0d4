/**
 * Hostile input for fuzz and soak tests: seeded random, truncated, mutated
 * and oversized greetings and frames, sent on a connection that is then
 * dropped ({@link sendAndDrop}) or held until the server closes it
 * ({@link sendAndAwaitClose}); DEALERs that pipeline requests and never read
 * the replies ({@link withholdReads}); idle peers that answer PING
 * ({@link holdConnection}).
 *
 * @module
 */

import { encodeCommand, encodeMessage } from "../lib/zmtp/frame.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import {
  closeQuietly,
  drain,
  RawPeer,
  readyCommand,
  writeAll,
} from "./_raw_peer.ts";
import { sleep } from "./_process.ts";

// A small deterministic generator (mulberry32), so a failure can be replayed.
export function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** One hostile input, and the family it belongs to. */
export function hostileInput(
  rand: () => number,
): { kind: string; bytes: Uint8Array } {
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  const handshake = concat(encodeGreeting(), readyCommand("REQ"));
  switch (int(8)) {
    case 0:
      return { kind: "random bytes", bytes: bytes(1 + int(300)) };
    case 1:
      return {
        kind: "truncated greeting",
        bytes: encodeGreeting().subarray(0, int(64)),
      };
    case 2: {
      const greeting = encodeGreeting();
      for (let i = 0; i < 1 + int(4); i++) greeting[int(64)] = int(256);
      return {
        kind: "mutated greeting",
        bytes: concat(greeting, readyCommand("REQ")),
      };
    }
    case 3:
      return {
        kind: "random frames",
        bytes: concat(handshake, bytes(1 + int(200))),
      };
    case 4: {
      // A long frame claiming more than the limit, up to 2^64 - 1 octets.
      const size = bytes(8);
      if (rand() < 0.5) size.fill(0, 0, 4);
      size[4] |= 0x01;
      return {
        kind: "oversized frame",
        bytes: concat(handshake, new Uint8Array([0x02 | int(2)]), size),
      };
    }
    case 5: {
      const message = encodeMessage([
        new Uint8Array(0),
        new TextEncoder().encode(String(rand())),
      ]);
      return {
        kind: "truncated frame",
        bytes: concat(handshake, message.subarray(0, int(message.length))),
      };
    }
    case 6: {
      const ready = readyCommand(
        ["PUB", "REP", "ROUTER", "", "X".repeat(200)][int(5)],
      );
      return {
        kind: "bad READY",
        bytes: concat(
          encodeGreeting(),
          ready.subarray(0, 2 + int(ready.length)),
        ),
      };
    }
    default: {
      const command = encodeCommand(
        ["PING", "READY", "ERROR", "SUBSCRIBE"][int(4)],
        bytes(int(40)),
      );
      return {
        kind: "stray command",
        bytes: concat(handshake, command, bytes(int(20))),
      };
    }
  }
}

/**
 * Connects, writes all of `bytes`, waits `waitMs`, and closes. The server
 * closing first, at any point, is not an error.
 */
export async function sendAndDrop(
  port: number,
  bytes: Uint8Array,
  waitMs: number,
): Promise<void> {
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(conn, bytes);
    if (waitMs > 0) await sleep(waitMs);
  } catch {
    // The server dropping us, mid-write or before, is a fine outcome.
  } finally {
    closeQuietly(conn);
  }
}

/** What a {@link withholdReads} peer managed to write. */
export interface Withheld {
  /** Octets of requests the server's side of TCP took. */
  written: number;
  /** Whole requests among them. */
  requests: number;
  /** `Date.now()` of the last write that made progress. */
  lastProgress: number;
  /** True when the connection failed (the server closed or reset it). */
  failed: boolean;
}

/**
 * One `["", body]` request as a DEALER (or a REQ) sends it to a REP, on ZMTP
 * 3.x or 2.0 alike.
 */
export function dealerRequest(body: string | Uint8Array): Uint8Array {
  return encodeMessage([
    new Uint8Array(0),
    typeof body === "string" ? new TextEncoder().encode(body) : body,
  ]);
}

/**
 * A raw DEALER that greets, sends READY as DEALER, then writes requests
 * `["", body]` as fast as the socket takes them (up to `limit` octets) and
 * never reads a reply, which DEALER may legally do, until `stop` resolves;
 * then it closes. The returned object is live: read it while the peer runs.
 */
export function withholdReads(
  port: number,
  stop: Promise<void>,
  body: string | Uint8Array = "1",
  limit = Infinity,
): { progress: Withheld; done: Promise<Withheld> } {
  const progress: Withheld = {
    written: 0,
    requests: 0,
    lastProgress: Date.now(),
    failed: false,
  };
  const request = dealerRequest(body);
  // About 64 KiB of requests per write.
  const batch = concat(
    ...Array.from(
      { length: Math.max(1, Math.floor(65536 / request.length)) },
      () => request,
    ),
  );
  const done = (async () => {
    let stopped = false;
    const stopping = stop.then(() => {
      stopped = true;
    });
    let conn: Deno.TcpConn | undefined;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(conn, concat(encodeGreeting(), readyCommand("DEALER")));
      let at = 0;
      while (!stopped && progress.written < limit) {
        const write = conn.write(
          batch.subarray(
            at,
            at + Math.min(batch.length - at, limit - progress.written),
          ),
        );
        // A write the server holds back never resolves: the stop ends it
        // (closing the connection makes it reject).
        const n = await Promise.race([write, stopping.then(() => -1)]);
        if (n < 0) {
          write.catch(() => {});
          break;
        }
        progress.written += n;
        progress.requests = Math.floor(progress.written / request.length);
        progress.lastProgress = Date.now();
        at = (at + n) % batch.length;
      }
      // Written all it would: hold the connection, still reading nothing.
      if (!stopped) await stopping;
    } catch {
      progress.failed = true;
    } finally {
      closeQuietly(conn);
    }
    return progress;
  })();
  return { progress, done };
}

/** How a hostile connection ended. */
export interface HostileEnd {
  /** The server closed it (end of stream or reset) within the bound. */
  closedByServer: boolean;
  /** Milliseconds from connecting to the server's close, or to giving up. */
  ms: number;
}

/**
 * Connects, writes `bytes`, then reads whatever the server sends until it
 * closes the connection, for at most `ms` milliseconds; then closes it from
 * this side if it is still open. Never answers anything, PING included.
 */
export async function sendAndAwaitClose(
  port: number,
  bytes: Uint8Array,
  ms: number,
): Promise<HostileEnd> {
  const start = performance.now();
  const elapsed = () => Math.round(performance.now() - start);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return { closedByServer: false, ms: elapsed() };
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, ms);
  try {
    try {
      await writeAll(conn, bytes);
    } catch {
      // The server closed first, mid-write: the read below says so.
    }
    // Until the server closes or resets it, or the timer closes it here.
    await drain(conn);
    return { closedByServer: !timedOut, ms: elapsed() };
  } finally {
    clearTimeout(timer);
    if (!timedOut) closeQuietly(conn);
  }
}

/**
 * Whether `bytes`, sent by a ZMTP/2.0 peer to a REP, leave that peer in good
 * standing: a complete greeting the REP accepts (signature, revision 1, REQ
 * or DEALER, an identity frame without MORE), then frames that break no rule
 * so far (no reserved flag bits, no frame or message over the limits), the
 * last maybe unfinished. ZMTP/2.0 has no heartbeats, so a server may keep
 * such a peer, idle, for ever (libzmq does too); anything else it must close.
 */
export function zmtp2InGoodStanding(
  bytes: Uint8Array,
  maxMessageSize: number,
): boolean {
  if (
    bytes.length < 12 || bytes[0] !== 0xff || (bytes[9] & 0x01) !== 1 ||
    bytes[10] !== 1 || (bytes[11] !== 3 && bytes[11] !== 5)
  ) {
    return false;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let identity = true;
  let message = 0;
  for (let at = 12; at < bytes.length;) {
    const flags = bytes[at];
    if ((flags & 0xfc) !== 0 || (identity && (flags & 0x01) !== 0)) {
      return false;
    }
    const long = (flags & 0x02) !== 0;
    const header = long ? 9 : 2;
    if (at + header > bytes.length) return !identity;
    const size = long ? Number(view.getBigUint64(at + 1)) : bytes[at + 1];
    if (size > maxMessageSize + 64) return false;
    if (!identity) {
      message += size;
      if (message > maxMessageSize) return false;
      if ((flags & 0x01) === 0) message = 0;
    }
    at += header + size;
    if (at > bytes.length) return !identity;
    identity = false;
  }
  return !identity;
}

/** A held connection's count of what it did. */
export interface Held {
  /** PINGs received and answered with PONG. */
  pings: number;
  /** True when the server closed it before the stop. */
  closedByServer: boolean;
}

/**
 * A peer that completes the handshake as `socketType`, then sits idle for
 * as long as it is held, answering each PING with a PONG, as a live idle
 * client does, until `stop` resolves; then it closes.
 */
export async function holdConnection(
  port: number,
  stop: Promise<void>,
  socketType = "DEALER",
): Promise<Held> {
  const held: Held = { pings: 0, closedByServer: false };
  let stopped = false;
  const peer = await RawPeer.connect(port);
  const stopping = stop.then(() => {
    stopped = true;
    peer.close();
  });
  try {
    await peer.handshake(socketType);
    while (!stopped) {
      const item = await peer.next(3_600_000);
      if (item.kind === "command" && item.name === "PING") {
        held.pings++;
        // PONG carries the PING's context, after its two-octet TTL.
        await peer.write(encodeCommand("PONG", item.data.subarray(2)));
      }
    }
  } catch (error) {
    if (!stopped) {
      held.closedByServer = true;
      if (!/closed by the peer/.test(String(error))) throw error;
    }
  } finally {
    peer.close();
  }
  await stopping;
  return held;
}
