/**
 * The socket's view of one ready peer: a queue of whole messages received
 * from it, with a high-water mark that holds the peer back through TCP, and
 * a way to send it messages.
 *
 * @module
 */

import {
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
} from "./connection.ts";
import type { Part } from "./frame.ts";

// Slots read from the front of a queue before it is compacted.
const COMPACT_AFTER = 1024;

/** Facts about a pipe's peer, for handlers and logs. */
export interface PeerInfo {
  /** The endpoint the peer came through (bound or connected). */
  endpoint: string;
  /** The peer's address, `host:port`. */
  remote: string;
  /** The peer's socket type, such as `REQ` or `DEALER`. */
  socketType: string;
}

/** What a {@link Pipe} tells the socket that owns it. */
export interface PipeOwner {
  /** The peer completed its handshake. */
  pipeReady(pipe: Pipe): void;
  /** The pipe's queue went from empty to holding a message. */
  pipeReadable(pipe: Pipe): void;
  /** The connection ended; `wasReady` says whether it got past the handshake. */
  pipeClosed(pipe: Pipe, error: Error | undefined, wasReady: boolean): void;
}

/**
 * One peer of a socket. It owns the {@link Connection} and queues the
 * messages that arrive until the socket takes them.
 */
export class Pipe implements ConnectionHandler {
  /** The ZMTP connection to the peer. */
  readonly connection: Connection;
  readonly #owner: PipeOwner;
  readonly #highWaterMark: number;
  // Filled by index and reused once drained (length = 0 would drop the
  // storage and make the next message allocate it again).
  readonly #inbound: (Uint8Array[] | undefined)[] = [];
  #head = 0;
  #tail = 0;
  #wasReady = false;
  #closed = false;
  #peer: PeerInfo | undefined;

  /**
   * @param owner the socket to notify
   * @param conn the TCP connection
   * @param endpoint the endpoint it was bound or connected through
   * @param options the connection's options
   * @param highWaterMark messages queued before reading from the peer pauses
   */
  constructor(
    owner: PipeOwner,
    conn: Deno.Conn,
    endpoint: string,
    options: ConnectionOptions,
    highWaterMark: number,
  ) {
    this.#owner = owner;
    this.#highWaterMark = highWaterMark;
    this.connection = new Connection(conn, endpoint, options, this);
  }

  /** The endpoint the peer was reached through. */
  get endpoint(): string {
    return this.connection.endpoint;
  }

  /** Messages waiting to be read. */
  get size(): number {
    return this.#tail - this.#head;
  }

  /** Who the peer is; complete once its handshake is done. */
  get peer(): PeerInfo {
    const { endpoint, remote, peerSocketType } = this.connection;
    return this.#peer ??= { endpoint, remote, socketType: peerSocketType };
  }

  /** True once the peer completed its handshake (it may have left since). */
  get wasReady(): boolean {
    return this.#wasReady;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Takes the oldest message from the peer.
   *
   * @returns the message's parts, or `undefined` when none waits
   */
  read(): Uint8Array[] | undefined {
    if (this.#head === this.#tail) return undefined;
    const message = this.#inbound[this.#head]!;
    this.#inbound[this.#head++] = undefined;
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
      if (!this.#closed) this.connection.resumeReading();
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#tail) {
      // A queue that never empties moves its messages to the front now and
      // then, or it would grow for ever.
      const inbound = this.#inbound;
      inbound.copyWithin(0, this.#head, this.#tail);
      inbound.fill(undefined, this.#tail - this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    return message;
  }

  /**
   * Sends a message to the peer.
   *
   * @returns false when the peer is gone and the message was dropped
   */
  write(parts: Part[]): boolean {
    return this.connection.send(parts);
  }

  /** Part of {@link ConnectionHandler}. */
  onReady(): void {
    this.#wasReady = true;
    this.#owner.pipeReady(this);
  }

  /** Part of {@link ConnectionHandler}. */
  onMessage(connection: Connection, parts: Uint8Array[]): void {
    this.#inbound[this.#tail++] = parts;
    const size = this.size;
    if (size >= this.#highWaterMark) connection.pauseReading();
    if (size === 1) this.#owner.pipeReadable(this);
  }

  /** Part of {@link ConnectionHandler}. */
  onClose(_connection: Connection, error: Error | undefined): void {
    this.#closed = true;
    this.#owner.pipeClosed(this, error, this.#wasReady);
  }
}
