/**
 * The NULL security mechanism (RFC 37): READY and ERROR commands, metadata
 * properties, and the check that the peer's socket type may talk to ours.
 *
 * The mechanism does no I/O: the connection hands it received commands and
 * sends the commands it asks for.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { EMPTY, encodeCommand } from "./frame.ts";

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
 * import { isLegalPeer } from "./null_mechanism.ts";
 * isLegalPeer("REP", "DEALER"); // true
 * isLegalPeer("REP", "REP"); // false
 * ```
 */
export function isLegalPeer(ours: SocketType, peer: string): boolean {
  return LEGAL_PEERS[ours].includes(peer);
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
 * @throws {ProtocolError} when a property is truncated or its name is empty
 */
export function parseMetadata(data: Uint8Array): Map<string, Uint8Array> {
  const properties = new Map<string, Uint8Array>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < data.length) {
    const nameLength = data[at++];
    if (nameLength === 0 || at + nameLength + 4 > data.length) {
      throw new ProtocolError("READY has a malformed property");
    }
    const name = asText(data.subarray(at, at + nameLength)).toLowerCase();
    at += nameLength;
    const valueLength = view.getUint32(at);
    at += 4;
    if (valueLength > data.length - at) {
      throw new ProtocolError(`READY property "${name}" runs past the command`);
    }
    // Views: the command body is already the receiver's own copy.
    properties.set(name, data.subarray(at, at + valueLength));
    at += valueLength;
  }
  return properties;
}

/**
 * Encodes an ERROR command frame carrying a reason (at most 255 octets).
 *
 * @param reason printable ASCII
 */
export function encodeErrorCommand(reason: string): Uint8Array {
  const text = latin1(reason.slice(0, 255));
  const data = new Uint8Array(1 + text.length);
  data[0] = text.length;
  data.set(text, 1);
  return encodeCommand("ERROR", data);
}

// READY without an identity is the same for every connection of a type.
const readyByType = new Map<SocketType, Uint8Array>();

/**
 * Our READY command frame: `Socket-Type`, and `Identity` when set (not for
 * REP). Shared between connections; never modify it.
 */
export function readyCommand(
  socketType: SocketType,
  identity?: Uint8Array,
): Uint8Array {
  const shared = identity === undefined || socketType === "REP";
  const cached = shared ? readyByType.get(socketType) : undefined;
  if (cached !== undefined) return cached;
  const properties = new Map<string, Uint8Array>([
    ["Socket-Type", latin1(socketType)],
  ]);
  if (!shared) properties.set("Identity", identity!);
  const command = encodeCommand("READY", encodeMetadata(properties));
  if (shared) readyByType.set(socketType, command);
  return command;
}

/** Options for {@link NullMechanism}. */
export interface NullMechanismOptions {
  /** Our socket type, announced as `Socket-Type`. */
  socketType: SocketType;
  /** Our identity, announced as `Identity` when set (REQ, DEALER, ROUTER). */
  identity?: Uint8Array;
  /** True on the side that accepted the connection (the NULL "server"). */
  isServer: boolean;
}

/**
 * One connection's NULL handshake. The client (the connecting side) sends
 * READY at once; the server waits for the client's READY, checks its socket
 * type, and answers READY or ERROR.
 */
export class NullMechanism {
  readonly #options: NullMechanismOptions;
  #readySent = false;
  #readyReceived = false;
  #error: string | undefined;
  /** The peer's `Socket-Type`, once its READY has arrived. */
  peerSocketType = "";
  /** The peer's `Identity`, empty when it announced none. */
  peerIdentity: Uint8Array = EMPTY;

  /**
   * @param options our socket type, identity and role
   */
  constructor(options: NullMechanismOptions) {
    this.#options = options;
  }

  /** True once READY has gone both ways. */
  get ready(): boolean {
    return this.#readySent && this.#readyReceived;
  }

  /** Why the handshake failed, when it did. */
  get error(): string | undefined {
    return this.#error;
  }

  /**
   * The command frame to send now, if any: our READY when it is our turn, or
   * ERROR after a refused peer.
   */
  nextCommand(): Uint8Array | undefined {
    if (this.#error !== undefined) return encodeErrorCommand(this.#error);
    if (this.#readySent) return undefined;
    if (this.#options.isServer && !this.#readyReceived) return undefined;
    this.#readySent = true;
    return readyCommand(this.#options.socketType, this.#options.identity);
  }

  /**
   * Takes a command received during the handshake.
   *
   * @param name the command's name
   * @param data the command's data
   * @throws {ProtocolError} when the peer sent ERROR or an unexpected command;
   * a refused socket type instead sets {@link error}, so that ERROR is sent
   */
  receive(name: string, data: Uint8Array): void {
    if (name === "ERROR") {
      const reason = asText(data.subarray(1, 1 + (data[0] ?? 0)));
      throw new ProtocolError(`Peer refused the handshake: ${reason}`);
    }
    if (name !== "READY" || this.#readyReceived) {
      throw new ProtocolError(
        `Unexpected ${name} command during the handshake`,
      );
    }
    const properties = parseMetadata(data);
    const type = properties.get("socket-type");
    // Known types as shared literals, not a fresh string per connection.
    const announced = type === undefined ? "" : asText(type);
    this.peerSocketType = KNOWN_TYPES.find((known) => known === announced) ??
      announced;
    this.peerIdentity = properties.get("identity") ?? this.peerIdentity;
    this.#readyReceived = true;
    if (!isLegalPeer(this.#options.socketType, this.peerSocketType)) {
      this.#error = type === undefined
        ? "Socket-Type is missing"
        : `Invalid socket type ${this.peerSocketType} for ${this.#options.socketType}`;
    }
  }
}
