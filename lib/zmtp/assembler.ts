/**
 * Message frames to whole messages: collects frames until one lacks MORE and
 * enforces the size and part limits. Frames stay where the decoder put
 * them (small ones in slabs shared by all connections); {@link ownParts}
 * gives a message memory of its own where the sockets hand it to the
 * application.
 *
 * @module
 */

import { MessageSizeError, ProtocolError } from "./errors.ts";
import { MORE } from "./frame.ts";

/** Messages of more parts than this close the connection. */
export const MAX_MESSAGE_PARTS = 64;

/**
 * Gives a message memory of its own, for the application. Frame bodies may
 * be views into buffers the decoder shares between connections (its slabs);
 * a message handed to the application must not be: its `buffer` would show
 * another peer's bytes, and transferring it would detach theirs. So every non-empty
 * part that is a view into a larger buffer is copied into one new buffer for
 * the whole message (one allocation per message, however many parts); parts
 * that already own their buffer (large bodies) stay as they are, and so do
 * empty parts, whose buffer holds nothing.
 *
 * @param parts the message's frames; replaced in place
 * @returns the same array
 */
export function ownParts(parts: Uint8Array[]): Uint8Array[] {
  let shared = 0;
  let views = 0;
  let last = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.byteLength !== part.buffer.byteLength && part.byteLength > 0) {
      shared += part.byteLength;
      views++;
      last = i;
    }
  }
  if (views === 0) return parts;
  const own = new Uint8Array(shared);
  if (views === 1) {
    // The common case, a delimiter and one body: no view needed.
    copyInto(parts[last], own, 0);
    parts[last] = own;
    return parts;
  }
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.byteLength !== part.buffer.byteLength && part.byteLength > 0) {
      copyInto(part, own, at);
      parts[i] = own.subarray(at, at + part.byteLength);
      at += part.byteLength;
    }
  }
  return parts;
}

// Short copies by hand: set() costs more than the loop below 16 octets.
function copyInto(part: Uint8Array, target: Uint8Array, at: number): void {
  const size = part.byteLength;
  if (size <= 16) {
    for (let j = 0; j < size; j++) target[at + j] = part[j];
  } else {
    target.set(part, at);
  }
}

/** Receives whole messages from a {@link MessageAssembler}. */
export interface MessageSink {
  /**
   * A whole message arrived.
   *
   * @param parts its frames; small ones may be views into shared slabs
   * @param size the octets of all bodies together
   */
  message(parts: Uint8Array[], size: number): void;
}

/**
 * Collects message frames into messages. The common two-part message (a
 * delimiter and a body) becomes one array literal.
 */
export class MessageAssembler {
  readonly #maxMessageSize: number;
  #first: Uint8Array | undefined;
  #parts: Uint8Array[] | undefined;
  #size = 0;

  /**
   * @param maxMessageSize the largest message accepted, all bodies together
   */
  constructor(maxMessageSize: number) {
    this.#maxMessageSize = maxMessageSize;
  }

  /** The octets the message partly received holds so far. */
  get size(): number {
    return this.#size;
  }

  /** True while a message is partly received. */
  get partial(): boolean {
    return this.#first !== undefined;
  }

  /** Drops a message partly received. */
  reset(): void {
    this.#first = undefined;
    this.#parts = undefined;
    this.#size = 0;
  }

  /**
   * Takes one message frame.
   *
   * @param flags the frame's flags (MORE matters)
   * @param body the frame's body
   * @param sink receives the message when this frame completes it
   * @throws {MessageSizeError} when the message grows over the limit
   * @throws {ProtocolError} when it has over {@link MAX_MESSAGE_PARTS} parts
   */
  frame(flags: number, body: Uint8Array, sink: MessageSink): void {
    this.#size += body.length;
    if (this.#size > this.#maxMessageSize) {
      const limit = this.#maxMessageSize;
      throw new MessageSizeError(
        `Message of over ${limit} octets exceeds the limit`,
        limit,
      );
    }
    let parts: Uint8Array[];
    const first = this.#first;
    if (first === undefined) {
      if (flags & MORE) {
        this.#first = body;
        return;
      }
      parts = [body];
    } else if (this.#parts === undefined) {
      parts = [first, body];
    } else {
      parts = this.#parts;
      parts.push(body);
    }
    if (flags & MORE) {
      if (parts.length >= MAX_MESSAGE_PARTS) {
        throw new ProtocolError(
          `Message of over ${MAX_MESSAGE_PARTS} parts exceeds the limit`,
        );
      }
      this.#parts = parts;
      return;
    }
    const size = this.#size;
    this.#first = undefined;
    this.#parts = undefined;
    this.#size = 0;
    sink.message(parts, size);
  }
}
