/**
 * The REP socket (RFC 28): takes requests fair-queued from all peers, strips
 * and keeps each one's envelope, and sends the reply back to the peer the
 * request came from, with the envelope in front.
 *
 * @module
 */

import { asError, SocketError } from "./errors.ts";
import { ownParts } from "./assembler.ts";
import { FairQueue } from "./fair_queue.ts";
import { EMPTY, type Part } from "./frame.ts";
import type { PeerInfo, Pipe } from "./pipe.ts";
import {
  adoptSocket,
  createWaiter,
  type MessageLike,
  Socket,
  type SocketInternals,
  type SocketOptions,
  toParts,
  type Waiter,
} from "./socket.ts";

const DELIMITER_ONLY: readonly Uint8Array[] = Object.freeze([EMPTY]);

/**
 * Takes a request's envelope, every frame up to and including its first
 * empty one, off the front of the message, leaving the body. A REQ peer's
 * request is `["", body]`; through a ROUTER/DEALER broker it is
 * `[id, "", body]`. The message is the caller's own, so it is cut in place.
 *
 * @returns the envelope (shared when it is the delimiter alone; never
 * modify it), or `undefined` when there is no delimiter
 */
export function takeEnvelope(message: Uint8Array[]): Uint8Array[] | undefined {
  if (message.length > 0 && message[0].length === 0) {
    message.shift();
    return DELIMITER_ONLY as Uint8Array[];
  }
  const end = message.findIndex((part) => part.length === 0);
  return end === -1 ? undefined : message.splice(0, end + 1);
}

/**
 * Answers one request. Return the reply (or a promise of it). A handler
 * that throws, rejects, or returns something that is not a message is
 * reported in an `error` event naming the peer; since that request can
 * have no reply, a REQ peer's connection is then closed, so that its client
 * learns at once instead of waiting (a broker's connection carries other
 * clients' requests too: only the one request is dropped).
 */
export type RequestHandler = (
  request: Uint8Array[],
  peer: PeerInfo,
) => MessageLike | Promise<MessageLike>;

/** Options of {@link Reply.serve}. */
export interface ServeOptions {
  /**
   * Whether each request's frames are copied into memory the handler owns.
   * With `false` they are views into buffers the engine shares between
   * connections: the handler may read them while it runs, but must not keep
   * them, read their `buffer`, or transfer them. That saves an allocation
   * per request (about 1 us under Deno), for handlers that decode the
   * request at once, as `server.ts` does.
   * @default {true}
   */
  copy?: boolean;
}

/**
 * A REP socket: takes requests fair-queued from its peers, with
 * `receive()`, `for await` or `serve()`, and sends each reply to the peer
 * its request came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reply, Request } from "./mod.ts";
 *
 * await using reply = new Reply();
 * const endpoint = await reply.bind("tcp://127.0.0.1:0");
 * await using request = new Request();
 * request.connect(endpoint);
 * await request.send("ping");
 *
 * for await (const [message] of reply) {
 *   await reply.send(message); // echo it
 *   break; // one is enough here; a server keeps going until close()
 * }
 * const [echo] = await request.receive();
 * assert.equal(new TextDecoder().decode(echo), "ping");
 * ```
 */
export class Reply extends Socket {
  readonly #core: SocketInternals;
  readonly #queue = new FairQueue<Pipe>();
  #request: { pipe: Pipe; envelope: Uint8Array[] } | undefined;
  #receiver: Waiter<Uint8Array[]> | undefined;
  #handler: RequestHandler | undefined;
  #copy = true;
  #servingDone: (() => void) | undefined;
  // Pipes whose handler result is still a pending promise: their next
  // request waits, so replies leave each peer in the order requests came.
  readonly #busy = new Set<Pipe>();
  #idleWaiters: (() => void)[] = [];

  /**
   * Creates a REP socket; it does nothing until `bind()` or `connect()`.
   *
   * @param options see {@link SocketOptions}
   */
  constructor(options: SocketOptions = {}) {
    super("REP", options);
    this.#core = adoptSocket(this, {
      attach: (pipe) => this.#attach(pipe),
      readable: (pipe) => this.#readable(pipe),
      detach: (pipe) => this.#detach(pipe),
      holds: (pipe) => this.#holds(pipe),
      closing: () => this.#onClosing(),
      inProgress: () => this.#inProgress(),
      closed: () => this.#onClosed(),
    });
  }

  /**
   * Receives the next request, round-robin over the peers that have one.
   *
   * @returns the request's body frames (the envelope is kept for `send()`)
   * @throws {SocketError} `EFSM` when the previous request has not been
   * answered, `EBUSY` when another `receive()` waits or `serve()` runs,
   * `EAGAIN` after `receiveTimeout`, `ETERM` when the socket closes
   */
  receive(): Promise<Uint8Array[]> {
    try {
      this.#assertFree("receive");
      if (this.#request !== undefined) {
        throw new SocketError(
          "EFSM",
          "Cannot receive: the previous request has not been answered with send()",
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const body = this.#take();
    if (body !== undefined) return Promise.resolve(body);
    const { waiter, promise } = createWaiter<Uint8Array[]>(
      this.#core.options.receiveTimeout,
      "receive",
      () => this.#receiver = undefined,
    );
    this.#receiver = waiter;
    return promise;
  }

  /**
   * Sends the reply to the request last received. If its peer has gone the
   * reply is dropped silently, as RFC 28 says. Never waits for the peer.
   *
   * @param message the reply
   * @throws {SocketError} `EFSM` when there is no request to answer
   */
  send(message: MessageLike): Promise<void> {
    try {
      this.#core.assertOpen("send");
      const request = this.#request;
      if (request === undefined) {
        throw new SocketError(
          "EFSM",
          "Cannot send: there is no request to answer; call receive() first",
        );
      }
      // Checked before the request is let go, so a bad reply can be
      // followed by a good one.
      const parts = withEnvelope(request.envelope, message);
      this.#request = undefined;
      request.pipe.write(parts);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Answers requests with `handler` until the socket closes. Unlike the
   * `receive()`/`send()` lockstep, requests from different peers are served
   * concurrently; each peer still gets its replies in order. A handler that
   * returns a value (not a promise) replies in the same task, with no queue.
   *
   * @param handler computes each reply
   * @param options whether requests are copied for the handler
   * @returns resolves when the socket has closed (see `close()`)
   * @throws {SocketError} `EBUSY` when `receive()` or `serve()` is in use
   */
  serve(handler: RequestHandler, options: ServeOptions = {}): Promise<void> {
    try {
      this.#assertFree("serve");
    } catch (error) {
      return Promise.reject(error);
    }
    this.#handler = handler;
    this.#copy = options.copy ?? true;
    const serving = new Promise<void>((resolve) => this.#servingDone = resolve);
    for (const pipe of this.#core.pipes) this.#serveFrom(pipe);
    return serving;
  }

  /** Yields each request's body; the loop ends when the socket closes. */
  async *[Symbol.asyncIterator](): AsyncGenerator<
    Uint8Array[],
    void,
    undefined
  > {
    while (!this.closed) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof SocketError && error.code === "ETERM") return;
        throw error;
      }
    }
  }

  #attach(pipe: Pipe): void {
    // serve() takes requests straight from each pipe; no queue to keep.
    if (this.#handler === undefined) this.#queue.attach(pipe);
  }

  #readable(pipe: Pipe): void {
    if (this.#handler !== undefined) {
      this.#serveFrom(pipe);
      return;
    }
    if (this.closed) return;
    this.#queue.activate(pipe);
    const receiver = this.#receiver;
    if (receiver === undefined) return;
    const body = this.#take();
    if (body !== undefined) receiver.resolve(body);
  }

  #holds(pipe: Pipe): boolean {
    return this.#request?.pipe === pipe || this.#busy.has(pipe);
  }

  #detach(pipe: Pipe): void {
    this.#queue.detach(pipe);
    this.#unbusy(pipe);
  }

  #onClosing(): void {
    this.#receiver?.reject(
      new SocketError("ETERM", "Cannot receive: the socket was closed"),
    );
  }

  // Replies whose handler has not finished yet, for a graceful close.
  #inProgress(): Promise<void> {
    if (this.#busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #onClosed(): void {
    this.#servingDone?.();
  }

  // The next well-formed request from the fair queue; requests without a
  // delimiter or without a body after it break RFC 28 and are dropped.
  #take(): Uint8Array[] | undefined {
    for (let next = this.#queue.next(); next; next = this.#queue.next()) {
      const envelope = takeEnvelope(next.message);
      if (envelope === undefined || next.message.length === 0) continue;
      this.#request = { pipe: next.pipe, envelope };
      return ownParts(next.message);
    }
    return undefined;
  }

  #serveFrom(pipe: Pipe): void {
    const handler = this.#handler!;
    // Requests already read are served even while closing: reading has
    // stopped, so no new ones come.
    while (!this.#busy.has(pipe)) {
      const message = pipe.read();
      if (message === undefined) return;
      const envelope = takeEnvelope(message);
      if (envelope === undefined || message.length === 0) continue;
      let result: MessageLike | Promise<MessageLike>;
      try {
        result = handler(this.#copy ? ownParts(message) : message, pipe.peer);
      } catch (error) {
        this.#failed(pipe, error);
        continue;
      }
      if (!(result instanceof Promise)) {
        this.#reply(pipe, envelope, result);
        continue;
      }
      this.#busy.add(pipe);
      result.then(
        (reply) => this.#reply(pipe, envelope, reply),
        (error) => this.#failed(pipe, error),
      ).finally(() => {
        this.#unbusy(pipe);
        if (!pipe.closed) this.#serveFrom(pipe);
      }).catch((error) => this.#failed(pipe, error));
    }
  }

  #reply(pipe: Pipe, envelope: Uint8Array[], reply: MessageLike): void {
    let parts: Part[];
    try {
      parts = withEnvelope(envelope, reply);
    } catch (error) {
      this.#failed(pipe, error);
      return;
    }
    pipe.write(parts);
  }

  // A request that gets no reply: say so, and let a REQ peer go, since it
  // may send nothing more until it has one.
  #failed(pipe: Pipe, error: unknown): void {
    const peer = pipe.peer;
    this.#core.emit({ type: "error", error: asError(error), peer });
    if (peer.socketType === "REQ") {
      pipe.connection.close(
        new Error("The request handler failed; see the error event"),
      );
    }
  }

  // Requests go to one taker at a time: a waiting receive() or serve().
  #assertFree(action: "receive" | "serve"): void {
    this.#core.assertOpen(action);
    if (this.#handler !== undefined || this.#receiver !== undefined) {
      throw new SocketError(
        "EBUSY",
        `Cannot ${action}: another receive() or serve() is already taking requests`,
      );
    }
  }

  #unbusy(pipe: Pipe): void {
    if (!this.#busy.delete(pipe) || this.#busy.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

// The reply's frames behind the envelope; a single part needs no array.
function withEnvelope(envelope: Uint8Array[], reply: MessageLike): Part[] {
  if (typeof reply === "string") {
    return envelope.length === 1 ? [envelope[0], reply] : [...envelope, reply];
  }
  return [...envelope, ...toParts(reply)];
}
