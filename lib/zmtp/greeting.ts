/**
 * The ZMTP greeting (RFC 23 and 37, "Formal Grammar"; RFC 15 for ZMTP/2.0),
 * in the order libzmq sends it so that older peers can be served (RFC 37,
 * "Version Negotiation"): the 10-octet signature and our major version
 * first; then, once the peer's version is known, either the rest of the
 * 64-octet ZMTP 3 greeting or, for a ZMTP/2.0 peer, its socket-type octet.
 *
 * @module
 */

import { GreetingError, ProtocolError } from "./errors.ts";
import type { SocketType } from "./mechanism.ts";

/** The full ZMTP 3 greeting's size. */
export const GREETING_SIZE = 64;
/** The signature's size: 0xFF, eight octets of padding, 0x7F. */
export const SIGNATURE_SIZE = 10;
/** Where the peer's major version (ZMTP/2.0's "revision") sits. */
export const VERSION_OFFSET = 10;
/** A ZMTP/2.0 greeting: signature, revision, socket type. */
export const V2_GREETING_SIZE = 12;
const MECHANISM_OFFSET = 12;
const MECHANISM_SIZE = 20;
const AS_SERVER_OFFSET = 32;

/** RFC 15's revision octet for ZMTP/2.0. */
export const ZMTP_2_REVISION = 1;

/** RFC 15's socket-type octets for the request-reply family. */
export const V2_SOCKET_TYPES: Readonly<Record<SocketType, number>> = {
  REQ: 3,
  REP: 4,
  DEALER: 5,
  ROUTER: 6,
};
// Every type RFC 15 and libzmq number, for messages about other peers.
const V2_TYPE_NAMES = [
  "PAIR",
  "PUB",
  "SUB",
  "REQ",
  "REP",
  "DEALER",
  "ROUTER",
  "PULL",
  "PUSH",
  "XPUB",
  "XSUB",
];

/**
 * The name of a ZMTP/2.0 socket-type octet, such as `REQ`, or `type N` for
 * a number RFC 15 does not define.
 */
export function v2SocketTypeName(octet: number): string {
  return V2_TYPE_NAMES[octet] ?? `type ${octet}`;
}

/** What a peer's ZMTP 3 greeting announced. */
export interface Greeting {
  /** Major version; 3 or higher is accepted. */
  major: number;
  /** Minor version: 0 is ZMTP 3.0, 1 is ZMTP 3.1. */
  minor: number;
  /** The security mechanism, such as `NULL`. */
  mechanism: string;
  /** The as-server flag. */
  asServer: boolean;
}

/**
 * Builds our ZMTP 3.1 greeting: signature, version 3.1, the mechanism,
 * as-server, filler. The first 11 octets go out at once; the rest only to a
 * peer that speaks ZMTP 3 (see {@link GREETING_HEAD_SIZE}).
 *
 * @param mechanism the security mechanism name
 * @param asServer the as-server flag (zero for NULL)
 * @returns 64 octets
 */
export function encodeGreeting(
  mechanism = "NULL",
  asServer = false,
): Uint8Array {
  const greeting = new Uint8Array(GREETING_SIZE);
  greeting[0] = 0xff;
  // The padding holds 1 as libzmq sends it (an empty identity's length plus
  // one), so that a ZMTP/1.0 peer reads a well-formed frame header.
  greeting[8] = 0x01;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting[11] = 1;
  for (let i = 0; i < mechanism.length; i++) {
    greeting[MECHANISM_OFFSET + i] = mechanism.charCodeAt(i);
  }
  greeting[AS_SERVER_OFFSET] = asServer ? 1 : 0;
  return greeting;
}

/** The signature and major version: what we send before knowing the peer. */
export const GREETING_HEAD_SIZE = SIGNATURE_SIZE + 1;

/**
 * Checks the first octets of a peer's greeting as they arrive, so that a
 * peer sending something else is dropped at its first wrong octet.
 *
 * @param bytes the greeting octets received so far
 * @param from the first octet not checked before
 * @throws {GreetingError} on a ZMTP/1.0 or unversioned peer, or a wrong
 * signature
 */
export function checkSignature(bytes: Uint8Array, from = 0): void {
  if (from <= 0 && bytes.length > 0 && bytes[0] !== 0xff) {
    throw new GreetingError(
      "Greeting does not start with the ZMTP signature (a ZMTP/1.0 peer, or not ZeroMQ)",
    );
  }
  if (from <= 9 && bytes.length > 9 && (bytes[9] & 0x01) !== 1) {
    throw new GreetingError(
      "Greeting signature does not end in 0x7F (a ZMTP/1.0 peer, or not ZeroMQ)",
    );
  }
  if (
    from <= VERSION_OFFSET && bytes.length > VERSION_OFFSET &&
    bytes[VERSION_OFFSET] < ZMTP_2_REVISION
  ) {
    throw new GreetingError(
      "Peer speaks ZMTP/1.0, which is not supported; ZMTP/2.0 or 3.x is",
    );
  }
}

/**
 * Parses a complete ZMTP 3 greeting.
 *
 * @param bytes exactly 64 octets
 * @returns the version, mechanism and as-server flag
 * @throws {ProtocolError} when the greeting is not ZMTP 3 or later, or the
 * mechanism field is malformed
 */
export function parseGreeting(bytes: Uint8Array): Greeting {
  if (bytes.length !== GREETING_SIZE) {
    throw new ProtocolError(`Greeting has ${bytes.length} octets, not 64`);
  }
  checkSignature(bytes);
  if (bytes[VERSION_OFFSET] < 3) {
    throw new GreetingError(
      `Greeting of ZMTP major version ${bytes[VERSION_OFFSET]} is not ZMTP 3`,
    );
  }
  let mechanism = "";
  let ended = false;
  for (let i = 0; i < MECHANISM_SIZE; i++) {
    const octet = bytes[MECHANISM_OFFSET + i];
    if (octet === 0) {
      ended = true;
    } else if (ended || !/[A-Z0-9_.+-]/.test(String.fromCharCode(octet))) {
      throw new ProtocolError("Greeting has a malformed mechanism name");
    } else {
      mechanism += String.fromCharCode(octet);
    }
  }
  return {
    major: bytes[VERSION_OFFSET],
    minor: bytes[11],
    mechanism,
    asServer: bytes[AS_SERVER_OFFSET] === 1,
  };
}
