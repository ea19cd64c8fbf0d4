/**
 * Hostile ZMTP/2.0 input (RFC 15), in the style of _hostile.ts: truncated
 * and mutated 2.0 greetings, bad socket-type octets, random bytes, oversized,
 * truncated and reserved-flag frames after a good greeting, each sent on a
 * connection that is then dropped.
 *
 * A 2.0 greeting is the signature (0xFF, eight octets, 0x7F), the revision
 * (0x01), the socket type (REQ is 0x03), then the identity as a final-short
 * frame. After it, frames are a flags octet (MORE 0x01, LONG 0x02, the rest
 * reserved) and a one-octet size, or an eight-octet one with LONG. RFC 15's
 * grammar has eight zero octets in the signature; libzmq and JeroMQ send the
 * identity's length plus one there (00 .. 00 01), for ZMTP/1.0 peers, and
 * ignore those octets when reading.
 *
 * Not for JeroMQ 0.3.6 peers: it trusts a LONG frame's size and allocates it
 * on its one I/O thread, so one oversized frame wedges the whole process.
 *
 * @module
 */

import { framedSize, LONG, MORE, writeFrame } from "../lib/zmtp/frame.ts";
import { concat, dealerRequest } from "./_hostile.ts";

/** The first ten octets of every 2.0 greeting, as JeroMQ and libzmq send. */
export const SIGNATURE_V2: readonly number[] = [
  0xff,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0x01,
  0x7f,
];

/** Socket-type octets (RFC 15 and libzmq's ZMQ_* values). */
export const SOCKET_TYPE = {
  PAIR: 0x00,
  PUB: 0x01,
  SUB: 0x02,
  REQ: 0x03,
  REP: 0x04,
  DEALER: 0x05,
  ROUTER: 0x06,
  PULL: 0x07,
  PUSH: 0x08,
} as const;

/**
 * One 2.0 frame, which is a 3.x message frame: short when the body is under
 * 256 octets, unless `long`.
 */
export function encodeFrameV2(
  body: Uint8Array,
  more: boolean,
  long = false,
): Uint8Array {
  const flags = more ? MORE : 0;
  if (long) {
    // writeFrame picks the short form by size; a long one is made here.
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(body.length));
    return concat(Uint8Array.of(flags | LONG), size, body);
  }
  const frame = new Uint8Array(framedSize(body.length));
  writeFrame(frame, 0, flags, body);
  return frame;
}

/** A 2.0 greeting: signature, revision 1, socket type, identity frame. */
export function greetingV2(
  socketType: number = SOCKET_TYPE.REQ,
  identity: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return concat(
    Uint8Array.from(SIGNATURE_V2),
    Uint8Array.of(0x01, socketType),
    encodeFrameV2(identity, false),
  );
}

/** One hostile 2.0 input, and the family it belongs to. */
export function hostileZmtp2Input(
  rand: () => number,
): { kind: string; bytes: Uint8Array } {
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
  // A REQ's request on 2.0 has the same octets as on 3.x.
  const request = () => dealerRequest(String(rand()));
  switch (int(8)) {
    case 0: {
      const greeting = greetingV2();
      return {
        kind: "truncated 2.0 greeting",
        bytes: greeting.subarray(0, int(greeting.length)),
      };
    }
    case 1: {
      // Octets 1-8 (the padding) may be anything; the rest matters.
      const greeting = greetingV2();
      for (let i = 0; i < 1 + int(3); i++) {
        greeting[int(greeting.length)] = int(256);
      }
      return {
        kind: "mutated 2.0 greeting",
        bytes: concat(greeting, request()),
      };
    }
    case 2: {
      // Anything but REQ and DEALER, which a REP takes; half the time one
      // that RFC 15 does not define at all.
      const defined = [0x00, 0x01, 0x02, 0x04, 0x06, 0x07, 0x08];
      const type = rand() < 0.5
        ? defined[int(defined.length)]
        : 0x09 + int(256 - 0x09);
      return {
        kind: "bad socket type",
        bytes: concat(greetingV2(type), request()),
      };
    }
    case 3:
      return {
        kind: "2.0 greeting, then random",
        bytes: concat(greetingV2(), bytes(1 + int(200))),
      };
    case 4: {
      // A LONG frame claiming up to 2^64 - 1 octets, as the identity or
      // after it; half the time the top half of the size is zero.
      const size = bytes(8);
      if (rand() < 0.5) size.fill(0, 0, 4);
      size[4] |= 0x01;
      const frame = concat(Uint8Array.of(LONG | int(2)), size, bytes(int(16)));
      const asIdentity = rand() < 0.5;
      return {
        kind: "oversized 2.0 frame",
        bytes: asIdentity
          ? concat(Uint8Array.from(SIGNATURE_V2), Uint8Array.of(1, 3), frame)
          : concat(greetingV2(), frame),
      };
    }
    case 5: {
      const message = rand() < 0.5
        ? request()
        : concat(encodeFrameV2(new Uint8Array(0), true), bytes(int(40)));
      return {
        kind: "truncated 2.0 frame",
        bytes: concat(
          greetingV2(),
          message.subarray(0, int(message.length)),
        ),
      };
    }
    case 6: {
      // Bits 2-7 are reserved in 2.0 (bit 2 is COMMAND in 3.x, and libzmq's
      // shared decoder reads it as one).
      const message = request();
      const at = rand() < 0.5 ? 0 : 2; // the delimiter's or the body's flags
      message[at] |= (1 + int(63)) << 2;
      return {
        kind: "reserved flag bits",
        bytes: concat(greetingV2(), message),
      };
    }
    default: {
      // The identity frame, which RFC 15 makes a final-short frame: with
      // MORE, LONG for a short one, over the 255 octets a short one holds, or
      // starting with a zero octet (libzmq keeps those for its own).
      const identity = [
        encodeFrameV2(bytes(1 + int(20)), true),
        encodeFrameV2(bytes(int(20)), false, true),
        encodeFrameV2(bytes(256 + int(200)), false),
        encodeFrameV2(concat(Uint8Array.of(0), bytes(int(20))), false),
      ][int(4)];
      return {
        kind: "bad identity frame",
        bytes: concat(
          Uint8Array.from(SIGNATURE_V2),
          Uint8Array.of(0x01, SOCKET_TYPE.REQ),
          identity,
          request(),
        ),
      };
    }
  }
}
