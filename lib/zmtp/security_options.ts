/**
 * The security mechanism a socket's options ask for: NULL, or CURVE, whose
 * code and libsodium are loaded only by a socket that uses them. The socket
 * is handed the resulting {@link MechanismFactory} and knows nothing of
 * CURVE.
 *
 * @module
 */

import type { MechanismFactory } from "./mechanism.ts";
import { nullFactory } from "./null_mechanism.ts";
import { decodeZ85Key, encodeZ85Key } from "./z85.ts";

/** A socket's security options (see `SocketOptions` for each). */
export interface SecurityOptions {
  /** Be a CURVE server. */
  curveServer?: boolean;
  /** Our CURVE public key, Z85 text or 32 octets. */
  curvePublicKey?: string | Uint8Array;
  /** Our CURVE secret key, Z85 text or 32 octets. */
  curveSecretKey?: string | Uint8Array;
  /** Be a CURVE client of the server with this public key. */
  curveServerKey?: string | Uint8Array;
  /** CURVE server: whether a client's public key (Z85) may connect. */
  curveAuthorize?: (publicKey: string) => boolean;
}

/** The mechanism chosen, and its factory once ready. */
export interface Security {
  /** The mechanism's name. */
  mechanism: "NULL" | "CURVE";
  /**
   * The factory; CURVE's resolves once libsodium is loaded and the keys
   * are checked, and rejects when they are wrong.
   */
  factory: Promise<MechanismFactory>;
}

/**
 * Checks a socket's security options at once (shape, key lengths) and
 * starts preparing the mechanism factory they ask for.
 *
 * @param options the socket's security options
 * @returns the mechanism's name and a promise of its factory
 * @throws {TypeError} when the options contradict each other
 * @throws {RangeError} when a key is not 32 octets or 40 Z85 characters
 */
export function securityFor(options: SecurityOptions): Security {
  const {
    curveServer,
    curvePublicKey,
    curveSecretKey,
    curveServerKey,
    curveAuthorize,
  } = options;
  const any = curveServer || curvePublicKey !== undefined ||
    curveSecretKey !== undefined || curveServerKey !== undefined ||
    curveAuthorize !== undefined;
  if (!any) {
    return { mechanism: "NULL", factory: Promise.resolve(nullFactory) };
  }
  if (curveServer && curveServerKey !== undefined) {
    throw new TypeError(
      'Cannot set both "curveServer" and "curveServerKey": a socket is a CURVE server or a client',
    );
  }
  if (!curveServer && curveServerKey === undefined) {
    throw new TypeError(
      'Cannot use CURVE keys without "curveServer" or "curveServerKey"',
    );
  }
  if ((curvePublicKey === undefined) !== (curveSecretKey === undefined)) {
    throw new TypeError(
      'Cannot use "curvePublicKey" without "curveSecretKey", or the other way round',
    );
  }
  if (curveServer && curvePublicKey === undefined) {
    throw new TypeError(
      'Cannot be a CURVE server without "curvePublicKey" and "curveSecretKey"',
    );
  }
  if (!curveServer && curveAuthorize !== undefined) {
    throw new TypeError('Cannot use "curveAuthorize" on a CURVE client');
  }
  // Keys are copied now: the caller may change or wipe its own arrays as
  // soon as the socket is constructed.
  const key = (value: string | Uint8Array | undefined, name: string) => {
    if (value === undefined) return undefined;
    const bytes = typeof value === "string"
      ? decodeZ85Key(value)
      : value instanceof Uint8Array
      ? value.slice()
      : value;
    if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
      throw new RangeError(
        `Cannot set option "${name}": a CURVE key is 32 octets or 40 Z85 characters`,
      );
    }
    return bytes;
  };
  const publicKey = key(curvePublicKey, "curvePublicKey");
  const serverKey = key(curveServerKey, "curveServerKey");
  const secretKey = key(curveSecretKey, "curveSecretKey");
  const factory = (async () => {
    try {
      const { createCurveFactory } = await import("./curve_mechanism.ts");
      const keyPair = publicKey && secretKey
        ? { publicKey, secretKey }
        : undefined;
      return await createCurveFactory(
        curveServer
          ? {
            role: "server",
            keyPair,
            authorize: curveAuthorize &&
              ((client: Uint8Array) => curveAuthorize(encodeZ85Key(client))),
          }
          : { role: "client", keyPair, serverKey },
      );
    } finally {
      // Our copy of the secret: the factory has its own on the heap.
      secretKey?.fill(0);
    }
  })();
  return { mechanism: "CURVE", factory };
}
