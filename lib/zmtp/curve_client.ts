/**
 * CURVE's client role (RFC 26, as libzmq's `curve_client_t`):
 *
 * ```text
 * C: HELLO     version 1.0, 72 zero octets, C', short nonce, Box[64 zeros](C'->S)
 * S: WELCOME   long nonce, Box[S' + cookie](S->C')
 * C: INITIATE  cookie, short nonce, Box[C + vouch + metadata](C'->S')
 * S: READY     short nonce, Box[metadata](S'->C')     (or ERROR)
 * ```
 *
 * Our short-term secret c' lives on the WebAssembly heap from its making
 * until WELCOME has given the precomputed key, and is then zeroed; the
 * precomputed key until {@link CurveClient.dispose}. Pure: no I/O, no
 * timers. libsodium must be loaded first.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { encodeCommand } from "./frame.ts";
import {
  checkPeerMetadata,
  HandshakeRefusedError,
  ourMetadata,
  parseErrorReason,
  parseMetadata,
} from "./mechanism.ts";
import {
  box,
  boxAfternm,
  boxKeyPair,
  boxOpen,
  boxOpenAfternm,
  precompute,
  randomBytes,
  type Secret,
} from "./_sodium.ts";
import {
  checkKey,
  type CurveBaseOptions,
  CurveMechanismBase,
  MAX_CURVE_METADATA,
  withPrefix,
} from "./curve_base.ts";

// Command data sizes, after the name (RFC 26's sizes less 1 + name).
const HELLO_SIZE = 194;
const WELCOME_SIZE = 160;
const READY_MIN = 24;

/** What a CURVE client needs, for one connection. */
export interface CurveClientOptions extends CurveBaseOptions {
  /** Our long-term public key. */
  publicKey: Uint8Array;
  /** Our long-term secret key, on the heap; the caller wipes it. */
  secret: Secret;
  /** The server's long-term public key. */
  serverKey: Uint8Array;
}

// The step the client is at: the command it sends or awaits next.
type State = "hello" | "welcome" | "initiate" | "ready" | "done";

/**
 * One connection's CURVE mechanism in the client role.
 *
 * @example
 * ```ts
 * import { CurveClient } from "./curve_client.ts";
 * import { boxKeyPair, loadSodium } from "./_sodium.ts";
 * await loadSodium();
 * const ours = boxKeyPair();
 * const client = new CurveClient({
 *   socketType: "REQ",
 *   publicKey: ours.publicKey,
 *   secret: ours.secret,
 *   serverKey: boxKeyPair().publicKey,
 * });
 * client.nextCommand(); // the HELLO command frame
 * client.dispose();
 * ours.secret.dispose();
 * ```
 */
export class CurveClient extends CurveMechanismBase {
  readonly asServer = false;
  readonly #options: CurveClientOptions;
  #state: State = "hello";
  // Our short-term pair, until WELCOME has been opened.
  readonly #shortPublic: Uint8Array;
  #shortSecret: Secret | undefined;
  // The server's short-term key and cookie, until INITIATE is sent.
  #serverShort: Uint8Array | undefined;
  #cookie: Uint8Array | undefined;

  /**
   * @param options socket type, identity, our key pair and the server's key
   * @throws {RangeError} when a key is not 32 octets
   * @throws {Error} when libsodium is not loaded yet
   */
  constructor(options: CurveClientOptions) {
    super(false);
    checkKey(options.publicKey, "our public key");
    checkKey(options.serverKey, "the server's key");
    this.#options = options;
    const pair = boxKeyPair();
    this.#shortPublic = pair.publicKey;
    this.#shortSecret = pair.secret;
  }

  /**
   * The next command frame to send: HELLO, then INITIATE once WELCOME has
   * come; `undefined` when it is the server's turn.
   */
  nextCommand(): Uint8Array | undefined {
    if (this.#state === "hello") return this.#hello();
    if (this.#state === "initiate") return this.#initiate();
    return undefined;
  }

  /**
   * Takes a command received during the handshake.
   *
   * @throws {HandshakeRefusedError} when the server sent ERROR
   * @throws {ProtocolError} when the command is unexpected, malformed, out
   * of sequence, or its box does not open (RFC 26: a client never sends
   * ERROR; the connection just closes)
   */
  receive(name: string, data: Uint8Array): void {
    if (name === "ERROR") {
      throw new HandshakeRefusedError(parseErrorReason(data));
    }
    if (this.#state === "welcome" && name === "WELCOME") {
      return this.#onWelcome(data);
    }
    if (this.#state === "ready" && name === "READY") return this.#onReady(data);
    throw new ProtocolError(
      `Unexpected ${name} command during the CURVE handshake`,
    );
  }

  /** Wipes c' (if WELCOME never came) and the precomputed key. */
  override dispose(): void {
    this.#shortSecret?.dispose();
    this.#shortSecret = undefined;
    super.dispose();
  }

  #hello(): Uint8Array {
    const nonce = this.takeNonce();
    const signature = box(
      new Uint8Array(64),
      withPrefix("CurveZMQHELLO---", nonce),
      this.#options.serverKey,
      this.#shortSecret!,
    );
    const data = new Uint8Array(HELLO_SIZE);
    data[0] = 1; // CurveZMQ 1.0; then 72 octets of zero padding
    data.set(this.#shortPublic, 74);
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
    const shortSecret = this.#shortSecret!;
    const plain = boxOpen(
      data.subarray(16),
      withPrefix("WELCOME-", data.subarray(0, 16)),
      this.#options.serverKey,
      shortSecret,
    );
    if (plain === undefined) {
      throw new ProtocolError(
        "WELCOME does not open: the server key does not match the server's",
      );
    }
    const serverShort = plain.slice(0, 32);
    const shared = precompute(serverShort, shortSecret);
    // The precomputed key is all we need of c' now.
    shortSecret.dispose();
    this.#shortSecret = undefined;
    if (shared === undefined) {
      throw new ProtocolError("WELCOME has a short-term key of small order");
    }
    this.setShared(shared);
    this.#serverShort = serverShort;
    this.#cookie = plain.slice(32, 128);
    this.#state = "initiate";
  }

  #initiate(): Uint8Array {
    const { publicKey, secret, serverKey, socketType, identity } =
      this.#options;
    const vouchNonce = randomBytes(16);
    const vouchPlain = new Uint8Array(64);
    vouchPlain.set(this.#shortPublic, 0);
    vouchPlain.set(serverKey, 32);
    const vouch = box(
      vouchPlain,
      withPrefix("VOUCH---", vouchNonce),
      this.#serverShort!,
      secret,
    );
    const metadata = ourMetadata(socketType, identity);
    const plain = new Uint8Array(128 + metadata.length);
    plain.set(publicKey, 0);
    plain.set(vouchNonce, 32);
    plain.set(vouch, 48);
    plain.set(metadata, 128);
    const nonce = this.takeNonce();
    const sealed = boxAfternm(
      plain,
      withPrefix("CurveZMQINITIATE", nonce),
      this.shared!,
    );
    const data = new Uint8Array(104 + sealed.length);
    data.set(this.#cookie!, 0);
    data.set(nonce, 96);
    data.set(sealed, 104);
    this.#cookie = undefined;
    this.#serverShort = undefined;
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
    const nonce = this.checkNonce("READY", data.subarray(0, 8));
    const plain = boxOpenAfternm(
      data.subarray(8),
      withPrefix("CurveZMQREADY---", data.subarray(0, 8)),
      this.shared!,
    );
    if (plain === undefined) throw new ProtocolError("READY box does not open");
    this.acceptNonce(nonce);
    const peer = checkPeerMetadata(
      this.#options.socketType,
      parseMetadata(plain, "READY"),
    );
    this.peerSocketType = peer.socketType;
    if (peer.identity.length > 0) this.peerIdentity = peer.identity;
    // RFC 26: a client never sends ERROR; it just closes.
    if (peer.refusal !== undefined) throw new ProtocolError(peer.refusal);
    this.#state = "done";
    this.complete();
  }
}
