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
  framedSize,
  type FrameSink,
  type Part,
  writeFrame,
} from "./frame.ts";
import {
  checkPeerMetadata,
  HandshakeRefusedError,
  INVALID_SOCKET_TYPE,
  type Mechanism,
  type MechanismFactory,
  type MechanismOptions,
  ourMetadata,
  parseErrorReason,
  parseMetadata,
  Refusal,
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
  readonly #refusal = new Refusal();
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
    return this.#readySent && this.#readyReceived &&
      this.#refusal.error === undefined;
  }

  /** Why we refused the peer, when we did. */
  get error(): ProtocolError | undefined {
    return this.#refusal.error;
  }

  /**
   * The command frame to send now, if any: our READY when it is our turn, or
   * ERROR, once, after a refused peer.
   */
  nextCommand(): Uint8Array | undefined {
    if (this.#refusal.error !== undefined) return this.#refusal.command();
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
    // Its own copy: the command's slab is shared.
    if (peer.identity.length > 0) this.peerIdentity = peer.identity.slice();
    this.#readyReceived = true;
    if (peer.refusal !== undefined) {
      this.#refusal.refuse(
        new ProtocolError(peer.refusal),
        INVALID_SOCKET_TYPE,
      );
    }
  }

  /** A frame's plain size: NULL adds nothing. */
  frameSize(bodyLength: number): number {
    return framedSize(bodyLength);
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

/**
 * The factory of NULL mechanisms, for a socket without security.
 *
 * @example
 * ```ts
 * import { nullFactory } from "./null_mechanism.ts";
 * const mechanism = nullFactory({ socketType: "REQ", isServer: false });
 * mechanism.nextCommand(); // READY
 * ```
 */
export const nullFactory: MechanismFactory = Object.assign(
  (options: MechanismOptions): Mechanism => new NullMechanism(options),
  { mechanism: "NULL", dispose: () => {} },
);
