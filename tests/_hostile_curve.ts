/**
 * Hostile CURVE input for fuzz tests, in the style of _hostile.ts: our
 * greeting with CURVE, then random, truncated and mutated HELLO and INITIATE
 * commands, HELLO with a bad box or short padding, replayed commands and
 * streams, and forged MESSAGE frames before and after a complete handshake.
 * The choices come from a seeded generator; the keys and nonces inside the
 * boxes are fresh each time, as they must be.
 *
 * Some inputs talk with the server (to get its WELCOME, or to complete a
 * handshake first), so each input is a small program that plays on one
 * connection, which is then dropped.
 *
 * @module
 */

import {
  createCurveFactory,
  type CurveMechanism,
} from "../lib/zmtp/curve_mechanism.ts";
import type { CurveKeyPair } from "../lib/zmtp/curve_keys.ts";
import { generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import {
  COMMAND,
  encodeCommand,
  LONG,
  MORE,
  parseCommand,
} from "../lib/zmtp/frame.ts";
import { encodeGreeting, GREETING_SIZE } from "../lib/zmtp/greeting.ts";
import { HandshakeRefusedError } from "../lib/zmtp/mechanism.ts";
import { CurveDriver } from "./_curve_driver.ts";
import { concat } from "./_hostile.ts";
import { sleep } from "./_process.ts";
import { RawPeer } from "./_raw_peer.ts";

/** What the hostile peers know of the server under attack. */
export interface CurveTarget {
  port: number;
  /** The server's long-term public key. */
  serverKey: Uint8Array;
  /** A client key pair the server admits. */
  admitted: CurveKeyPair;
  /** A good client's whole stream, from {@link captureGoodStream}. */
  captured: CapturedStream;
}

/** The octets a good CURVE client wrote on one connection, by step. */
export interface CapturedStream {
  greeting: Uint8Array;
  hello: Uint8Array;
  initiate: Uint8Array;
  message: Uint8Array;
}

/** How a hostile input ended, as far as the peer could see. */
export type Outcome =
  /** Nothing to see: the input was sent and the connection dropped. */
  | "sent"
  /** The server closed the connection, as it must. */
  | "closed"
  /** The server refused an unknown client key with ERROR "400". */
  | "refused 400"
  /** The server answered a forged or replayed request: a failure. */
  | "answered"
  /** The server neither answered nor closed within the wait. */
  | "still open";

/** One hostile input: its family, and how to play it. */
export interface HostileCurveInput {
  kind: string;
  play(peer: RawPeer, target: CurveTarget): Promise<Outcome>;
}

const CURVE_GREETING = encodeGreeting("CURVE", false);
// How long a peer that expects the server to close waits for it.
const CLOSE_WAIT = 5_000;

/** A CURVE client mechanism (REQ) for `keyPair`, trusting `serverKey`. */
export async function clientMechanism(
  keyPair: CurveKeyPair,
  serverKey: Uint8Array,
): Promise<CurveMechanism> {
  const factory = await createCurveFactory({
    role: "client",
    keyPair,
    serverKey,
  });
  return factory({ socketType: "REQ", isServer: false });
}

/**
 * Runs a good handshake and one request ("7") as an admitted client, and
 * records every octet it wrote: greeting, HELLO, INITIATE, MESSAGE.
 */
export async function captureGoodStream(
  port: number,
  serverKey: Uint8Array,
  admitted: CurveKeyPair,
): Promise<CapturedStream> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const writes: Uint8Array[] = [];
  const recording = {
    read: (buffer: Uint8Array) => conn.read(buffer),
    write: (bytes: Uint8Array) => {
      writes.push(bytes.slice());
      return conn.write(bytes);
    },
    close: () => conn.close(),
  } as unknown as Deno.Conn;
  const driver = await CurveDriver.open(
    recording,
    await clientMechanism(admitted, serverKey),
  );
  try {
    await driver.send(["", "7"]);
    const reply = await driver.receive();
    const text = new TextDecoder().decode(reply[1]);
    if (text !== "14.0") throw new Error(`captured reply is ${text}`);
  } finally {
    driver.close();
  }
  const [greeting, hello, initiate, message] = writes;
  const name = (frame: Uint8Array) =>
    frame[0] & COMMAND
      ? parseCommand(frame.subarray(headerSize(frame))).name
      : "message";
  if (
    writes.length !== 4 || greeting.length !== GREETING_SIZE ||
    name(hello) !== "HELLO" || name(initiate) !== "INITIATE"
  ) {
    throw new Error(`captured ${writes.length} writes, not the four expected`);
  }
  return { greeting, hello, initiate, message };
}

/** One hostile CURVE input, and the family it belongs to. */
export function hostileCurveInput(rand: () => number): HostileCurveInput {
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  // Every choice is drawn here, before any input plays, so that a run is
  // replayed from its seed whatever order the inputs' I/O takes.
  const choice = int(12);
  const variant = int(4);
  const cut = rand();
  const flips: Flip[] = Array.from(
    { length: 1 + int(4) },
    () => ({ at: rand(), xor: 1 + int(255) }),
  );
  const junk = bytes(1 + int(300));
  const small = int(256);
  switch (choice) {
    case 0:
      return inOneGo(
        "random octets after a CURVE greeting",
        "drop",
        () => concat(CURVE_GREETING, junk),
      );
    case 1:
      return inOneGo("truncated HELLO", "drop", async (t) => {
        const hello = await helloFor(t);
        return concat(
          CURVE_GREETING,
          hello.subarray(0, Math.floor(cut * hello.length)),
        );
      });
    case 2:
      // Octets after the frame header change, so that the frame is whole.
      return inOneGo("mutated HELLO", "await close", async (t) => {
        const hello = await helloFor(t);
        return concat(CURVE_GREETING, flipped(hello, headerSize(hello), flips));
      });
    case 3: {
      const randomBox = bytes(80);
      return inOneGo("HELLO with a bad box", "await close", async (t) => {
        if (variant % 2 === 0) {
          // Boxed for another server's key.
          const other = await generateKeyPair();
          return concat(CURVE_GREETING, await helloFor(t, other.publicKey));
        }
        // Or a box of random octets.
        const hello = (await helloFor(t)).slice();
        hello.set(randomBox, hello.length - randomBox.length);
        return concat(CURVE_GREETING, hello);
      });
    }
    case 4:
      return inOneGo(
        "HELLO with short or dirty padding",
        "await close",
        async (t) => {
          const data = parseCommand((await helloFor(t)).subarray(2)).data;
          if (variant <= 1) {
            // Padding cut short: 1 to 72 octets fewer.
            const drop = 1 + (small % 72);
            const short = concat(data.subarray(0, 2), data.subarray(2 + drop));
            return concat(CURVE_GREETING, encodeCommand("HELLO", short));
          }
          if (variant === 2) {
            // A version other than 1.0.
            const versioned = data.slice();
            versioned[small % 2] = small % 2 === 0 ? 2 : 1 + (small >> 1);
            return concat(CURVE_GREETING, encodeCommand("HELLO", versioned));
          }
          // Padding that is not all zero.
          const dirty = data.slice();
          dirty[2 + (small % 72)] = 1 + (small >> 1);
          return concat(CURVE_GREETING, encodeCommand("HELLO", dirty));
        },
      );
    case 5: {
      const names = ["HELLO", "INITIATE", "READY", "WELCOME", "MESSAGE"];
      const size = [194, 248 + small, junk.length][variant % 3];
      const data = size === junk.length ? junk : bytes(size);
      return inOneGo(
        "random handshake command",
        "await close",
        () => concat(CURVE_GREETING, encodeCommand(names[small % 5], data)),
      );
    }
    case 6:
      return {
        kind: variant < 2 ? "mutated INITIATE" : "truncated INITIATE",
        play: async (peer, t) => {
          const mechanism = await clientMechanism(t.admitted, t.serverKey);
          const initiate = await untilWelcome(peer, mechanism);
          if (variant < 2) {
            await peer.write(flipped(initiate, headerSize(initiate), flips));
            return await closedOrOpen(peer);
          }
          const length = Math.floor(cut * initiate.length);
          await peer.write(initiate.subarray(0, length));
          return "sent";
        },
      };
    case 7:
      return {
        kind: "replayed commands",
        play: async (peer, t) => {
          const { captured } = t;
          if (variant === 0) {
            // A good client's whole stream, again, on a new connection.
            await peer.write(
              concat(
                captured.greeting,
                captured.hello,
                captured.initiate,
                captured.message,
              ),
            );
          } else if (variant === 1) {
            // A fresh HELLO, then another connection's INITIATE.
            const mechanism = await clientMechanism(t.admitted, t.serverKey);
            await untilWelcome(peer, mechanism);
            await peer.write(captured.initiate);
          } else if (variant === 2) {
            // The same HELLO twice.
            const hello = await helloFor(t);
            await peer.write(concat(CURVE_GREETING, hello, hello));
          } else {
            // Another connection's HELLO and INITIATE.
            await peer.write(
              concat(captured.greeting, captured.hello, captured.initiate),
            );
          }
          return await readyOrClosed(peer);
        },
      };
    case 8: {
      const frames = Array.from(
        { length: 1 + variant },
        (_, i) =>
          (variant + i) % 2 === 0
            ? encodeCommand("MESSAGE", bytes(8 + int(100)))
            : messageFrame(bytes(24)),
      );
      return inOneGo(
        "MESSAGE frames before INITIATE",
        "await close",
        async (t) => concat(CURVE_GREETING, await helloFor(t), ...frames),
      );
    }
    case 9: {
      const random = bytes(8 + 25);
      return {
        kind: "forged MESSAGE after a complete handshake",
        play: async (peer, t) => {
          const mechanism = await clientMechanism(t.admitted, t.serverKey);
          const driver = await CurveDriver.open(peer.conn, mechanism, 10_000);
          let forged: Uint8Array;
          if (variant === 0) {
            // A valid request with its box tampered with (past the header,
            // the name and the nonce).
            forged = flipped(boxed(mechanism, [String(small)]), 18, flips);
          } else if (variant === 1) {
            // Random octets in a MESSAGE's shape.
            forged = messageFrame(random);
          } else if (variant === 2) {
            // Shorter than a MESSAGE can be.
            forged = messageFrame(random.subarray(0, small % 25));
          } else {
            // A command or message frame of random octets.
            forged = concat(
              new Uint8Array([small % 2 === 0 ? COMMAND : 0, random.length]),
              random,
            );
          }
          await driver.sendRaw(forged);
          return await answeredOrClosed(driver);
        },
      };
    }
    case 10:
      return {
        kind: "replayed MESSAGE after a complete handshake",
        play: async (peer, t) => {
          const mechanism = await clientMechanism(t.admitted, t.serverKey);
          const driver = await CurveDriver.open(peer.conn, mechanism, 10_000);
          const request = boxed(mechanism, ["", String(small)]);
          await driver.sendRaw(request);
          const [, reply] = await driver.receive(10_000);
          const expected = `${small * 2}.0`;
          if (new TextDecoder().decode(reply) !== expected) {
            throw new Error(`good request ${small}: reply is not ${expected}`);
          }
          // The same octets again: a nonce that was used.
          await driver.sendRaw(request);
          return await answeredOrClosed(driver);
        },
      };
    default:
      return {
        kind: "unknown client key",
        play: async (peer, t) => {
          const stranger = await generateKeyPair();
          const mechanism = await clientMechanism(stranger, t.serverKey);
          try {
            const driver = await CurveDriver.open(peer.conn, mechanism, 10_000);
            driver.close();
            return "answered";
          } catch (error) {
            if (error instanceof HandshakeRefusedError) {
              return error.reason === "400" ? "refused 400" : "closed";
            }
            throw error;
          }
        },
      };
  }
}

/** An octet to change: where (a fraction of the span), and how. */
interface Flip {
  at: number;
  xor: number;
}

// The size of a frame's header: flags and a short or long size.
function headerSize(frame: Uint8Array): number {
  return frame[0] & LONG ? 9 : 2;
}

// A copy of `frame` with octets at or after `from` changed.
function flipped(frame: Uint8Array, from: number, flips: Flip[]): Uint8Array {
  const out = frame.slice();
  for (const { at, xor } of flips) {
    out[from + Math.floor(at * (out.length - from))] ^= xor;
  }
  return out;
}

// An input written in one go; then the connection is dropped ("sent"), or
// held until the server closes it, as it must.
function inOneGo(
  kind: string,
  then: "drop" | "await close",
  build: (target: CurveTarget) => Uint8Array | Promise<Uint8Array>,
): HostileCurveInput {
  return {
    kind,
    play: async (peer, target) => {
      await peer.write(await build(target));
      return then === "drop" ? "sent" : await closedOrOpen(peer);
    },
  };
}

// A MESSAGE command's body in a message frame (flags 0), as ZMTP 3.0 framed
// MESSAGE; short, so `data` is at most 247 octets.
function messageFrame(data: Uint8Array): Uint8Array {
  return concat(
    Uint8Array.of(0, 8 + data.length),
    new TextEncoder().encode("\x07MESSAGE"),
    data,
  );
}

async function helloFor(
  target: CurveTarget,
  serverKey = target.serverKey,
): Promise<Uint8Array> {
  const mechanism = await clientMechanism(target.admitted, serverKey);
  return mechanism.nextCommand()!;
}

// One message boxed as MESSAGE frames, as CurveDriver.send would write it.
function boxed(mechanism: CurveMechanism, parts: string[]): Uint8Array {
  const lengths = parts.map((part) => new TextEncoder().encode(part).length);
  const size = lengths.reduce((sum, n) => sum + mechanism.frameSize(n), 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const flags = i < parts.length - 1 ? MORE : 0;
    at = mechanism.encodeFrame(flags, parts[i], lengths[i], out, at);
  }
  return out;
}

// Greets, sends HELLO, reads the server's greeting and WELCOME, and returns
// the INITIATE that answers it (not sent).
async function untilWelcome(
  peer: RawPeer,
  mechanism: CurveMechanism,
): Promise<Uint8Array> {
  await peer.write(concat(CURVE_GREETING, mechanism.nextCommand()!));
  const welcome = await peer.next(10_000);
  if (welcome.kind !== "command" || welcome.name !== "WELCOME") {
    throw new Error(`got ${JSON.stringify(welcome)}, not WELCOME`);
  }
  mechanism.receive("WELCOME", welcome.data);
  return mechanism.nextCommand()!;
}

// "closed" once the server closes (or resets) the connection, reading and
// discarding what it sends until then; "still open" if it does not.
async function closedOrOpen(peer: RawPeer): Promise<Outcome> {
  return await peer.closedByPeer(CLOSE_WAIT) ? "closed" : "still open";
}

// After replayed handshake commands: "answered" if the server sends READY
// or any MESSAGE (anything but WELCOME: it accepted them), else "closed"
// once it closes.
async function readyOrClosed(peer: RawPeer): Promise<Outcome> {
  const deadline = Date.now() + CLOSE_WAIT;
  try {
    while (true) {
      const item = await peer.next(deadline - Date.now());
      if (item.kind !== "command" || item.name !== "WELCOME") return "answered";
    }
  } catch (error) {
    return /no result within/.test(String(error)) ? "still open" : "closed";
  }
}

// After a forged or replayed MESSAGE on a complete handshake: "answered" if
// a reply comes, "closed" when the server closes.
async function answeredOrClosed(driver: CurveDriver): Promise<Outcome> {
  try {
    await driver.receive(CLOSE_WAIT);
    return "answered";
  } catch (error) {
    return /no result within/.test(String(error)) ? "still open" : "closed";
  }
}

/**
 * Connects, plays one input, and drops the connection. The server dropping
 * us first, at any point, counts as "closed".
 */
export async function playAndDrop(
  input: HostileCurveInput,
  target: CurveTarget,
  lingerMs = 0,
): Promise<Outcome> {
  let peer: RawPeer | undefined;
  try {
    peer = await RawPeer.connect(target.port);
    const outcome = await input.play(peer, target);
    if (lingerMs > 0) await sleep(lingerMs);
    return outcome;
  } catch (error) {
    // A mistake of ours, not the server's doing: say so.
    if (
      error instanceof TypeError || error instanceof RangeError ||
      error instanceof ReferenceError || /reply is not/.test(String(error))
    ) {
      throw error;
    }
    return "closed";
  } finally {
    peer?.close();
  }
}
