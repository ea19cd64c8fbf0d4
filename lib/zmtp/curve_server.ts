/**
 * CURVE's server role (RFC 26, as libzmq's `curve_server_t`): takes HELLO,
 * answers WELCOME with a cookie, takes INITIATE, answers READY (or ERROR
 * "400" for a client key that is not allowed).
 *
 * The cookie is `Box[C' + s'](K)` under a key K shared by the server's
 * connections ({@link CookieKeys}); between WELCOME and INITIATE the server
 * keeps only C' and the cookie's nonce, never s'. Every secret (our
 * long-term key, s', the cookie's plaintext, K, the precomputed key) lives
 * only on the WebAssembly heap and is zeroed on every path out: s' is made
 * inside the cookie's plaintext and zeroed once sealed; INITIATE opens the
 * cookie, precomputes and opens its boxes in `try`/`finally`, so that s' is
 * zeroed whether INITIATE is accepted or refused, and the precomputed key
 * is zeroed unless it is kept for the connection. Pure: no I/O; the cookie
 * keys keep one unref'd timer.
 *
 * @module
 */

import {
  CurveAuthorizationError,
  CurveKeyMismatchError,
  ProtocolError,
} from "./errors.ts";
import { encodeCommand } from "./frame.ts";
import {
  checkPeerMetadata,
  HandshakeRefusedError,
  INVALID_SOCKET_TYPE,
  ourMetadata,
  parseErrorReason,
  parseMetadata,
} from "./mechanism.ts";
import {
  box,
  boxAfternm,
  boxOpen,
  boxOpenAfternm,
  equalBytes,
  KEY_BYTES,
  openCookie,
  precompute,
  randomBytes,
  sealCookie,
  Secret,
} from "./_sodium.ts";
import {
  checkKey,
  type CurveBaseOptions,
  CurveMechanismBase,
  MAX_CURVE_METADATA,
  withPrefix,
} from "./curve_base.ts";
import { encodeZ85Key } from "./z85.ts";

// Command data sizes, after the name (RFC 26's sizes less 1 + name).
const HELLO_SIZE = 194;
const INITIATE_MIN = 248;

// The ZAP status libzmq's CURVE server sends in ERROR when a client is denied.
const DENIED = "400";

/** Options for {@link CookieKeys}. */
export interface CookieKeysOptions {
  /**
   * How long each cookie key issues cookies, in milliseconds. A key is
   * wiped two intervals after it was made, so a cookie is accepted for more
   * than one interval after it is issued and at most two: RFC 26 has the
   * server discard a cookie key after "a short interval, for example 60
   * seconds".
   *
   * @default 30000
   */
  interval?: number;
  /**
   * The clock, in milliseconds; tests pass their own.
   *
   * @default performance.now
   */
  now?: () => number;
}

/**
 * The cookie keys of one server socket, shared by all its connections: a
 * current key that seals new cookies and the previous one, kept so that
 * handshakes in flight across a rotation still complete. Keys rotate on
 * fixed intervals; a timer wipes them on time even when no handshake comes
 * (it runs only while a key exists, and {@link dispose} stops it). The keys
 * live on the WebAssembly heap and are zeroed when dropped.
 *
 * @example
 * ```ts
 * import { CookieKeys } from "./curve_server.ts";
 * const cookieKeys = new CookieKeys({ interval: 30_000 });
 * cookieKeys.dispose();
 * ```
 */
export class CookieKeys {
  readonly #interval: number;
  readonly #now: () => number;
  readonly #start: number;
  #epoch = 0;
  #current: Secret | undefined;
  #previous: Secret | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param options the rotation interval and clock
   * @throws {RangeError} when the interval is not a positive number
   */
  constructor(options: CookieKeysOptions = {}) {
    const interval = options.interval ?? 30_000;
    if (!(interval > 0) || !Number.isFinite(interval)) {
      throw new RangeError(
        `Cannot rotate cookie keys every ${interval} ms: the interval must be positive`,
      );
    }
    this.#interval = interval;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** The key that seals new cookies. */
  sealingKey(): Secret {
    this.#rotate();
    if (this.#current === undefined) {
      this.#current = Secret.random(KEY_BYTES);
      this.#schedule();
    }
    return this.#current;
  }

  /** The keys a cookie may have been sealed with: current, then previous. */
  openingKeys(): Secret[] {
    this.#rotate();
    return [this.#current, this.#previous].filter((key) => key !== undefined);
  }

  /** Wipes every key and stops the timer; the socket is closing. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#current?.dispose();
    this.#previous?.dispose();
    this.#current = undefined;
    this.#previous = undefined;
  }

  // Moves the keys on to the present interval: the current one becomes the
  // previous one, and a key two intervals old is wiped.
  #rotate(): void {
    const epoch = Math.floor((this.#now() - this.#start) / this.#interval);
    if (epoch === this.#epoch) return;
    this.#previous?.dispose();
    this.#previous = undefined;
    if (epoch === this.#epoch + 1) {
      this.#previous = this.#current;
    } else {
      this.#current?.dispose();
    }
    this.#current = undefined;
    this.#epoch = epoch;
  }

  // Wakes at the next interval's start while a key exists, so that keys
  // are wiped on time whether or not another handshake comes.
  #schedule(): void {
    if (this.#timer !== undefined) return;
    const next = (this.#epoch + 1) * this.#interval + this.#start;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#rotate();
      if (this.#current !== undefined || this.#previous !== undefined) {
        this.#schedule();
      }
    }, Math.max(0, next - this.#now()));
    // It never keeps a program alive on its own.
    Deno.unrefTimer(this.#timer);
  }
}

/** What a CURVE server needs, for one connection. */
export interface CurveServerOptions extends CurveBaseOptions {
  /** Our long-term public key. */
  publicKey: Uint8Array;
  /** Our long-term secret key, on the heap; the caller wipes it. */
  secret: Secret;
  /**
   * Whether a client's long-term public key may connect; a refused client
   * gets ERROR "400".
   *
   * @default every key is admitted
   */
  authorize?: (publicKey: Uint8Array) => boolean;
  /**
   * The socket's cookie keys, shared by its connections.
   *
   * @default a holder for this connection alone, wiped by dispose()
   */
  cookieKeys?: CookieKeys;
}

// The step the server is at: the command it awaits or sends next.
type State = "hello" | "welcome" | "initiate" | "ready" | "done";

/**
 * One connection's CURVE mechanism in the server role.
 *
 * @example
 * ```ts
 * import { CurveServer } from "./curve_server.ts";
 * import { boxKeyPair, loadSodium } from "./_sodium.ts";
 * await loadSodium();
 * const ours = boxKeyPair();
 * const server = new CurveServer({
 *   socketType: "REP",
 *   publicKey: ours.publicKey,
 *   secret: ours.secret,
 * });
 * server.nextCommand(); // undefined: the client speaks first
 * server.dispose();
 * ours.secret.dispose();
 * ```
 */
export class CurveServer extends CurveMechanismBase {
  readonly asServer = true;
  /** The client's long-term public key, once INITIATE is valid. */
  peerKey: Uint8Array | undefined;
  readonly #options: CurveServerOptions;
  readonly #cookieKeys: CookieKeys;
  readonly #ownCookieKeys: boolean;
  #state: State = "hello";
  // Between HELLO and INITIATE: C' and the cookie's nonce, no more.
  #clientShort: Uint8Array | undefined;
  #cookieNonce: Uint8Array | undefined;

  /**
   * @param options socket type, identity, our key pair, `authorize` and the
   * cookie keys
   * @throws {RangeError} when a key is not 32 octets
   * @throws {Error} when libsodium is not loaded yet
   */
  constructor(options: CurveServerOptions) {
    super(true);
    checkKey(options.publicKey, "our public key");
    this.#options = options;
    this.#ownCookieKeys = options.cookieKeys === undefined;
    this.#cookieKeys = options.cookieKeys ?? new CookieKeys();
  }

  /**
   * The next command frame to send: WELCOME after HELLO, READY after
   * INITIATE, or ERROR once after a refusal; `undefined` when it is the
   * client's turn.
   */
  nextCommand(): Uint8Array | undefined {
    if (this.refusal.error !== undefined) return this.refusal.command();
    if (this.#state === "welcome") return this.#welcome();
    if (this.#state === "ready") return this.#ready();
    return undefined;
  }

  /**
   * Takes a command received during the handshake.
   *
   * @throws {HandshakeRefusedError} when the client sent ERROR
   * @throws {ProtocolError} when the command is unexpected, malformed, out
   * of sequence, or its box does not open; the connection closes without
   * sending anything. A refused client key or socket type instead sets
   * {@link error}, so that ERROR is sent.
   */
  receive(name: string, data: Uint8Array): void {
    if (name === "ERROR") {
      throw new HandshakeRefusedError(parseErrorReason(data));
    }
    if (this.#state === "hello" && name === "HELLO") return this.#onHello(data);
    if (this.#state === "initiate" && name === "INITIATE") {
      return this.#onInitiate(data);
    }
    throw new ProtocolError(
      `Unexpected ${name} command during the CURVE handshake`,
    );
  }

  /** Wipes the precomputed key, and the cookie keys if they are ours. */
  override dispose(): void {
    if (this.#ownCookieKeys) this.#cookieKeys.dispose();
    super.dispose();
  }

  #onHello(data: Uint8Array): void {
    if (data.length !== HELLO_SIZE) {
      throw new ProtocolError(
        `HELLO has ${data.length + 6} octets, not ${HELLO_SIZE + 6}`,
      );
    }
    if (data[0] !== 1 || data[1] !== 0) {
      throw new ProtocolError(
        `HELLO asks for CurveZMQ ${data[0]}.${data[1]}; only 1.0 is spoken`,
      );
    }
    for (let i = 2; i < 74; i++) {
      if (data[i] !== 0) {
        throw new ProtocolError("HELLO padding is not all zero");
      }
    }
    const clientShort = data.slice(74, 106);
    const nonce = this.checkNonce("HELLO", data.subarray(106, 114));
    const plain = boxOpen(
      data.subarray(114),
      withPrefix("CurveZMQHELLO---", data.subarray(106, 114)),
      clientShort,
      this.#options.secret,
    );
    if (plain === undefined || plain.some((octet) => octet !== 0)) {
      throw new CurveKeyMismatchError();
    }
    this.acceptNonce(nonce);
    this.#clientShort = clientShort;
    this.#state = "welcome";
  }

  #welcome(): Uint8Array {
    const clientShort = this.#clientShort!;
    const cookieNonce = randomBytes(16);
    // s' is made, sealed in the cookie and zeroed on the heap: it now lives
    // only in the cookie, which only we can open.
    const { serverShort, cookie } = sealCookie(
      clientShort,
      withPrefix("COOKIE--", cookieNonce),
      this.#cookieKeys.sealingKey(),
    );
    const plain = new Uint8Array(128);
    plain.set(serverShort, 0);
    plain.set(cookieNonce, 32);
    plain.set(cookie, 48);
    const welcomeNonce = randomBytes(16);
    const sealed = box(
      plain,
      withPrefix("WELCOME-", welcomeNonce),
      clientShort,
      this.#options.secret,
    );
    const data = new Uint8Array(160);
    data.set(welcomeNonce, 0);
    data.set(sealed, 16);
    this.#cookieNonce = cookieNonce;
    this.#state = "initiate";
    return encodeCommand("WELCOME", data);
  }

  #onInitiate(data: Uint8Array): void {
    if (
      data.length < INITIATE_MIN ||
      data.length > INITIATE_MIN + MAX_CURVE_METADATA
    ) {
      throw new ProtocolError(
        `INITIATE has ${data.length + 9} octets, outside ${
          INITIATE_MIN + 9
        } to ${INITIATE_MIN + 9 + MAX_CURVE_METADATA}`,
      );
    }
    // The cookie must be the one we sent on this connection, and still
    // open under a current cookie key: a cookie from another connection (a
    // replayed INITIATE) or an expired one fails here.
    const cookieNonce = data.subarray(0, 16);
    if (!equalBytes(cookieNonce, this.#cookieNonce!)) {
      throw new ProtocolError("INITIATE cookie is not the one sent in WELCOME");
    }
    const opened = openCookie(
      data.subarray(16, 96),
      withPrefix("COOKIE--", cookieNonce),
      this.#cookieKeys.openingKeys(),
    );
    if (opened === undefined) {
      throw new ProtocolError("INITIATE cookie has expired or is forged");
    }
    const serverShortSecret = opened.serverShortSecret;
    let shared: Secret | undefined;
    try {
      const clientShort = this.#clientShort!;
      if (!equalBytes(opened.clientShort, clientShort)) {
        throw new ProtocolError("INITIATE cookie is for another client key");
      }
      const nonce = this.checkNonce("INITIATE", data.subarray(96, 104));
      shared = precompute(clientShort, serverShortSecret);
      if (shared === undefined) {
        throw new ProtocolError("INITIATE box does not open");
      }
      const plain = boxOpenAfternm(
        data.subarray(104),
        withPrefix("CurveZMQINITIATE", data.subarray(96, 104)),
        shared,
      );
      if (plain === undefined) {
        throw new ProtocolError("INITIATE box does not open");
      }
      const clientKey = plain.slice(0, 32);
      const vouch = boxOpen(
        plain.subarray(48, 128),
        withPrefix("VOUCH---", plain.subarray(32, 48)),
        clientKey,
        serverShortSecret,
      );
      if (
        vouch === undefined ||
        !equalBytes(vouch.subarray(0, 32), clientShort) ||
        !equalBytes(vouch.subarray(32, 64), this.#options.publicKey)
      ) {
        throw new ProtocolError(
          "INITIATE vouch does not open or vouches for other keys",
        );
      }
      this.acceptNonce(nonce);
      const peer = checkPeerMetadata(
        this.#options.socketType,
        parseMetadata(plain.subarray(128), "INITIATE"),
      );
      this.setShared(shared);
      shared = undefined; // kept: the connection's to wipe
      this.#clientShort = undefined;
      this.#cookieNonce = undefined;
      this.peerKey = clientKey;
      this.peerSocketType = peer.socketType;
      if (peer.identity.length > 0) this.peerIdentity = peer.identity;
      const authorize = this.#options.authorize;
      if (authorize !== undefined && !authorize(clientKey)) {
        this.refusal.refuse(
          new CurveAuthorizationError(encodeZ85Key(clientKey)),
          DENIED,
        );
      } else if (peer.refusal !== undefined) {
        this.refusal.refuse(
          new ProtocolError(peer.refusal),
          INVALID_SOCKET_TYPE,
        );
      }
      this.#state = "ready";
    } finally {
      serverShortSecret.dispose();
      shared?.dispose();
    }
  }

  #ready(): Uint8Array {
    const nonce = this.takeNonce();
    const sealed = boxAfternm(
      ourMetadata(this.#options.socketType, this.#options.identity),
      withPrefix("CurveZMQREADY---", nonce),
      this.shared!,
    );
    const data = new Uint8Array(8 + sealed.length);
    data.set(nonce, 0);
    data.set(sealed, 8);
    this.#state = "done";
    this.complete();
    return encodeCommand("READY", data);
  }
}
