/**
 * Z85 (RFC 32): binary as printable text, four octets to five characters,
 * the way ZeroMQ writes CURVE keys (32 octets as 40 characters).
 *
 * @module
 */

const ALPHABET =
  "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

// Character code to digit value; -1 for characters outside the alphabet.
const DIGITS = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGITS[ALPHABET.charCodeAt(i)] = i;

/** The length of a CURVE key in octets. */
export const KEY_BYTES = 32;
/** The length of a CURVE key in Z85 characters. */
export const KEY_Z85_LENGTH = 40;

/**
 * Encodes binary data as Z85.
 *
 * @param data octets to encode; the length must be a multiple of 4
 * @returns the Z85 text, five characters per four octets
 * @throws {RangeError} when the length is not a multiple of 4
 *
 * @example
 * ```ts
 * import { encodeZ85 } from "./z85.ts";
 * encodeZ85(new Uint8Array([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]));
 * // "HelloWorld"
 * ```
 */
export function encodeZ85(data: Uint8Array): string {
  if (data.length % 4 !== 0) {
    throw new RangeError(
      `Cannot encode ${data.length} octets as Z85: the length must be a multiple of 4`,
    );
  }
  let text = "";
  for (let at = 0; at < data.length; at += 4) {
    let value = (data[at] << 24 | data[at + 1] << 16 | data[at + 2] << 8 |
      data[at + 3]) >>>
      0;
    let group = "";
    for (let i = 0; i < 5; i++) {
      group = ALPHABET[value % 85] + group;
      value = Math.floor(value / 85);
    }
    text += group;
  }
  return text;
}

/**
 * Decodes Z85 text.
 *
 * @param text the Z85 text; the length must be a multiple of 5
 * @returns the octets, four per five characters
 * @throws {SyntaxError} when the length is not a multiple of 5, a character
 * is not in the Z85 alphabet, or a group exceeds 32 bits
 *
 * @example
 * ```ts
 * import { decodeZ85 } from "./z85.ts";
 * decodeZ85("HelloWorld"); // Uint8Array [0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]
 * ```
 */
export function decodeZ85(text: string): Uint8Array {
  if (text.length % 5 !== 0) {
    throw new SyntaxError(
      `Cannot decode Z85 "${
        shown(text)
      }": its length ${text.length} is not a multiple of 5`,
    );
  }
  const out = new Uint8Array(text.length / 5 * 4);
  for (let at = 0, to = 0; at < text.length; at += 5, to += 4) {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const code = text.charCodeAt(at + i);
      const digit = code < 128 ? DIGITS[code] : -1;
      if (digit < 0) {
        throw new SyntaxError(
          `Cannot decode Z85 "${shown(text)}": "${text[at + i]}" at position ${
            at + i
          } is not a Z85 character`,
        );
      }
      value = value * 85 + digit;
    }
    if (value > 0xffffffff) {
      throw new SyntaxError(
        `Cannot decode Z85 "${shown(text)}": the group "${
          text.slice(at, at + 5)
        }" exceeds 32 bits`,
      );
    }
    out[to] = value >>> 24;
    out[to + 1] = value >>> 16 & 0xff;
    out[to + 2] = value >>> 8 & 0xff;
    out[to + 3] = value & 0xff;
  }
  return out;
}

/**
 * Encodes a 32-octet CURVE key as 40 Z85 characters.
 *
 * @param key a public or secret key
 * @returns the key in Z85
 * @throws {RangeError} when the key is not 32 octets
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeZ85Key } from "./z85.ts";
 * assert.equal(encodeZ85Key(new Uint8Array(32)), "0".repeat(40));
 * ```
 */
export function encodeZ85Key(key: Uint8Array): string {
  if (key.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot encode a key of ${key.length} octets: a CURVE key has ${KEY_BYTES}`,
    );
  }
  return encodeZ85(key);
}

/**
 * Decodes a CURVE key written as 40 Z85 characters.
 *
 * @param text the key in Z85
 * @returns the 32-octet key
 * @throws {SyntaxError} when the text is not 40 Z85 characters
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeZ85Key } from "./z85.ts";
 * assert.equal(decodeZ85Key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7").length, 32);
 * ```
 */
export function decodeZ85Key(text: string): Uint8Array {
  if (text.length !== KEY_Z85_LENGTH) {
    throw new SyntaxError(
      `Cannot decode key "${
        shown(text)
      }": a Z85 key has ${KEY_Z85_LENGTH} characters, not ${text.length}`,
    );
  }
  return decodeZ85(text);
}

// Text quoted in an error: cut, so that a whole file is never echoed.
function shown(text: string): string {
  return text.length > 48 ? `${text.slice(0, 48)}...` : text;
}
