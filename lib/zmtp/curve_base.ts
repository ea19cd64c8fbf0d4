/**
 * What CURVE's client and server share (RFC 26, as libzmq's
 * `curve_mechanism_base_t`): short nonces, the MESSAGE box each frame
 * travels in after the handshake, and the connection's precomputed key.
 *
 * ```text
 * MESSAGE: "\x07MESSAGE", short nonce, Box[flags + body](C'->S' or S'->C')
 * ```
 *
 * Short nonces count from 1 per direction across HELLO, INITIATE and
 * MESSAGE (client) or READY and MESSAGE (server), and must strictly
 * increase. Like libzmq, a MESSAGE goes out as a plain message frame (outer
 * flags 0); the frame's own MORE and COMMAND travel as 0x01 and 0x02 in the
 * boxed flags octet.
 *
 * The precomputed key lives on the WebAssembly heap ({@link Secret}) and is
 * zeroed by {@link CurveMechanismBase.dispose}. Each connection opens its
 * plaintext into memory of its own, never into buffers shared with other
 * connections: a view handed to the application can show only this peer's
 * bytes.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import {
  COMMAND,
  EMPTY,
  framedSize,
  type FrameSink,
  MORE,
  type Part,
  writeFrameHeader,
} from "./frame.ts";
import { type Mechanism, Refusal, type SocketType } from "./mechanism.ts";
import {
  KEY_BYTES,
  MAC_BYTES,
  openInto,
  sealInto,
  type Secret,
  sodiumLoaded,
} from "./_sodium.ts";

/** The largest metadata accepted in INITIATE and READY, in octets. */
export const MAX_CURVE_METADATA = 4096;

// A MESSAGE body: "\x07MESSAGE", short nonce, tag, flags octet, then data.
const MESSAGE_HEADER = 16;
const MESSAGE_OVERHEAD = MESSAGE_HEADER + MAC_BYTES + 1;
const MESSAGE_NAME = [7, 0x4d, 0x45, 0x53, 0x53, 0x41, 0x47, 0x45];

// The boxed flags octet (libzmq's msg_t flags, not ZMTP's frame flags).
const INNER_MORE = 0x01;
const INNER_COMMAND = 0x02;

// Plaintext of small frames goes into a slab of the connection's own, as
// the decoder puts small bodies in slabs (one allocation per many frames);
// larger ones get a buffer each.
const PLAIN_SLAB_SIZE = 1024;
const PLAIN_SLAB_BODY_MAX = 256;

/** What both CURVE roles need, for one connection. */
export interface CurveBaseOptions {
  /** Our socket type, sent as `Socket-Type`. */
  socketType: SocketType;
  /** Our identity, sent as `Identity` when set. */
  identity?: Uint8Array;
}

/**
 * One connection's CURVE mechanism, either role: nonces, MESSAGE, the
 * precomputed key. {@link CurveClient} and {@link CurveServer} add the
 * handshake.
 */
export abstract class CurveMechanismBase implements Mechanism {
  readonly name = "CURVE";
  readonly transparent = false;
  abstract readonly asServer: boolean;
  /** The peer's `Socket-Type`, once known. */
  peerSocketType = "";
  /** The peer's `Identity`, empty when it announced none. */
  peerIdentity: Uint8Array = EMPTY;

  /** Our refusal of the peer, sent as ERROR. */
  protected readonly refusal: Refusal = new Refusal();
  // The next short nonce we send, and the last one the peer sent.
  #nonce = 1;
  #peerNonce = 0;
  // The precomputed key, once both short-term keys are known.
  #shared: Secret | undefined;
  #done = false;
  // Full nonces for MESSAGE, prefix written once, counter per frame.
  readonly #sendNonce: Uint8Array;
  readonly #receiveNonce: Uint8Array;
  // This connection's plaintext slab.
  #plain: Uint8Array = EMPTY;
  #plainUsed = 0;

  /**
   * @param asServer our CURVE role
   * @throws {Error} when libsodium is not loaded yet
   */
  constructor(asServer: boolean) {
    if (!sodiumLoaded()) {
      throw new Error("Cannot use CURVE before loadSodium() has resolved");
    }
    const [sendPrefix, receivePrefix] = asServer
      ? ["CurveZMQMESSAGES", "CurveZMQMESSAGEC"]
      : ["CurveZMQMESSAGEC", "CurveZMQMESSAGES"];
    this.#sendNonce = withPrefix(sendPrefix, EMPTY);
    this.#receiveNonce = withPrefix(receivePrefix, EMPTY);
  }

  /** True once the handshake is complete in both directions. */
  get ready(): boolean {
    return this.#done && this.refusal.error === undefined;
  }

  /** Why we refused the peer, when we did. */
  get error(): ProtocolError | undefined {
    return this.refusal.error;
  }

  /** The next handshake command to send; see {@link Mechanism}. */
  abstract nextCommand(): Uint8Array | undefined;
  /** Takes a handshake command; see {@link Mechanism}. */
  abstract receive(name: string, data: Uint8Array): void;

  /**
   * Wipes the connection's keys; part of {@link Mechanism}, on close.
   * Subclasses wipe theirs too and call this.
   */
  dispose(): void {
    this.#shared?.dispose();
    this.#shared = undefined;
  }

  /** The precomputed key; the handshake's last boxes use it. */
  protected get shared(): Secret | undefined {
    return this.#shared;
  }

  /** Keeps the precomputed key, ours to wipe from now on. */
  protected setShared(shared: Secret): void {
    this.#shared?.dispose();
    this.#shared = shared;
  }

  /** The handshake is over on our side: frames may pass. */
  protected complete(): void {
    this.#done = true;
  }

  /** Our next short nonce, as 8 octets in network order. */
  protected takeNonce(): Uint8Array {
    const counter = this.#nonce++;
    const nonce = new Uint8Array(8);
    writeUint32(nonce, 0, Math.floor(counter / 0x100000000));
    writeUint32(nonce, 4, counter >>> 0);
    return nonce;
  }

  /**
   * A peer's short nonce, which must be above the last one it sent; the
   * caller records it with {@link acceptNonce} once its box has opened.
   *
   * @throws {ProtocolError} when it does not follow the last one
   */
  protected checkNonce(command: string, bytes: Uint8Array): number {
    const nonce = readNonce(bytes, 0);
    if (!(nonce > this.#peerNonce)) {
      throw new ProtocolError(
        `${command} nonce ${nonce} does not follow ${this.#peerNonce}: replayed or reordered`,
      );
    }
    return nonce;
  }

  /** Records the peer's nonce once the box it protects has opened. */
  protected acceptNonce(nonce: number): void {
    this.#peerNonce = nonce;
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
   * @throws {Error} before the handshake is complete, or after dispose()
   */
  encodeFrame(
    flags: number,
    part: Part,
    bodyLength: number,
    target: Uint8Array,
    offset: number,
  ): number {
    const shared = this.#shared;
    if (shared === undefined || !this.#done) {
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
   * @param body the MESSAGE frame's body; when it is a buffer of its own
   * it is decrypted in place, otherwise (a view into a shared slab) into
   * memory of this connection's own
   * @param sink receives the frame
   * @throws {ProtocolError} when the frame is not a MESSAGE, is truncated,
   * repeats or goes back on a nonce, or its box does not open
   */
  decodeFrame(_flags: number, body: Uint8Array, sink: FrameSink): void {
    const shared = this.#shared;
    if (shared === undefined || !this.#done) {
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
    const sealed = body.subarray(MESSAGE_HEADER);
    const plainLength = sealed.length - MAC_BYTES;
    let target: Uint8Array;
    let at: number;
    if (body.byteLength === body.buffer.byteLength) {
      // The body owns its buffer (a large frame): open it in place.
      target = sealed;
      at = MAC_BYTES;
    } else if (plainLength > PLAIN_SLAB_BODY_MAX) {
      target = new Uint8Array(plainLength);
      at = 0;
    } else {
      if (this.#plainUsed + plainLength > this.#plain.length) {
        this.#plain = new Uint8Array(PLAIN_SLAB_SIZE);
        this.#plainUsed = 0;
      }
      target = this.#plain;
      at = this.#plainUsed;
    }
    if (!openInto(shared, full, sealed, target, at)) {
      throw new ProtocolError("MESSAGE box does not open");
    }
    if (target === this.#plain) this.#plainUsed += plainLength;
    this.#peerNonce = nonce;
    const inner = target[at];
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
      plainLength === 1 ? EMPTY : target.subarray(at + 1, at + plainLength),
    );
  }
}

/**
 * Checks that a key has 32 octets.
 *
 * @throws {RangeError} when it does not
 */
export function checkKey(key: Uint8Array | undefined, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new RangeError(
      `Cannot use ${what}: a CURVE key has 32 octets, not ${key?.length}`,
    );
  }
}

/** A 24-octet nonce: an ASCII prefix then the given octets. */
export function withPrefix(prefix: string, rest: Uint8Array): Uint8Array {
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
