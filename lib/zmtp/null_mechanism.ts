/**
 * The NULL security mechanism (RFC 37): READY carrying the socket type, ERROR
 * for a peer of the wrong type, and frames on the wire as they are.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import {
  EMPTY,
  encodeCommand,
  type FrameSink,
  type Part,
  SHORT_MAX,
  writeFrame,
} from "./frame.ts";
import {
  checkPeerMetadata,
  encodeErrorCommand,
  HandshakeRefusedError,
  type Mechanism,
  type MechanismOptions,
  ourMetadata,
  parseErrorReason,
  parseMetadata,
  type SocketType,
} from "./mechanism.ts";

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
  const command = encodeCommand("READY", ourMetadata(socketType, identity));
  if (shared) readyByType.set(socketType, command);
  return command;
}

// The wire reason of our ERROR: a fixed token, never the peer's bytes.
const WRONG_SOCKET_TYPE = "Invalid-socket-type";

/**
 * One connection's NULL handshake. The client (the connecting side) sends
 * READY at once; the server waits for the client's READY, checks its socket
 * type, and answers READY or ERROR.
 */
export class NullMechanism implements Mechanism {
  readonly name = "NULL";
  readonly asServer = false;
  readonly transparent = true;
  readonly #options: MechanismOptions;
  #readySent = false;
  #readyReceived = false;
  #errorSent = false;
  #error: ProtocolError | undefined;
  /** The peer's `Socket-Type`, once its READY has arrived. */
  peerSocketType = "";
  /** The peer's `Identity`, empty when it announced none. */
  peerIdentity: Uint8Array = EMPTY;

  /**
   * @param options our socket type, identity and role
   */
  constructor(options: MechanismOptions) {
    this.#options = options;
  }

  /** True once READY has gone both ways. */
  get ready(): boolean {
    return this.#readySent && this.#readyReceived && this.#error === undefined;
  }

  /** Why we refused the peer, when we did. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /**
   * The command frame to send now, if any: our READY when it is our turn, or
   * ERROR, once, after a refused peer.
   */
  nextCommand(): Uint8Array | undefined {
    if (this.#error !== undefined) {
      if (this.#errorSent) return undefined;
      this.#errorSent = true;
      return encodeErrorCommand(WRONG_SOCKET_TYPE);
    }
    if (this.#readySent) return undefined;
    if (this.#options.isServer && !this.#readyReceived) return undefined;
    this.#readySent = true;
    return readyCommand(this.#options.socketType, this.#options.identity);
  }

  /**
   * Takes a command received during the handshake.
   *
   * @throws {ProtocolError} when the peer sent ERROR or an unexpected command;
   * a refused socket type instead sets {@link error}, so that ERROR is sent
   */
  receive(name: string, data: Uint8Array): void {
    if (name === "ERROR") {
      throw new HandshakeRefusedError(parseErrorReason(data));
    }
    if (name !== "READY" || this.#readyReceived) {
      throw new ProtocolError(
        `Unexpected ${name} command during the handshake`,
      );
    }
    const peer = checkPeerMetadata(
      this.#options.socketType,
      parseMetadata(data),
    );
    this.peerSocketType = peer.socketType;
    if (peer.identity.length > 0) this.peerIdentity = peer.identity;
    this.#readyReceived = true;
    if (peer.refusal !== undefined) {
      this.#error = new ProtocolError(peer.refusal);
    }
  }

  /** A frame's plain size: NULL adds nothing. */
  frameSize(bodyLength: number): number {
    return (bodyLength > SHORT_MAX ? 9 : 2) + bodyLength;
  }

  /** Writes the frame as it is. */
  encodeFrame(
    flags: number,
    part: Part,
    _bodyLength: number,
    target: Uint8Array,
    offset: number,
  ): number {
    return writeFrame(target, offset, flags, part);
  }

  /** Passes the frame on as it is. */
  decodeFrame(flags: number, body: Uint8Array, sink: FrameSink): void {
    sink.frame(flags, body);
  }
}
