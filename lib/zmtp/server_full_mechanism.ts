/**
 * The handshake of a server that is full: it greets with the socket's own
 * mechanism, then answers the peer's first command (NULL's READY, CURVE's
 * HELLO) with ERROR {@link SERVER_FULL}, so that the peer learns why
 * rather than seeing a hang-up. No keys are used; nothing is decoded.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { EMPTY, type FrameSink, type Part } from "./frame.ts";
import {
  type Mechanism,
  parseErrorReason,
  Refusal,
  refusedWith,
  SERVER_FULL,
} from "./mechanism.ts";

/** Refuses every peer with ERROR {@link SERVER_FULL}. */
export class ServerFullMechanism implements Mechanism {
  readonly name: string;
  readonly asServer: boolean;
  readonly transparent = true;
  readonly peerSocketType = "";
  readonly peerIdentity: Uint8Array = EMPTY;
  readonly ready = false;
  readonly #refusal = new Refusal();

  /**
   * @param name the mechanism the socket greets with (`NULL`, `CURVE`)
   * @param asServer the greeting's as-server flag for it
   */
  constructor(name: string, asServer: boolean) {
    this.name = name;
    this.asServer = asServer;
  }

  /** Why the peer was refused, once its first command came. */
  get error(): ProtocolError | undefined {
    return this.#refusal.error;
  }

  /** ERROR, once, after the peer's first command. */
  nextCommand(): Uint8Array | undefined {
    return this.#refusal.command();
  }

  /**
   * Refuses the peer whatever it sent.
   *
   * @throws {HandshakeRefusedError} when the peer sent ERROR itself
   */
  receive(name: string, data: Uint8Array): void {
    if (name === "ERROR") throw refusedWith(parseErrorReason(data));
    this.#refusal.refuse(
      new ProtocolError("Refused a peer: the server is full"),
      SERVER_FULL,
    );
  }

  /** Never called: no frame passes a refused handshake. */
  frameSize(): number {
    throw new ProtocolError("A refused connection carries no frames");
  }

  /** Never called: no frame passes a refused handshake. */
  encodeFrame(
    _flags: number,
    _part: Part,
    _bodyLength: number,
    _target: Uint8Array,
    _offset: number,
  ): number {
    throw new ProtocolError("A refused connection carries no frames");
  }

  /** Never called: no frame passes a refused handshake. */
  decodeFrame(_flags: number, _body: Uint8Array, _sink: FrameSink): void {
    throw new ProtocolError("A refused connection carries no frames");
  }
}
