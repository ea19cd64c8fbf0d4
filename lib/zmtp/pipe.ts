/**
 * The socket's view of one peer: two queues of whole messages, inbound
 * (received, waiting for the socket) and outbound (waiting to be written),
 * each with a high-water mark. A full queue either way stops reading from
 * that peer, so TCP holds it back: nothing is dropped, and what the engine
 * holds for a peer stays bounded whatever the peer does.
 *
 * @module
 */

import {
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
} from "./connection.ts";
import { ownParts } from "./assembler.ts";
import { encodedSize, type Part } from "./frame.ts";
import { Queue } from "./_queue.ts";

/**
 * Reading from a peer also pauses while either of its queues holds this many
 * octets, however few messages that is. Octets as held in memory: each
 * message's bodies plus {@link MESSAGE_OVERHEAD} and {@link PART_OVERHEAD}
 * per part, so that the bound holds for any message shape.
 */
export const QUEUE_BYTES_MARK = 1024 * 1024;

/**
 * What a queued message costs beyond its bodies, in octets, and what each
 * of its parts costs. Measured under Deno 2.9 (heap and external memory of
 * 20,000 queued messages as `ownParts` leaves them): 395 octets for a
 * message of one 1-octet part, 499 for two, 1,130 for eight, 7,530 for 64
 * (about 216 a message and 114 a part); rounded up so that every shape is
 * over-counted rather than under.
 */
export const MESSAGE_OVERHEAD = 320;
/** See {@link MESSAGE_OVERHEAD}. */
export const PART_OVERHEAD = 128;

// What a message of `parts` parts and `octets` octets is counted as.
function held(octets: number, parts: number): number {
  return octets + MESSAGE_OVERHEAD + parts * PART_OVERHEAD;
}

/** Facts about a pipe's peer, for handlers and logs. */
export interface PeerInfo {
  /** The endpoint the peer came through (bound or connected). */
  endpoint: string;
  /** The peer's address, `host:port`. */
  remote: string;
  /** The peer's socket type, such as `REQ` or `DEALER`. */
  socketType: string;
}

/** The high-water marks of a pipe's two queues, in messages. */
export interface PipeMarks {
  /** Received messages queued before reading from the peer pauses. */
  receiveHighWaterMark: number;
  /** Messages waiting to be written before reading from the peer pauses. */
  sendHighWaterMark: number;
}

/** What a {@link Pipe} tells the socket that owns it. */
export interface PipeOwner {
  /** The peer completed its handshake. */
  pipeReady(pipe: Pipe): void;
  /** The pipe's inbound queue went from empty to holding a message. */
  pipeReadable(pipe: Pipe): void;
  /** The connection ended; `wasReady` says whether it got past the handshake. */
  pipeClosed(pipe: Pipe, error: Error | undefined, wasReady: boolean): void;
}

/**
 * One peer of a socket. It owns the {@link Connection}, and holds the
 * messages that arrive until the socket takes them and the messages the
 * socket sends until the connection writes them.
 */
export class Pipe implements ConnectionHandler {
  /** The ZMTP connection to the peer. */
  readonly connection: Connection;
  readonly #owner: PipeOwner;
  readonly #marks: PipeMarks;
  readonly #inbound = new Queue<Uint8Array[]>();
  #inboundBytes = 0;
  readonly #outbound = new Queue<Part[]>();
  #outboundBytes = 0;
  /** The encoded size of the message {@link nextOutbound} returned last. */
  outboundSize = 0;
  #wasReady = false;
  #closed = false;
  #closeError: Error | undefined;
  #peer: PeerInfo | undefined;

  /**
   * @param owner the socket to notify
   * @param conn the TCP connection
   * @param endpoint the endpoint it was bound or connected through
   * @param options the connection's options
   * @param marks the queues' high-water marks
   */
  constructor(
    owner: PipeOwner,
    conn: Deno.Conn,
    endpoint: string,
    options: ConnectionOptions,
    marks: PipeMarks,
  ) {
    this.#owner = owner;
    this.#marks = marks;
    this.connection = new Connection(conn, endpoint, options, this);
  }

  /** The endpoint the peer was reached through. */
  get endpoint(): string {
    return this.connection.endpoint;
  }

  /** Received messages waiting to be read. */
  get size(): number {
    return this.#inbound.size;
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

  /**
   * True while a message from or to the peer is under way: queued either
   * way, or partly read or written.
   */
  get active(): boolean {
    return this.#inbound.size > 0 || this.#outbound.size > 0 ||
      this.connection.busy;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection has ended, with why, if it failed. */
  get closedWith(): Promise<Error | undefined> {
    return this.connection.done.then(() => this.#closeError);
  }

  /**
   * Takes the oldest message from the peer.
   *
   * @returns the message's parts, or `undefined` when none waits
   */
  read(): Uint8Array[] | undefined {
    const message = this.#inbound.shift();
    if (message === undefined) return undefined;
    let octets = 0;
    for (let i = 0; i < message.length; i++) octets += message[i].byteLength;
    this.#inboundBytes -= held(octets, message.length);
    this.connection.roomMade();
    return message;
  }

  /**
   * Queues a message for the peer; it is written in the next batch.
   *
   * @param parts the message's frames; must not change until written
   * @returns false when the peer is gone and the message was dropped
   */
  write(parts: Part[]): boolean {
    if (this.#closed) return false;
    this.#outbound.push(parts);
    this.#outboundBytes += held(encodedSize(parts), parts.length);
    if (this.#outbound.size === 1) this.connection.flushSoon();
    return true;
  }

  /** Part of {@link ConnectionHandler}: either queue is full. */
  get readPaused(): boolean {
    return this.#inbound.size >= this.#marks.receiveHighWaterMark ||
      this.#outbound.size >= this.#marks.sendHighWaterMark ||
      this.#inboundBytes >= QUEUE_BYTES_MARK ||
      this.#outboundBytes >= QUEUE_BYTES_MARK;
  }

  /** Part of {@link ConnectionHandler}. */
  get hasOutbound(): boolean {
    return this.#outbound.size > 0;
  }

  /** Part of {@link ConnectionHandler}. */
  nextOutbound(): Part[] | undefined {
    const message = this.#outbound.shift();
    if (message === undefined) return undefined;
    // Measured again rather than kept: one number less per queued message,
    // and a connection's queue holds nothing but the messages.
    const size = encodedSize(message);
    this.outboundSize = size;
    this.#outboundBytes -= held(size, message.length);
    this.connection.roomMade();
    return message;
  }

  /** Part of {@link ConnectionHandler}. */
  onReady(): void {
    this.#wasReady = true;
    this.#owner.pipeReady(this);
  }

  /** Part of {@link ConnectionHandler}: a whole message arrived. */
  message(parts: Uint8Array[], size: number): void {
    const inbound = this.#inbound;
    inbound.push(parts);
    this.#inboundBytes += held(size, parts.length);
    if (inbound.size === 1) this.#owner.pipeReadable(this);
    // A message that waits in the queue gets memory of its own: small
    // bodies are views into slabs shared by all connections, and a queue
    // of them could keep many slabs alive for a few octets each. One taken
    // at once (a synchronous serve()) is not copied.
    if (inbound.last() === parts) ownParts(parts);
  }

  /** Part of {@link ConnectionHandler}. */
  onClose(_connection: Connection, error: Error | undefined): void {
    this.#closed = true;
    this.#closeError = error;
    this.#inbound.clear();
    this.#outbound.clear();
    this.#inboundBytes = 0;
    this.#outboundBytes = 0;
    this.#owner.pipeClosed(this, error, this.#wasReady);
  }
}
