/**
 * Everything between a new TCP connection and its first message: the
 * greeting with version negotiation (RFC 37; RFC 15 for ZMTP/2.0 peers), then
 * the security mechanism's commands (ZMTP 3) or the identity frame
 * (ZMTP/2.0). It does no I/O: the connection feeds it octets and frames and
 * sends what it asks for.
 *
 * @module
 */

import { MechanismMismatchError, ProtocolError } from "./errors.ts";
import { MORE, parseCommand } from "./frame.ts";
import {
  checkSignature,
  encodeGreeting,
  GREETING_HEAD_SIZE,
  GREETING_SIZE,
  parseGreeting,
  V2_GREETING_SIZE,
  V2_SOCKET_TYPES,
  v2SocketTypeName,
  VERSION_OFFSET,
  ZMTP_2_REVISION,
} from "./greeting.ts";
import {
  HandshakeRefusedError,
  isLegalPeer,
  type Mechanism,
  refusedWith,
  type SocketType,
} from "./mechanism.ts";

/** What the handshake asks the connection to send. */
export type Send = (bytes: Uint8Array) => void;

// The greeting octets after the head, per mechanism and role: the same for
// every connection, so built once.
const greetingTails = new Map<string, Uint8Array>();
function greetingTail(mechanism: string, asServer: boolean): Uint8Array {
  const key = `${mechanism}/${asServer}`;
  let tail = greetingTails.get(key);
  if (tail === undefined) {
    tail = encodeGreeting(mechanism, asServer).subarray(GREETING_HEAD_SIZE);
    greetingTails.set(key, tail);
  }
  return tail;
}

/** The signature and major version, sent to every peer at once. */
export const GREETING_HEAD: Uint8Array = encodeGreeting().subarray(
  0,
  GREETING_HEAD_SIZE,
);

// An empty identity in ZMTP/2.0 framing: a final short frame of size 0.
const V2_EMPTY_IDENTITY = new Uint8Array([0x00, 0x00]);

/**
 * One connection's way to its first message. The connection sends
 * {@link GREETING_HEAD}, then passes every octet to {@link greeting} until
 * {@link greetingDone}, then every frame to {@link frame} until
 * {@link ready}.
 */
export class Handshake {
  /** The security mechanism (ZMTP 3); NULL for a ZMTP/2.0 peer. */
  readonly mechanism: Mechanism;
  readonly #socketType: SocketType;
  readonly #send: Send;
  // The peer's greeting as it arrives: the 11-octet head, then the rest.
  readonly #received = new Uint8Array(GREETING_SIZE);
  #have = 0;
  #need = GREETING_HEAD_SIZE;
  #version = 0;
  #minor = 0;
  #ready = false;
  #peerSocketType = "";
  #peerIdentity: Uint8Array | undefined;

  /**
   * @param mechanism the security mechanism for a ZMTP 3 peer
   * @param socketType our socket type (the ZMTP/2.0 socket-type octet)
   * @param send queues octets for the peer
   */
  constructor(mechanism: Mechanism, socketType: SocketType, send: Send) {
    this.mechanism = mechanism;
    this.#socketType = socketType;
    this.#send = send;
  }

  /** True once the peer's whole greeting has been read. */
  get greetingDone(): boolean {
    return this.#have === this.#need && this.#need > GREETING_HEAD_SIZE;
  }

  /** How far the handshake got, for a peer that hangs up midway. */
  get stage(): string {
    if (this.greetingDone) return this.mechanism.name;
    return this.#have === 0 ? "connection" : "greeting";
  }

  /** The peer's ZMTP major version: 2 or 3 (0 until known). */
  get version(): number {
    return this.#version;
  }

  /** True when the peer speaks ZMTP 3.1 or later: it answers PING. */
  get peerPings(): boolean {
    return this.#version >= 3 && (this.#version > 3 || this.#minor >= 1);
  }

  /** True once frames may flow. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Why we refused the peer, once {@link ready} will never come. */
  get error(): ProtocolError | undefined {
    return this.#version === 2 ? undefined : this.mechanism.error;
  }

  /** The peer's socket type, once known. */
  get peerSocketType(): string {
    return this.#version === 2
      ? this.#peerSocketType
      : this.mechanism.peerSocketType;
  }

  /** The peer's identity, empty when it announced none. */
  get peerIdentity(): Uint8Array {
    return this.#peerIdentity ?? this.mechanism.peerIdentity;
  }

  /**
   * Takes greeting octets from `chunk[start, end)`.
   *
   * @returns how many it took; fewer than offered once the greeting is
   * complete (the rest are frames)
   * @throws {ProtocolError} on a greeting we cannot or will not speak
   */
  greeting(chunk: Uint8Array, start: number, end: number): number {
    let at = start;
    while (at < end && this.#have < this.#need) {
      const take = Math.min(end - at, this.#need - this.#have);
      const from = this.#have;
      this.#received.set(chunk.subarray(at, at + take), from);
      this.#have += take;
      at += take;
      checkSignature(this.#received.subarray(0, this.#have), from);
      if (this.#have === GREETING_HEAD_SIZE && this.#version === 0) {
        this.#negotiate();
      }
    }
    if (this.greetingDone) this.#greetingComplete();
    return at - start;
  }

  // The peer's major version is known: send it the rest of our greeting in
  // its own protocol, and read the rest of its own.
  #negotiate(): void {
    const { mechanism } = this;
    // RFC 37: a peer whose version is 1 or 2 gets ZMTP/2.0.
    if (this.#received[VERSION_OFFSET] <= ZMTP_2_REVISION + 1) {
      if (mechanism.name !== "NULL") {
        throw new MechanismMismatchError("ZMTP/2.0", mechanism.name);
      }
      this.#version = 2;
      this.#need = V2_GREETING_SIZE;
      this.#send(new Uint8Array([V2_SOCKET_TYPES[this.#socketType]]));
      this.#send(V2_EMPTY_IDENTITY);
      return;
    }
    this.#version = 3;
    this.#need = GREETING_SIZE;
    this.#send(greetingTail(mechanism.name, mechanism.asServer));
    // The mechanism's first command (NULL's or CURVE's client) goes with it.
    this.#sendCommands();
  }

  #greetingComplete(): void {
    if (this.#version === 2) {
      const octet = this.#received[V2_GREETING_SIZE - 1];
      this.#peerSocketType = v2SocketTypeName(octet);
      if (!isLegalPeer(this.#socketType, this.#peerSocketType)) {
        throw new ProtocolError(
          `Invalid socket type ${this.#peerSocketType} for ${this.#socketType}`,
        );
      }
      return;
    }
    const greeting = parseGreeting(this.#received);
    this.#minor = greeting.major > 3 ? 1 : greeting.minor;
    if (greeting.mechanism !== this.mechanism.name) {
      throw new MechanismMismatchError(greeting.mechanism, this.mechanism.name);
    }
  }

  /**
   * Takes a frame received after the greeting and before {@link ready}.
   *
   * @throws {ProtocolError} when the frame breaks the handshake
   */
  frame(flags: number, body: Uint8Array, command: boolean): void {
    if (this.#version === 2) {
      // The first message of a ZMTP/2.0 peer is its identity, one frame.
      if (flags & MORE) {
        throw new ProtocolError("ZMTP/2.0 identity has more than one frame");
      }
      // Its own copy: the frame's slab is shared, and the identity lives as
      // long as the connection.
      this.#peerIdentity = body.slice();
      this.#ready = true;
      return;
    }
    if (!command) {
      throw new ProtocolError("Message frame before the handshake completed");
    }
    const { name, data } = parseCommand(body);
    try {
      this.mechanism.receive(name, data);
    } catch (error) {
      // A full server's ERROR gets a type of its own: a later try may do.
      if (error instanceof HandshakeRefusedError) {
        throw refusedWith(error.reason);
      }
      throw error;
    }
    this.#sendCommands();
    this.#ready = this.mechanism.ready;
  }

  #sendCommands(): void {
    for (
      let command = this.mechanism.nextCommand();
      command !== undefined;
      command = this.mechanism.nextCommand()
    ) {
      this.#send(command);
    }
  }
}
