/**
 * The REQ socket (RFC 28): strict send/receive lockstep, an empty delimiter
 * in front of each request, requests spread round-robin over peers, and a
 * reply accepted only from the peer that got the request.
 *
 * @module
 */

import { ownParts } from "./assembler.ts";
import { SocketError } from "./errors.ts";
import { EMPTY, type Part } from "./frame.ts";
import { LoadBalancer } from "./load_balancer.ts";
import type { Pipe } from "./pipe.ts";
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

/** Options of a {@link Request} socket. */
export interface RequestOptions extends SocketOptions {
  /**
   * Allow `send()` while a reply is still awaited; the old request is then
   * abandoned (libzmq's `ZMQ_REQ_RELAXED`).
   * @default {false}
   */
  relaxed?: boolean;
  /**
   * Put a request id in front of each request and accept only the reply
   * that carries it back, so that a late reply to an abandoned request is
   * never taken for a newer one (libzmq's `ZMQ_REQ_CORRELATE`).
   * @default {false}
   */
  correlate?: boolean;
}

/**
 * A REQ socket. `send()` never waits: with no peer ready yet, the request
 * waits in the socket and goes to the first peer that completes its
 * handshake. If the peer holding a request goes away, `receive()` rejects
 * with `EHOSTUNREACH` instead of waiting for a reply that cannot come.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reply, Request } from "./mod.ts";
 *
 * await using reply = new Reply();
 * const endpoint = await reply.bind("tcp://127.0.0.1:0");
 * reply.serve(([line]) => String(Number(new TextDecoder().decode(line)) * 2));
 *
 * await using request = new Request({ receiveTimeout: 2000 });
 * request.connect(endpoint);
 * await request.send("100");
 * const [answer] = await request.receive();
 * assert.equal(new TextDecoder().decode(answer), "200");
 * ```
 */
export class Request extends Socket {
  readonly #core: SocketInternals;
  readonly #balancer = new LoadBalancer<Pipe>();
  readonly #relaxed: boolean;
  readonly #correlate: boolean;
  #requestId = (Math.random() * 0x100000000) >>> 0;
  // The request on its way: waiting for a peer (pipe undefined) or sent.
  #outgoing:
    | { parts: Part[]; id: Uint8Array | undefined; pipe: Pipe | undefined }
    | undefined;
  // A reply, or the reason none will come, not yet taken by receive().
  #result: Uint8Array[] | SocketError | undefined;
  #receiver: Waiter<Uint8Array[]> | undefined;
  #lastPeer: string | undefined;

  /**
   * Creates a REQ socket; it does nothing until `connect()` or `bind()`.
   *
   * @param options see {@link RequestOptions}
   */
  constructor(options: RequestOptions = {}) {
    const { relaxed = false, correlate = false, ...rest } = options;
    super("REQ", rest);
    this.#relaxed = relaxed;
    this.#correlate = correlate;
    this.#core = adoptSocket(this, {
      attach: (pipe) => this.#attach(pipe),
      readable: (pipe) => this.#readable(pipe),
      detach: (pipe) => this.#detach(pipe),
      closing: () => this.#onClosing(),
    });
  }

  /** The endpoint of the peer that sent the last reply received. */
  get lastPeer(): string | undefined {
    return this.#lastPeer;
  }

  /** Peers ready to take a request. */
  get peerCount(): number {
    return this.#balancer.size;
  }

  /**
   * Sends a request to the next peer in turn, or keeps it until one is
   * ready.
   *
   * @param message the request
   * @throws {SocketError} `EFSM` when the previous reply has not been
   * received (unless `relaxed`), `ETERM` when the socket is closed
   */
  send(message: MessageLike): Promise<void> {
    try {
      this.#core.assertOpen("send");
      if (this.#awaiting && !this.#relaxed) {
        throw new SocketError(
          "EFSM",
          "Cannot send: the reply to the previous request has not been received",
        );
      }
      const body = toParts(message);
      const id = this.#correlate ? this.#nextId() : undefined;
      const parts = id === undefined ? [EMPTY, ...body] : [id, EMPTY, ...body];
      this.#result = undefined;
      this.#outgoing = { parts, id, pipe: undefined };
      const pipe = this.#balancer.next();
      if (pipe !== undefined) this.#dispatch(pipe);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Receives the reply to the request sent last.
   *
   * @returns the reply's body frames
   * @throws {SocketError} `EFSM` before any request, `EBUSY` when another
   * `receive()` waits, `EAGAIN` after `receiveTimeout` (the request stays
   * pending), `EHOSTUNREACH` when its peer went away, `ETERM` on close
   */
  receive(): Promise<Uint8Array[]> {
    try {
      this.#core.assertOpen("receive");
      if (this.#receiver !== undefined) {
        throw new SocketError(
          "EBUSY",
          "Cannot receive: another receive() is waiting",
        );
      }
      const result = this.#result;
      if (result !== undefined) {
        this.#result = undefined;
        if (result instanceof SocketError) throw result;
        return Promise.resolve(result);
      }
      if (!this.#awaiting) {
        throw new SocketError("EFSM", "Cannot receive: send a request first");
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const { waiter, promise } = createWaiter<Uint8Array[]>(
      this.#core.options.receiveTimeout,
      "receive",
      () => this.#receiver = undefined,
    );
    this.#receiver = waiter;
    return promise;
  }

  get #awaiting(): boolean {
    return this.#outgoing !== undefined;
  }

  #nextId(): Uint8Array {
    this.#requestId = (this.#requestId + 1) >>> 0;
    const id = new Uint8Array(4);
    new DataView(id.buffer).setUint32(0, this.#requestId);
    return id;
  }

  #dispatch(pipe: Pipe): void {
    const outgoing = this.#outgoing!;
    outgoing.pipe = pipe;
    pipe.write(outgoing.parts);
  }

  #settle(result: Uint8Array[] | SocketError): void {
    this.#outgoing = undefined;
    const receiver = this.#receiver;
    if (receiver === undefined) {
      this.#result = result;
    } else if (result instanceof SocketError) {
      receiver.reject(result);
    } else {
      receiver.resolve(result);
    }
  }

  #attach(pipe: Pipe): void {
    this.#balancer.attach(pipe);
    if (this.#outgoing !== undefined && this.#outgoing.pipe === undefined) {
      this.#dispatch(pipe);
    }
  }

  #readable(pipe: Pipe): void {
    for (let message = pipe.read(); message; message = pipe.read()) {
      // Only the peer holding the request may answer; anything else, and
      // anything not shaped [id,] "", body..., is dropped (RFC 28; libzmq's
      // REQ goes further on a delimiter with no body: it drops the
      // connection).
      if (this.#outgoing?.pipe !== pipe) continue;
      const at = this.#correlate ? 1 : 0;
      if (message.length <= at + 1 || message[at].length !== 0) continue;
      const id = this.#outgoing.id;
      if (id !== undefined && !sameId(message[0], id)) {
        continue;
      }
      this.#lastPeer = pipe.endpoint;
      this.#settle(ownParts(message.slice(at + 1)));
    }
  }

  #detach(pipe: Pipe): void {
    this.#balancer.detach(pipe);
    if (this.#outgoing?.pipe === pipe) {
      this.#settle(
        new SocketError(
          "EHOSTUNREACH",
          `Cannot receive: ${pipe.endpoint} went away before replying`,
          pipe.endpoint,
        ),
      );
    }
  }

  #onClosing(): void {
    this.#receiver?.reject(
      new SocketError("ETERM", "Cannot receive: the socket was closed"),
    );
  }
}

function sameId(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === 4 && a[0] === b[0] && a[1] === b[1] && a[2] === b[2] &&
    a[3] === b[3];
}
