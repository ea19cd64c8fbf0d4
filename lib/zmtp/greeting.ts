/**
 * The 64-octet ZMTP 3 greeting: signature, version, mechanism, as-server and
 * filler (RFC 37, "Formal Grammar").
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** The greeting's fixed size. */
export const GREETING_SIZE = 64;
const MECHANISM_OFFSET = 12;
const MECHANISM_SIZE = 20;
const AS_SERVER_OFFSET = 32;

/** What a peer's greeting announced. */
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
 * Builds our greeting: ZMTP 3.1, zero padding, the mechanism, as-server.
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
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting[11] = 1;
  for (let i = 0; i < mechanism.length; i++) {
    greeting[MECHANISM_OFFSET + i] = mechanism.charCodeAt(i);
  }
  greeting[AS_SERVER_OFFSET] = asServer ? 1 : 0;
  return greeting;
}

/** Our NULL greeting, shared by every connection; never modify it. */
export const NULL_GREETING: Uint8Array = encodeGreeting();

/**
 * Checks the first `length` octets of a greeting as they arrive, so that a
 * peer sending something else is dropped at its first wrong octet rather
 * than after 64.
 *
 * @param bytes the greeting octets received so far
 * @param from the first octet not checked before
 * @throws {ProtocolError} on a wrong signature or a version below 3
 */
export function checkGreetingPrefix(bytes: Uint8Array, from = 0): void {
  if (from <= 0 && bytes.length > 0 && bytes[0] !== 0xff) {
    throw new ProtocolError("Greeting does not start with the ZMTP signature");
  }
  if (from <= 9 && bytes.length > 9 && (bytes[9] & 0x01) !== 1) {
    throw new ProtocolError("Greeting signature does not end in 0x7F");
  }
  if (from <= 10 && bytes.length > 10 && bytes[10] < 3) {
    throw new ProtocolError(
      `Peer speaks ZMTP major version ${
        bytes[10]
      }; version 3 or later is required`,
    );
  }
}

/**
 * Parses a complete greeting.
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
  checkGreetingPrefix(bytes);
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
    major: bytes[10],
    minor: bytes[11],
    mechanism,
    asServer: bytes[AS_SERVER_OFFSET] === 1,
  };
}
