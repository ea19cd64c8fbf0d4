/**
 * CURVE (RFC 26, CurveZMQ) for one socket: {@link createCurveFactory} loads
 * libsodium, checks the keys once, takes the long-term secret onto the
 * WebAssembly heap, and returns the {@link MechanismFactory} that makes each
 * connection's {@link CurveClient} or {@link CurveServer}. Disposing of the
 * factory (the socket's `close()` does) zeroes the long-term secret and the
 * server's cookie keys.
 *
 * The handshake is in `curve_client.ts` and `curve_server.ts`, over the
 * shared MESSAGE and nonce code in `curve_base.ts`, as libzmq splits it
 * (`curve_client_t`, `curve_server_t`, `curve_mechanism_base_t`).
 *
 * @module
 */

import type { MechanismFactory, MechanismOptions } from "./mechanism.ts";
import {
  boxKeyPair,
  equalBytes,
  loadSodium,
  publicKeyOf,
  Secret,
} from "./_sodium.ts";
import type { CurveKeyPair } from "./curve_keys.ts";
import { checkKey } from "./curve_base.ts";
import { CurveClient } from "./curve_client.ts";
import { CookieKeys, CurveServer } from "./curve_server.ts";

// The errors live in errors.ts, so that a program without CURVE loads none
// of this module; they are exported here too, where they are thrown.
export { CurveAuthorizationError, CurveKeyMismatchError } from "./errors.ts";
export { MAX_CURVE_METADATA } from "./curve_base.ts";
export { CurveClient } from "./curve_client.ts";
export { CookieKeys, CurveServer } from "./curve_server.ts";

/** One connection's CURVE mechanism, either role. */
export type CurveMechanism = CurveClient | CurveServer;

/** How one socket speaks CURVE. */
export interface CurveSecurity {
  /** The CURVE role; independent of which side connected. */
  role: "client" | "server";
  /**
   * Our long-term key pair. The factory keeps a copy of the secret key on
   * the WebAssembly heap; `keyPair.secretKey` stays the caller's (to wipe
   * when it is its own).
   *
   * @default a fresh pair made on the heap (a client only)
   */
  keyPair?: CurveKeyPair;
  /** Client: the server's long-term public key. */
  serverKey?: Uint8Array;
  /**
   * Server: whether a client's long-term public key may connect; a refused
   * client gets ERROR "400".
   *
   * @default every key is admitted
   */
  authorize?: (publicKey: Uint8Array) => boolean;
  /**
   * Server: the cookie keys, shared by the socket's connections; the caller
   * disposes of those it gives.
   *
   * @default a set made (and wiped) by the factory
   */
  cookieKeys?: CookieKeys;
}

/**
 * Makes each connection's CURVE mechanism for one socket; `dispose()` zeroes
 * the long-term secret and the cookie keys it made, and the factory makes
 * no mechanism after it.
 */
export type CurveFactory =
  & { (options: MechanismOptions): CurveMechanism }
  & MechanismFactory;

/**
 * Prepares CURVE for one socket: loads libsodium, checks the keys once,
 * copies the long-term secret onto the heap, creates the server's shared
 * {@link CookieKeys} unless given, and returns a function that makes each
 * connection's mechanism.
 *
 * @param security the role, our key pair, and the client's `serverKey` or
 * the server's `authorize` and `cookieKeys`
 * @returns a factory taking the connection's socket type and identity
 * @throws {RangeError} when a key is not 32 octets or the key pair's keys do
 * not belong together
 * @throws {TypeError} when the role is unknown, a client has no
 * `serverKey`, or a server no key pair
 *
 * @example
 * ```ts
 * import { createCurveFactory } from "./curve_mechanism.ts";
 * import { allowKeys, generateKeyPair } from "./curve_keys.ts";
 * const client = await generateKeyPair();
 * const mechanismFor = await createCurveFactory({
 *   role: "server",
 *   keyPair: await generateKeyPair(),
 *   authorize: allowKeys([client.publicKey]),
 * });
 * const mechanism = mechanismFor({ socketType: "REP", isServer: true });
 * mechanism.nextCommand(); // undefined: the client speaks first
 * mechanismFor.dispose();
 * ```
 */
export async function createCurveFactory(
  security: CurveSecurity,
): Promise<CurveFactory> {
  const { role, keyPair, serverKey, authorize } = security;
  if (role !== "client" && role !== "server") {
    throw new TypeError(
      `Cannot use CURVE role "${role}": it must be "client" or "server"`,
    );
  }
  if (keyPair !== undefined) {
    checkKey(keyPair.publicKey, "our public key");
    checkKey(keyPair.secretKey, "our secret key");
  } else if (role === "server") {
    throw new TypeError("Cannot be a CURVE server without a key pair");
  }
  if (role === "client") {
    if (serverKey === undefined) {
      throw new TypeError("Cannot be a CURVE client without the server's key");
    }
    checkKey(serverKey, "the server's key");
  }
  await loadSodium();
  let publicKey: Uint8Array;
  let secret: Secret;
  if (keyPair === undefined) {
    ({ publicKey, secret } = boxKeyPair());
  } else {
    publicKey = keyPair.publicKey.slice();
    secret = Secret.copyOf(keyPair.secretKey);
    if (!equalBytes(publicKeyOf(secret), publicKey)) {
      secret.dispose();
      throw new RangeError(
        "Cannot use the CURVE key pair: its secret key does not belong to its public key",
      );
    }
  }
  const cookieKeys = role === "server"
    ? security.cookieKeys ?? new CookieKeys()
    : undefined;
  const factory = (options: MechanismOptions): CurveMechanism => {
    // A disposed factory's secret is gone: this throws, never falls back.
    secret.check();
    return role === "server"
      ? new CurveServer({
        socketType: options.socketType,
        identity: options.identity,
        publicKey,
        secret,
        authorize,
        cookieKeys,
      })
      : new CurveClient({
        socketType: options.socketType,
        identity: options.identity,
        publicKey,
        secret,
        serverKey: serverKey!,
      });
  };
  return Object.assign(factory, {
    mechanism: "CURVE",
    dispose: () => {
      secret.dispose();
      // Only the cookie keys made here: given ones are the caller's.
      if (security.cookieKeys === undefined) cookieKeys?.dispose();
    },
  });
}
