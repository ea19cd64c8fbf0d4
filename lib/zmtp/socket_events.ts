/**
 * A socket's events as an async iterable, as zeromq.js's `socket.events`:
 * kept in a bounded queue from the first time they are asked for, until the
 * socket has closed.
 *
 * @module
 */

import { Queue } from "./_queue.ts";
import type { SocketEvent } from "./socket.ts";

/**
 * A socket's events, read with `for await`. Every loop over it takes from
 * one queue, so each event goes to one reader; the loops end when the socket
 * has closed and the queue is empty. Leaving a loop early does not stop the
 * events: a later loop takes them up where it left off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reply } from "./mod.ts";
 *
 * const reply = new Reply();
 * const events = reply.events;
 * await reply.bind("tcp://127.0.0.1:0");
 * const closed = reply.close();
 * const types = [];
 * for await (const event of events) types.push(event.type);
 * await closed;
 * assert.deepEqual(types, ["bound"]);
 * ```
 */
export interface SocketEventStream extends AsyncIterable<SocketEvent> {
  /**
   * Events dropped because {@link SOCKET_EVENT_LIMIT} were waiting to be
   * read already.
   */
  readonly dropped: number;
}

/**
 * The most events a socket keeps for its `events` readers; further events
 * are dropped (and counted) until a reader takes some, so that a socket
 * nobody reads the events of holds a bounded number of them.
 */
export const SOCKET_EVENT_LIMIT = 1000;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The queue behind a socket's `events`. Internal: the socket pushes, starts
 * and ends it; readers see only {@link SocketEventStream}.
 */
export class SocketEvents implements SocketEventStream {
  #queue: Queue<SocketEvent> | undefined;
  readonly #readers:
    ((result: IteratorResult<SocketEvent, undefined>) => void)[] = [];
  #ended = false;
  #dropped = 0;

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Starts keeping events; until then, none are kept. */
  start(): void {
    if (!this.#ended) this.#queue ??= new Queue();
  }

  /** Hands an event to a waiting reader, or queues it (once started). */
  push(event: SocketEvent): void {
    const queue = this.#queue;
    if (queue === undefined || this.#ended) return;
    const reader = this.#readers.shift();
    if (reader !== undefined) reader({ done: false, value: event });
    else if (queue.size < SOCKET_EVENT_LIMIT) queue.push(event);
    else this.#dropped++;
  }

  /** No more events: readers finish once the queue is empty. */
  end(): void {
    this.#ended = true;
    for (const reader of this.#readers.splice(0)) reader(DONE);
  }

  /** Iterates over the events until the socket has closed. */
  [Symbol.asyncIterator](): AsyncIterator<SocketEvent, undefined> {
    this.start();
    return {
      next: () => {
        const event = this.#queue?.shift();
        if (event !== undefined) {
          return Promise.resolve({ done: false, value: event });
        }
        if (this.#ended) return Promise.resolve(DONE);
        return new Promise((resolve) => this.#readers.push(resolve));
      },
      return: () => Promise.resolve(DONE),
    };
  }
}
