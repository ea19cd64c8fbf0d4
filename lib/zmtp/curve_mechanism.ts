/**
 * The CURVE security mechanism (RFC 26, CurveZMQ), as libzmq 4.3 speaks it:
 *
 * ```text
 * C: HELLO     version 1.0, 72 zero octets, C', short nonce, Box[64 zeros](C'->S)
 * S: WELCOME   long nonce, Box[S' + cookie](S->C')
 * C: INITIATE  cookie, short nonce, Box[C + vouch + metadata](C'->S')
 * S: READY     short nonce, Box[metadata](S'->C')     (or ERROR "400")
 * then every frame, both ways, as MESSAGE: short nonce, Box[flags + body]
 * ```
 *
 * The cookie is `Box[C' + s'](K)` under a key K shared by the server's
 * connections ({@link CookieKeys}); between WELCOME and INITIATE the server
 * keeps only C' and the cookie's nonce, never s'. Short nonces count from 1
 * per direction across HELLO, INITIATE and MESSAGE (client) or READY and
 * MESSAGE (server), and must strictly increase. Like libzmq, a MESSAGE goes
 * out as a plain message frame (outer flags 0); the frame's own MORE and
 * COMMAND travel as 0x01 and 0x02 in the boxed flags octet.
 *
 * Pure: no I/O, no timers. libsodium must be loaded first
 * ({@link createCurveFactory} does that).
 *
 * @module
 */

import {
  CurveAuthorizationError,
  CurveKeyMismatchError,
  ProtocolError,
} from "./errors.ts";

// The errors live in errors.ts, so that a program without CURVE loads none
// of this module; they are exported here too, where they are thrown.
export { CurveAuthorizationError, CurveKeyMismatchError };
import {
  COMMAND,
  EMPTY,
  encodeCommand,
  framedSize,
  type FrameSink,
  MORE,
  type Part,
  writeFrameHeader,
} from "./frame.ts";
import {
  checkPeerMetadata,
  HandshakeRefusedError,
  INVALID_SOCKET_TYPE,
  type Mechanism,
  type MechanismOptions,
  ourMetadata,
  parseErrorReason,
  parseMetadata,
  Refusal,
  type SocketType,
} from "./mechanism.ts";
import {
  box,
  boxAfternm,
  boxKeyPair,
  boxOpen,
  boxOpenAfternm,
  equalSecret,
  KEY_BYTES,
  loadSodium,
  MAC_BYTES,
  openInPlace,
  precompute,
  publicKeyOf,
  randomBytes,
  sealInto,
  secretbox,
  secretboxOpen,
  sodiumLoaded,
  wipe,
} from "./_sodium.ts";
import type { CurveKeyPair } from "./curve_keys.ts";
import { encodeZ85Key } from "./z85.ts";

/** The largest metadata accepted in INITIATE and READY, in octets. */
export const MAX_CURVE_METADATA = 4096;

// Command data sizes, after the name (RFC 26's sizes less 1 + name).
const HELLO_SIZE = 194;
const WELCOME_SIZE = 160;
const INITIATE_MIN = 248;
const READY_MIN = 24;
// A MESSAGE body: "\x07MESSAGE", short nonce, tag, flags octet, then data.
const MESSAGE_HEADER = 16;
const MESSAGE_OVERHEAD = MESSAGE_HEADER + MAC_BYTES + 1;
const MESSAGE_NAME = [7, 0x4d, 0x45, 0x53, 0x53, 0x41, 0x47, 0x45];

// The boxed flags octet (libzmq's msg_t flags, not ZMTP's frame flags).
const INNER_MORE = 0x01;
const INNER_COMMAND = 0x02;

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
 * (it runs only while a key exists, and {@link dispose} stops it).
 *
 * @example
 * ```ts
 * import { CookieKeys } from "./curve_mechanism.ts";
 * const cookieKeys = new CookieKeys({ interval: 30_000 });
 * cookieKeys.dispose();
 * ```
 */
export class CookieKeys {
  readonly #interval: number;
  readonly #now: () => number;
  readonly #start: number;
  #epoch = 0;
  #current: Uint8Array | undefined;
  #previous: Uint8Array | undefined;
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
  sealingKey(): Uint8Array {
    this.#rotate();
    if (this.#current === undefined) {
      this.#current = randomBytes(KEY_BYTES);
      this.#schedule();
    }
    return this.#current;
  }

  /** The keys a cookie may have been sealed with: current, then previous. */
  openingKeys(): Uint8Array[] {
    this.#rotate();
    return [this.#current, this.#previous].filter((key) => key !== undefined);
  }

  /** Wipes every key and stops the timer; the socket is closing. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#current !== undefined) wipe(this.#current);
    if (this.#previous !== undefined) wipe(this.#previous);
    this.#current = undefined;
    this.#previous = undefined;
  }

  // Moves the keys on to the present interval: the current one becomes the
  // previous one, and a key two intervals old is wiped.
  #rotate(): void {
    const epoch = Math.floor((this.#now() - this.#start) / this.#interval);
    if (epoch === this.#epoch) return;
    if (this.#previous !== undefined) wipe(this.#previous);
    this.#previous = undefined;
    if (epoch === this.#epoch + 1) {
      this.#previous = this.#current;
    } else if (this.#current !== undefined) {
      wipe(this.#current);
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

/** What a CURVE mechanism needs, for one connection. */
export interface CurveMechanismOptions {
  /** The CURVE role; independent of which side connected. */
  role: "client" | "server";
  /** Our socket type, sent as `Socket-Type`. */
  socketType: SocketType;
  /** Our identity, sent as `Identity` when set. */
  identity?: Uint8Array;
  /** Our long-term key pair. */
  keyPair: CurveKeyPair;
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
   * Server: the socket's cookie keys, shared by its connections.
   *
   * @default a holder for this connection alone
   */
  cookieKeys?: CookieKeys;
}

// The step either role is at: the command it awaits or sends next.
type State = "hello" | "welcome" | "initiate" | "ready" | "done";

/**
 * One connection's CURVE mechanism, in the client or the server role.
 *
 * @example
 * ```ts
 * import { CurveMechanism } from "./curve_mechanism.ts";
 * import { generateKeyPair } from "./curve_keys.ts";
 * const server = await generateKeyPair(); // also loads libsodium
 * const mechanism = new CurveMechanism({
 *   role: "client",
 *   socketType: "REQ",
 *   keyPair: await generateKeyPair(),
 *   serverKey: server.publicKey,
 * });
 * mechanism.nextCommand(); // the HELLO command frame
 * ```
 */
export class CurveMechanism implements Mechanism {
  readonly name = "CURVE";
  readonly asServer: boolean;
  readonly transparent = false;
  /** The peer's `Socket-Type`, once known. */
  peerSocketType = "";
  /** The peer's `Identity`, empty when it announced none. */
  peerIdentity: Uint8Array = EMPTY;
  /** Server: the client's long-term public key, once INITIATE is valid. */
  peerKey: Uint8Array | undefined;

  readonly #options: CurveMechanismOptions;
  readonly #cookieKeys: CookieKeys | undefined;
  #ownCookieKeys = false;
  #state: State = "hello";
  readonly #refusal = new Refusal();
  // The next short nonce we send, and the last one the peer sent.
  #nonce = 1;
  #peerNonce = 0;
  // The connection's precomputed key, once both short-term keys are known.
  #shared: Uint8Array | undefined;
  // Full nonces for MESSAGE, prefix written once, counter per frame.
  #sendNonce: Uint8Array;
  #receiveNonce: Uint8Array;
  // Client: our short-term pair; the server's short-term key and cookie.
  #shortPublic: Uint8Array | undefined;
  #shortSecret: Uint8Array | undefined;
  #serverShort: Uint8Array | undefined;
  #cookie: Uint8Array | undefined;
  // Server, between HELLO and INITIATE: C' and the cookie's nonce, no more.
  #clientShort: Uint8Array | undefined;
  #cookieNonce: Uint8Array | undefined;

  /**
   * @param options role, socket type, identity, keys, and the server's
   * `authorize` and cookie keys
   * @throws {RangeError} when a key is not 32 octets
   * @throws {TypeError} when a client has no `serverKey`
   * @throws {Error} when libsodium is not loaded yet
   */
  constructor(options: CurveMechanismOptions) {
    checkOptions(options);
    if (!sodiumLoaded()) {
      throw new Error("Cannot use CURVE before loadSodium() has resolved");
    }
    this.#options = options;
    this.asServer = options.role === "server";
    const [sendPrefix, receivePrefix] = this.asServer
      ? ["CurveZMQMESSAGES", "CurveZMQMESSAGEC"]
      : ["CurveZMQMESSAGEC", "CurveZMQMESSAGES"];
    this.#sendNonce = withPrefix(sendPrefix, EMPTY);
    this.#receiveNonce = withPrefix(receivePrefix, EMPTY);
    if (this.asServer) {
      this.#ownCookieKeys = options.cookieKeys === undefined;
      this.#cookieKeys = options.cookieKeys ?? new CookieKeys();
    } else {
      const pair = boxKeyPair();
      this.#shortPublic = pair.publicKey;
      this.#shortSecret = pair.secretKey;
    }
  }

  /** True once the handshake is complete in both directions. */
  get ready(): boolean {
    return this.#state === "done" && this.#refusal.error === undefined;
  }

  /** Why we refused the peer, when we did. */
  get error(): ProtocolError | undefined {
    return this.#refusal.error;
  }

  /**
   * The next command frame to send: HELLO and INITIATE (client), WELCOME
   * and READY (server), or ERROR once after a refusal; `undefined` when it
   * is the peer's turn.
   */
  nextCommand(): Uint8Array | undefined {
    if (this.#refusal.error !== undefined) return this.#refusal.command();
    if (this.asServer) {
      if (this.#state === "welcome") return this.#welcome();
      if (this.#state === "ready") return this.#ready();
    } else {
      if (this.#state === "hello") return this.#hello();
      if (this.#state === "initiate") return this.#initiate();
    }
    return undefined;
  }

  /**
   * Takes a command received during the handshake.
   *
   * @param name the command's name
   * @param data what follows the name
   * @throws {HandshakeRefusedError} when the peer sent ERROR
   * @throws {ProtocolError} when the command is unexpected, malformed, out
   * of sequence, or its box does not open; the connection closes without
   * sending anything. A refused client key or socket type instead sets
   * {@link error}, so that ERROR is sent.
   */
  receive(name: string, data: Uint8Array): void {
    if (name === "ERROR") {
      throw new HandshakeRefusedError(parseErrorReason(data));
    }
    const state = this.#state;
    if (this.asServer) {
      if (state === "hello" && name === "HELLO") return this.#onHello(data);
      if (state === "initiate" && name === "INITIATE") {
        return this.#onInitiate(data);
      }
    } else {
      if (state === "welcome" && name === "WELCOME") {
        return this.#onWelcome(data);
      }
      if (state === "ready" && name === "READY") return this.#onReady(data);
    }
    throw new ProtocolError(
      `Unexpected ${name} command during the CURVE handshake`,
    );
  }

  /** Wipes the connection's keys; part of {@link Mechanism}, on close. */
  dispose(): void {
    if (this.#ownCookieKeys) this.#cookieKeys?.dispose();
    if (this.#shared !== undefined) wipe(this.#shared);
    if (this.#shortSecret !== undefined) wipe(this.#shortSecret);
    this.#shared = undefined;
    this.#shortSecret = undefined;
  }

  /** The octets one frame of `bodyLength` octets takes as a MESSAGE. */
  frameSize(bodyLength: number): number {
    return framedSize(MESSAGE_OVERHEAD + bodyLength);
  }

  /**
   * Boxes one frame in a MESSAGE, written straight into `target`.
   *
   * @param flags the frame's own flags: MORE, COMMAND
   * @param part its body (text is UTF-8)
   * @param bodyLength the body's length in octets
   * @param target where to write; has room for {@link frameSize}
   * @param offset where to start
   * @returns the offset after the MESSAGE frame
   * @throws {Error} before the handshake is complete
   */
  encodeFrame(
    flags: number,
    part: Part,
    bodyLength: number,
    target: Uint8Array,
    offset: number,
  ): number {
    const shared = this.#shared;
    if (shared === undefined || this.#state !== "done") {
      throw new Error("Cannot send a frame before the CURVE handshake is done");
    }
    // Outer flags 0, as libzmq writes MESSAGE: a plain message frame.
    const at = writeFrameHeader(
      target,
      offset,
      0,
      MESSAGE_OVERHEAD + bodyLength,
    );
    for (let i = 0; i < 8; i++) target[at + i] = MESSAGE_NAME[i];
    const nonce = this.#sendNonce;
    const counter = this.#nonce++;
    writeUint32(nonce, 16, Math.floor(counter / 0x100000000));
    writeUint32(nonce, 20, counter >>> 0);
    for (let i = 0; i < 8; i++) target[at + 8 + i] = nonce[16 + i];
    const inner = (flags & MORE ? INNER_MORE : 0) |
      (flags & COMMAND ? INNER_COMMAND : 0);
    return sealInto(
      shared,
      nonce,
      inner,
      part,
      bodyLength,
      target,
      at + MESSAGE_HEADER,
    );
  }

  /**
   * Opens one MESSAGE and passes the frame inside to `sink`, with MORE and
   * COMMAND as ZMTP frame flags. The outer frame's flags are not used: libzmq
   * sends MESSAGE as a message frame, the RFC as a command.
   *
   * @param _flags the outer frame's flags
   * @param body the MESSAGE frame's body, owned by us: it is decrypted in
   * place and the frame handed on is a view into it
   * @param sink receives the frame
   * @throws {ProtocolError} when the frame is not a MESSAGE, is truncated,
   * repeats or goes back on a nonce, or its box does not open
   */
  decodeFrame(_flags: number, body: Uint8Array, sink: FrameSink): void {
    const shared = this.#shared;
    if (shared === undefined || this.#state !== "done") {
      throw new ProtocolError("Frame received before the CURVE handshake");
    }
    if (body.length < MESSAGE_OVERHEAD) {
      throw new ProtocolError(
        `MESSAGE of ${body.length} octets is shorter than the ${MESSAGE_OVERHEAD} it needs`,
      );
    }
    for (let i = 0; i < 8; i++) {
      if (body[i] !== MESSAGE_NAME[i]) {
        throw new ProtocolError(
          "Frame after the CURVE handshake is no MESSAGE",
        );
      }
    }
    const nonce = readNonce(body, 8);
    if (!(nonce > this.#peerNonce)) {
      throw new ProtocolError(
        `MESSAGE nonce ${nonce} does not follow ${this.#peerNonce}: replayed or reordered`,
      );
    }
    const full = this.#receiveNonce;
    for (let i = 0; i < 8; i++) full[16 + i] = body[8 + i];
    const plain = openInPlace(shared, full, body.subarray(MESSAGE_HEADER));
    if (plain === undefined) {
      throw new ProtocolError("MESSAGE box does not open");
    }
    this.#peerNonce = nonce;
    const inner = plain[0];
    if (
      (inner & ~(INNER_MORE | INNER_COMMAND)) !== 0 ||
      inner === (INNER_MORE | INNER_COMMAND)
    ) {
      throw new ProtocolError(
        `MESSAGE flags 0x${inner.toString(16).padStart(2, "0")} are invalid`,
      );
    }
    sink.frame(
      (inner & INNER_MORE ? MORE : 0) | (inner & INNER_COMMAND ? COMMAND : 0),
      plain.length === 1 ? EMPTY : plain.subarray(1),
    );
  }

  // --- client ---------------------------------------------------------------

  #hello(): Uint8Array {
    const nonce = this.#takeNonce();
    const signature = box(
      new Uint8Array(64),
      withPrefix("CurveZMQHELLO---", nonce),
      this.#options.serverKey!,
      this.#shortSecret!,
    );
    const data = new Uint8Array(HELLO_SIZE);
    data[0] = 1; // CurveZMQ 1.0; then 72 octets of zero padding
    data.set(this.#shortPublic!, 74);
    data.set(nonce, 106);
    data.set(signature, 114);
    this.#state = "welcome";
    return encodeCommand("HELLO", data);
  }

  #onWelcome(data: Uint8Array): void {
    if (data.length !== WELCOME_SIZE) {
      throw new ProtocolError(
        `WELCOME has ${data.length + 8} octets, not ${WELCOME_SIZE + 8}`,
      );
    }
    const plain = boxOpen(
      data.subarray(16),
      withPrefix("WELCOME-", data.subarray(0, 16)),
      this.#options.serverKey!,
      this.#shortSecret!,
    );
    if (plain === undefined) {
      throw new ProtocolError(
        "WELCOME does not open: the server key does not match the server's",
      );
    }
    this.#serverShort = plain.slice(0, 32);
    this.#cookie = plain.slice(32, 128);
    this.#shared = precompute(this.#serverShort, this.#shortSecret!);
    wipe(this.#shortSecret!); // the precomputed key is all we need now
    this.#state = "initiate";
  }

  #initiate(): Uint8Array {
    const { keyPair, serverKey, socketType, identity } = this.#options;
    const vouchNonce = randomBytes(16);
    const vouchPlain = new Uint8Array(64);
    vouchPlain.set(this.#shortPublic!, 0);
    vouchPlain.set(serverKey!, 32);
    const vouch = box(
      vouchPlain,
      withPrefix("VOUCH---", vouchNonce),
      this.#serverShort!,
      keyPair.secretKey,
    );
    const metadata = ourMetadata(socketType, identity);
    const plain = new Uint8Array(128 + metadata.length);
    plain.set(keyPair.publicKey, 0);
    plain.set(vouchNonce, 32);
    plain.set(vouch, 48);
    plain.set(metadata, 128);
    const nonce = this.#takeNonce();
    const sealed = boxAfternm(
      plain,
      withPrefix("CurveZMQINITIATE", nonce),
      this.#shared!,
    );
    const data = new Uint8Array(104 + sealed.length);
    data.set(this.#cookie!, 0);
    data.set(nonce, 96);
    data.set(sealed, 104);
    this.#cookie = undefined;
    this.#state = "ready";
    return encodeCommand("INITIATE", data);
  }

  #onReady(data: Uint8Array): void {
    if (
      data.length < READY_MIN || data.length > READY_MIN + MAX_CURVE_METADATA
    ) {
      throw new ProtocolError(
        `READY has ${data.length + 6} octets, outside ${READY_MIN + 6} to ${
          READY_MIN + 6 + MAX_CURVE_METADATA
        }`,
      );
    }
    const nonce = this.#checkNonce("READY", data.subarray(0, 8));
    const plain = boxOpenAfternm(
      data.subarray(8),
      withPrefix("CurveZMQREADY---", data.subarray(0, 8)),
      this.#shared!,
    );
    if (plain === undefined) throw new ProtocolError("READY box does not open");
    this.#peerNonce = nonce;
    const peer = checkPeerMetadata(
      this.#options.socketType,
      parseMetadata(plain, "READY"),
    );
    this.peerSocketType = peer.socketType;
    if (peer.identity.length > 0) this.peerIdentity = peer.identity;
    // RFC 26: a client never sends ERROR; it just closes.
    if (peer.refusal !== undefined) throw new ProtocolError(peer.refusal);
    this.#state = "done";
  }

  // --- server ---------------------------------------------------------------

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
    const nonce = this.#checkNonce("HELLO", data.subarray(106, 114));
    const plain = boxOpen(
      data.subarray(114),
      withPrefix("CurveZMQHELLO---", data.subarray(106, 114)),
      clientShort,
      this.#options.keyPair.secretKey,
    );
    if (plain === undefined || plain.some((octet) => octet !== 0)) {
      throw new CurveKeyMismatchError();
    }
    this.#peerNonce = nonce;
    this.#clientShort = clientShort;
    this.#state = "welcome";
  }

  #welcome(): Uint8Array {
    const clientShort = this.#clientShort!;
    const { publicKey: serverShort, secretKey: serverShortSecret } =
      boxKeyPair();
    const cookieNonce = randomBytes(16);
    const cookiePlain = new Uint8Array(64);
    cookiePlain.set(clientShort, 0);
    cookiePlain.set(serverShortSecret, 32);
    const cookieBox = secretbox(
      cookiePlain,
      withPrefix("COOKIE--", cookieNonce),
      this.#cookieKeys!.sealingKey(),
    );
    // s' now lives only in the cookie, which only we can open.
    wipe(serverShortSecret);
    wipe(cookiePlain);
    const plain = new Uint8Array(128);
    plain.set(serverShort, 0);
    plain.set(cookieNonce, 32);
    plain.set(cookieBox, 48);
    const welcomeNonce = randomBytes(16);
    const sealed = box(
      plain,
      withPrefix("WELCOME-", welcomeNonce),
      clientShort,
      this.#options.keyPair.secretKey,
    );
    const data = new Uint8Array(WELCOME_SIZE);
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
    if (!equalSecret(cookieNonce, this.#cookieNonce!)) {
      throw new ProtocolError("INITIATE cookie is not the one sent in WELCOME");
    }
    const cookieFull = withPrefix("COOKIE--", cookieNonce);
    let cookie: Uint8Array | undefined;
    for (const key of this.#cookieKeys!.openingKeys()) {
      cookie = secretboxOpen(data.subarray(16, 96), cookieFull, key);
      if (cookie !== undefined) break;
    }
    if (cookie === undefined) {
      throw new ProtocolError("INITIATE cookie has expired or is forged");
    }
    const clientShort = this.#clientShort!;
    const serverShortSecret = cookie.subarray(32, 64);
    if (!equalSecret(cookie.subarray(0, 32), clientShort)) {
      wipe(cookie);
      throw new ProtocolError("INITIATE cookie is for another client key");
    }
    const nonce = this.#checkNonce("INITIATE", data.subarray(96, 104));
    const shared = precompute(clientShort, serverShortSecret);
    const plain = boxOpenAfternm(
      data.subarray(104),
      withPrefix("CurveZMQINITIATE", data.subarray(96, 104)),
      shared,
    );
    if (plain === undefined) {
      wipe(cookie);
      throw new ProtocolError("INITIATE box does not open");
    }
    const clientKey = plain.slice(0, 32);
    const vouch = boxOpen(
      plain.subarray(48, 128),
      withPrefix("VOUCH---", plain.subarray(32, 48)),
      clientKey,
      serverShortSecret,
    );
    wipe(cookie);
    if (
      vouch === undefined || !equalSecret(vouch.subarray(0, 32), clientShort) ||
      !equalSecret(vouch.subarray(32, 64), this.#options.keyPair.publicKey)
    ) {
      throw new ProtocolError(
        "INITIATE vouch does not open or vouches for other keys",
      );
    }
    this.#peerNonce = nonce;
    const peer = checkPeerMetadata(
      this.#options.socketType,
      parseMetadata(plain.subarray(128), "INITIATE"),
    );
    this.#shared = shared;
    this.#clientShort = undefined;
    this.#cookieNonce = undefined;
    this.peerKey = clientKey;
    this.peerSocketType = peer.socketType;
    if (peer.identity.length > 0) this.peerIdentity = peer.identity;
    const authorize = this.#options.authorize;
    if (authorize !== undefined && !authorize(clientKey)) {
      this.#refusal.refuse(
        new CurveAuthorizationError(encodeZ85Key(clientKey)),
        DENIED,
      );
    } else if (peer.refusal !== undefined) {
      this.#refusal.refuse(
        new ProtocolError(peer.refusal),
        INVALID_SOCKET_TYPE,
      );
    }
    this.#state = "ready";
  }

  #ready(): Uint8Array {
    const nonce = this.#takeNonce();
    const sealed = boxAfternm(
      ourMetadata(this.#options.socketType, this.#options.identity),
      withPrefix("CurveZMQREADY---", nonce),
      this.#shared!,
    );
    const data = new Uint8Array(8 + sealed.length);
    data.set(nonce, 0);
    data.set(sealed, 8);
    this.#state = "done";
    return encodeCommand("READY", data);
  }

  // --- nonces ---------------------------------------------------------------

  // Our next short nonce, as 8 octets in network order.
  #takeNonce(): Uint8Array {
    const counter = this.#nonce++;
    const nonce = new Uint8Array(8);
    writeUint32(nonce, 0, Math.floor(counter / 0x100000000));
    writeUint32(nonce, 4, counter >>> 0);
    return nonce;
  }

  // A peer's short nonce, which must be above the last one it sent; it is
  // recorded by the caller only once the box it protects has opened.
  #checkNonce(command: string, bytes: Uint8Array): number {
    const nonce = readNonce(bytes, 0);
    if (!(nonce > this.#peerNonce)) {
      throw new ProtocolError(
        `${command} nonce ${nonce} does not follow ${this.#peerNonce}: replayed or reordered`,
      );
    }
    return nonce;
  }
}

/**
 * Makes each connection's mechanism for one socket; `dispose()` wipes the
 * socket's cookie keys when it closes.
 */
export type CurveFactory = ((options: MechanismOptions) => CurveMechanism) & {
  dispose(): void;
};

/** The socket-wide part of {@link CurveMechanismOptions}. */
export type CurveSecurity = Omit<
  CurveMechanismOptions,
  "socketType" | "identity"
>;

/**
 * Prepares CURVE for one socket: loads libsodium, checks the keys once,
 * creates the server's shared {@link CookieKeys} unless given, and returns
 * a function that makes each connection's mechanism.
 *
 * @param security the role, our key pair, and the client's `serverKey` or
 * the server's `authorize` and `cookieKeys`
 * @returns a factory taking the connection's socket type and identity
 * @throws {RangeError} when a key is not 32 octets or the key pair's keys do
 * not belong together
 * @throws {TypeError} when a client has no `serverKey`
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
 * ```
 */
export async function createCurveFactory(
  security: CurveSecurity,
): Promise<CurveFactory> {
  checkOptions({ ...security, socketType: "REQ" });
  await loadSodium();
  if (
    !equalSecret(
      publicKeyOf(security.keyPair.secretKey),
      security.keyPair.publicKey,
    )
  ) {
    throw new RangeError(
      "Cannot use the CURVE key pair: its secret key does not belong to its public key",
    );
  }
  const cookieKeys = security.role === "server"
    ? security.cookieKeys ?? new CookieKeys()
    : undefined;
  const shared: CurveSecurity = { ...security, cookieKeys };
  const factory = (options: MechanismOptions) =>
    new CurveMechanism({
      ...shared,
      socketType: options.socketType,
      identity: options.identity,
    });
  // The socket's close wipes the cookie keys (only those made here).
  return Object.assign(factory, {
    dispose: () => {
      if (security.cookieKeys === undefined) cookieKeys?.dispose();
    },
  });
}

function checkOptions(options: CurveMechanismOptions): void {
  if (options.role !== "client" && options.role !== "server") {
    throw new TypeError(
      `Cannot use CURVE role "${options.role}": it must be "client" or "server"`,
    );
  }
  checkKey(options.keyPair?.publicKey, "our public key");
  checkKey(options.keyPair?.secretKey, "our secret key");
  if (options.role === "client") {
    if (options.serverKey === undefined) {
      throw new TypeError("Cannot be a CURVE client without the server's key");
    }
    checkKey(options.serverKey, "the server's key");
  }
}

function checkKey(key: Uint8Array | undefined, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot use ${what}: a CURVE key has 32 octets, not ${key?.length}`,
    );
  }
}

// A 24-octet nonce: an ASCII prefix then the given octets.
function withPrefix(prefix: string, rest: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(24);
  for (let i = 0; i < prefix.length; i++) nonce[i] = prefix.charCodeAt(i);
  nonce.set(rest, prefix.length);
  return nonce;
}

function writeUint32(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = value >>> 16 & 0xff;
  target[at + 2] = value >>> 8 & 0xff;
  target[at + 3] = value & 0xff;
}

// An 8-octet short nonce as a number. Above 2^53 it rounds, which can only
// make a nonce compare equal to a neighbour, never greater than a larger one:
// it may refuse, never wrongly accept.
function readNonce(bytes: Uint8Array, at: number): number {
  const high = (bytes[at] << 24 | bytes[at + 1] << 16 | bytes[at + 2] << 8 |
    bytes[at + 3]) >>> 0;
  const low = (bytes[at + 4] << 24 | bytes[at + 5] << 16 |
    bytes[at + 6] << 8 | bytes[at + 7]) >>> 0;
  return high * 0x100000000 + low;
}
