/**
 * The seat of a security mechanism (RFC 37, "Security Mechanisms"): what a
 * connection asks of NULL, CURVE or any other, and what they share: the
 * metadata properties carried in READY and INITIATE, the socket-type check,
 * and the ERROR command.
 *
 * A connection runs the greeting, then hands every command to its mechanism
 * until the mechanism says it is ready; after that it asks the mechanism to
 * encode and decode each frame. NULL passes frames through untouched (the
 * connection skips the calls); CURVE boxes each one in a MESSAGE command.
 * Mechanisms do no I/O and keep no timers.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { encodeCommand, type FrameSink, type Part } from "./frame.ts";

/** The socket types this engine speaks with, ours and our peers'. */
export type SocketType = "REQ" | "REP" | "DEALER" | "ROUTER";

const KNOWN_TYPES = ["REQ", "REP", "DEALER", "ROUTER"] as const;

// RFC 37's table of legal combinations, for the request-reply family.
const LEGAL_PEERS: Readonly<Record<SocketType, readonly string[]>> = {
  REQ: ["REP", "ROUTER"],
  REP: ["REQ", "DEALER"],
  DEALER: ["REP", "DEALER", "ROUTER"],
  ROUTER: ["REQ", "DEALER", "ROUTER"],
};

/**
 * Whether a peer of type `peer` may connect to a socket of type `ours`.
 *
 * @example
 * ```ts
 * import { isLegalPeer } from "./mechanism.ts";
 * isLegalPeer("REP", "DEALER"); // true
 * isLegalPeer("REP", "REP"); // false
 * ```
 */
export function isLegalPeer(ours: SocketType, peer: string): boolean {
  return LEGAL_PEERS[ours].includes(peer);
}

/** What a mechanism needs to know of its own socket. */
export interface MechanismOptions {
  /** Our socket type, announced as `Socket-Type`. */
  socketType: SocketType;
  /** Our identity, announced as `Identity` when set (REQ, DEALER, ROUTER). */
  identity?: Uint8Array;
  /** True on the side that accepted the connection. */
  isServer: boolean;
}

/**
 * One connection's security mechanism. The connection calls
 * {@link nextCommand} after the greeting and after each command it passes to
 * {@link receive}, sending whatever comes back, until {@link ready} or
 * {@link error} is set.
 */
export interface Mechanism {
  /** The name in the greeting's mechanism field: `NULL`, `CURVE`. */
  readonly name: string;
  /** The greeting's as-server flag. */
  readonly asServer: boolean;
  /**
   * The next handshake command to send, as a whole encoded command frame, or
   * `undefined` when it is the peer's turn. After a refusal this is the
   * ERROR command, once.
   */
  nextCommand(): Uint8Array | undefined;
  /**
   * Takes a command received during the handshake.
   *
   * @param name the command's name, such as `READY`
   * @param data what follows the name
   * @throws {ProtocolError} when the command breaks the handshake: the
   * connection closes without an ERROR ({@link HandshakeRefusedError} when
   * the peer sent ERROR)
   */
  receive(name: string, data: Uint8Array): void;
  /** True once the handshake is complete in both directions. */
  readonly ready: boolean;
  /**
   * Set when we refused the peer; {@link nextCommand} then returns the ERROR
   * to send, and the connection closes once it is written.
   */
  readonly error: ProtocolError | undefined;
  /** The peer's `Socket-Type`, once known. */
  readonly peerSocketType: string;
  /** The peer's `Identity`, empty when it announced none. */
  readonly peerIdentity: Uint8Array;
  /**
   * True when frames go on the wire as they are (NULL): the connection then
   * never calls {@link frameSize}, {@link encodeFrame} or {@link decodeFrame}.
   */
  readonly transparent: boolean;
  /** The octets one frame of `bodyLength` octets takes once encoded. */
  frameSize(bodyLength: number): number;
  /**
   * Encodes one frame, after the handshake.
   *
   * @param flags the frame's own flags: MORE, COMMAND
   * @param part its body (text is UTF-8)
   * @param bodyLength the body's length in octets
   * @param target where to write; has room for {@link frameSize}
   * @param offset where to start
   * @returns the offset after the encoded frame
   */
  encodeFrame(
    flags: number,
    part: Part,
    bodyLength: number,
    target: Uint8Array,
    offset: number,
  ): number;
  /**
   * Decodes one frame received after the handshake and passes the frame it
   * carries to `sink`, with its own flags.
   *
   * @throws {ProtocolError} when the frame cannot be decoded
   */
  decodeFrame(flags: number, body: Uint8Array, sink: FrameSink): void;
  /** Wipes the connection's keys, if it has any; called once, on close. */
  dispose?(): void;
}

/**
 * Makes each connection's mechanism for one socket: the socket is given one
 * and knows nothing of what it makes. Called once per connection, as it
 * opens.
 */
export interface MechanismFactory {
  /**
   * One connection's mechanism.
   *
   * @param options our socket type, identity and side
   * @throws {Error} after {@link dispose}: a socket never falls back to
   * another mechanism
   */
  (options: MechanismOptions): Mechanism;
  /** The name of the mechanisms it makes: `NULL`, `CURVE`. */
  readonly mechanism: string;
  /** Wipes the socket's keys, if it has any; called once, on close. */
  dispose(): void;
}

/** The peer sent ERROR: it refuses us (RFC 37: do not retry as we are). */
export class HandshakeRefusedError extends ProtocolError {
  /** The reason the peer gave, as printable ASCII. */
  readonly reason: string;

  /**
   * Creates the error for a peer's ERROR command.
   *
   * @param reason the ERROR command's reason
   */
  constructor(reason: string) {
    super(`Peer refused the handshake: ${reason}`);
    this.name = "HandshakeRefusedError";
    this.reason = reason;
  }
}

/**
 * The peer sent ERROR {@link SERVER_FULL}: the server is at its connection
 * limit with every connection busy. Unlike other refusals, a later try may
 * succeed.
 *
 * @example
 * ```ts
 * import { ServerFullError, SERVER_FULL } from "./mechanism.ts";
 * const error = new ServerFullError();
 * error.reason === SERVER_FULL; // true
 * ```
 */
export class ServerFullError extends HandshakeRefusedError {
  constructor() {
    super(SERVER_FULL);
    this.name = "ServerFullError";
  }
}

/**
 * The refusal as it fits the peer's ERROR reason: {@link ServerFullError}
 * for {@link SERVER_FULL}, else a {@link HandshakeRefusedError}.
 *
 * @param reason the ERROR command's reason, as parsed
 */
export function refusedWith(reason: string): HandshakeRefusedError {
  return reason === SERVER_FULL
    ? new ServerFullError()
    : new HandshakeRefusedError(reason);
}

const latin1 = (text: string) =>
  Uint8Array.from(text, (char) => char.charCodeAt(0));
const asText = (bytes: Uint8Array) => String.fromCharCode(...bytes);

/**
 * Encodes metadata properties: for each, a one-octet name length, the name,
 * a four-octet value length in network order, and the value.
 *
 * @param properties names (1 to 255 octets) and values
 * @returns the property list
 */
export function encodeMetadata(
  properties: ReadonlyMap<string, Uint8Array>,
): Uint8Array {
  let size = 0;
  for (const [name, value] of properties) {
    size += 5 + name.length + value.length;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [name, value] of properties) {
    out[at++] = name.length;
    out.set(latin1(name), at);
    at += name.length;
    view.setUint32(at, value.length);
    at += 4;
    out.set(value, at);
    at += value.length;
  }
  return out;
}

/**
 * Parses a property list; names are returned in lower case, since their case
 * is not significant.
 *
 * @param data the property list
 * @param command the command it came in, for errors
 * @throws {ProtocolError} when a property is truncated or its name is empty
 */
export function parseMetadata(
  data: Uint8Array,
  command = "READY",
): Map<string, Uint8Array> {
  const properties = new Map<string, Uint8Array>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < data.length) {
    const nameLength = data[at++];
    if (nameLength === 0 || at + nameLength + 4 > data.length) {
      throw new ProtocolError(`${command} has a malformed property`);
    }
    const name = asText(data.subarray(at, at + nameLength)).toLowerCase();
    at += nameLength;
    const valueLength = view.getUint32(at);
    at += 4;
    if (valueLength > data.length - at) {
      throw new ProtocolError(
        `${command} property "${name}" runs past the command`,
      );
    }
    // Views: the command body is already the receiver's own copy.
    properties.set(name, data.subarray(at, at + valueLength));
    at += valueLength;
  }
  return properties;
}

// Our metadata without an identity is the same for every connection of a
// type: encode it once.
const metadataByType = new Map<SocketType, Uint8Array>();

/**
 * Our metadata: `Socket-Type`, and `Identity` when set (not for REP, which
 * has no use for one). Shared between connections; never modify it.
 */
export function ourMetadata(
  socketType: SocketType,
  identity?: Uint8Array,
): Uint8Array {
  const shared = identity === undefined || socketType === "REP";
  const cached = shared ? metadataByType.get(socketType) : undefined;
  if (cached !== undefined) return cached;
  const properties = new Map<string, Uint8Array>([
    ["Socket-Type", latin1(socketType)],
  ]);
  if (!shared) properties.set("Identity", identity!);
  const metadata = encodeMetadata(properties);
  if (shared) metadataByType.set(socketType, metadata);
  return metadata;
}

/** What a peer's metadata says about it, checked against our socket type. */
export interface PeerMetadata {
  /** The peer's `Socket-Type`; known types as shared literals. */
  socketType: string;
  /** The peer's `Identity`, empty when it announced none. */
  identity: Uint8Array;
  /** Why the peer may not talk to us, or `undefined` when it may. */
  refusal: string | undefined;
}

/**
 * Reads a peer's `Socket-Type` and `Identity` from its metadata and checks
 * the type against RFC 37's table.
 *
 * @param ours our socket type
 * @param properties the peer's parsed metadata
 */
export function checkPeerMetadata(
  ours: SocketType,
  properties: ReadonlyMap<string, Uint8Array>,
): PeerMetadata {
  const type = properties.get("socket-type");
  const announced = type === undefined ? "" : asText(type);
  // Known types as shared literals, not a fresh string per connection.
  const socketType = KNOWN_TYPES.find((known) => known === announced) ??
    announced;
  const identity = properties.get("identity") ?? new Uint8Array(0);
  const refusal = type === undefined
    ? "Socket-Type is missing"
    : isLegalPeer(ours, socketType)
    ? undefined
    : `Invalid socket type ${printable(socketType)} for ${ours}`;
  return { socketType, identity, refusal };
}

/**
 * Encodes an ERROR command frame. RFC 37 allows only printable ASCII
 * without spaces (VCHAR) in the reason, at most 255 octets: other characters
 * become `-`, so a peer's bytes are never echoed as they are.
 *
 * @param reason why, in a few words
 */
export function encodeErrorCommand(reason: string): Uint8Array {
  const text = latin1(
    reason.slice(0, 255).replace(/[^\x21-\x7e]/g, "-"),
  );
  const data = new Uint8Array(1 + text.length);
  data[0] = text.length;
  data.set(text, 1);
  return encodeCommand("ERROR", data);
}

/**
 * The most octets a mechanism adds to one frame (CURVE's MESSAGE adds 33),
 * allowed on top of the message size limit.
 */
export const MAX_FRAME_OVERHEAD = 64;

/** The ERROR reason for a peer whose socket type may not talk to ours. */
export const INVALID_SOCKET_TYPE = "Invalid-socket-type";

/**
 * The ERROR reason of a server at its connection limit whose connections
 * are all busy (none can be closed to make room).
 */
export const SERVER_FULL = "Server-full";

/**
 * A mechanism's refusal of its peer: the error the connection closes with,
 * and the ERROR command that tells the peer, sent once.
 */
export class Refusal {
  #error: ProtocolError | undefined;
  #reason = "";
  #sent = false;

  /** Why the peer was refused, once it was. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /**
   * Refuses the peer; the first refusal stands.
   *
   * @param error the error for our side (events, logs)
   * @param reason the ERROR command's reason for the peer (VCHAR only)
   */
  refuse(error: ProtocolError, reason: string): void {
    if (this.#error !== undefined) return;
    this.#error = error;
    this.#reason = reason;
  }

  /** The ERROR command the first time it is asked for after a refusal. */
  command(): Uint8Array | undefined {
    if (this.#error === undefined || this.#sent) return undefined;
    this.#sent = true;
    return encodeErrorCommand(this.#reason);
  }
}

/**
 * Reads an ERROR command's reason.
 *
 * @throws {ProtocolError} when the reason runs past the command
 */
export function parseErrorReason(data: Uint8Array): string {
  const length = data[0] ?? 0;
  if (data.length < 1 + length) {
    throw new ProtocolError("ERROR has a malformed reason");
  }
  return printable(asText(data.subarray(1, 1 + length)));
}

// A peer's text made safe to print: controls and non-ASCII become "?", and
// it is cut at 64 characters.
function printable(text: string): string {
  const safe = text.replace(/[^\x20-\x7e]/g, "?");
  return safe.length > 64 ? `${safe.slice(0, 64)}...` : safe;
}
