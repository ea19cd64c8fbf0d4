/**
 * What a {@link Connection} writes next, encoded into one reusable buffer:
 * control octets (greeting, handshake and heartbeat commands, encoded when
 * queued) first, then messages pulled from the pipe and encoded as they
 * are taken, up to {@link BATCH_MAX} octets a write. The connection keeps
 * the one write in flight; this keeps the bookkeeping of what goes into it.
 *
 * @module
 */

import {
  EMPTY,
  encodedSize,
  encodeMessageInto,
  MORE,
  type Part,
  utf8Length,
} from "./frame.ts";
import type { Mechanism } from "./mechanism.ts";

/** Where a {@link WriteBatch} pulls messages from: the pipe above. */
export interface OutboundSource {
  /** Takes the next message to write. */
  nextOutbound(): Part[] | undefined;
  /** The size of the message `nextOutbound` gave last, as NULL encodes it. */
  readonly outboundSize: number;
}

/** The most octets one batch gathers, unless one message alone is larger. */
export const BATCH_MAX = 65536;
// A buffer larger than KEEP is dropped once the writes are done: it would
// stay with an idle connection (V8 collects little while a server idles).
const BUFFER_MIN = 256;
const BUFFER_KEEP = 1024;

/** The output of one connection, from queue to encoded batch. */
export class WriteBatch {
  readonly #control: (Uint8Array | undefined)[] = [];
  #controlLength = 0;
  // A message pulled that did not fit the last batch.
  #carry: Part[] | undefined;
  #buffer: Uint8Array = EMPTY;
  #view: Uint8Array = EMPTY;
  #mechanism: Mechanism | undefined;

  /**
   * The mechanism that encodes messages, once the handshake is done; none
   * (the default) writes frames as NULL does.
   */
  set mechanism(mechanism: Mechanism | undefined) {
    this.#mechanism = mechanism?.transparent ? undefined : mechanism;
  }

  /** True when control octets wait. */
  get hasControl(): boolean {
    return this.#controlLength > 0;
  }

  /** True when a message already pulled from the pipe waits. */
  get hasCarry(): boolean {
    return this.#carry !== undefined;
  }

  /** Queues octets already encoded, to go before any message. */
  queueControl(bytes: Uint8Array): void {
    this.#control[this.#controlLength++] = bytes;
  }

  /**
   * Encodes the next batch: the control octets, then (given a source)
   * messages until {@link BATCH_MAX} octets. The view returned stays valid
   * until the next call: one write is in flight at a time, and the buffer
   * lives outside V8's heap, so the write needs no copy.
   *
   * @param source the pipe, or undefined while no messages may flow
   * @returns the octets to write, or undefined when there are none
   */
  next(source: OutboundSource | undefined): Uint8Array | undefined {
    let buffer = this.#buffer;
    let offset = 0;
    for (let i = 0; i < this.#controlLength; i++) {
      const bytes = this.#control[i]!;
      buffer = this.#room(buffer, offset, bytes.length);
      buffer.set(bytes, offset);
      offset += bytes.length;
    }
    this.#clearControl();
    while (source !== undefined && offset < BATCH_MAX) {
      const carried = this.#carry;
      const message = carried ?? source.nextOutbound();
      if (message === undefined) break;
      this.#carry = undefined;
      const size = this.#mechanism === undefined && carried === undefined
        ? source.outboundSize
        : this.#wireSize(message);
      if (offset > 0 && offset + size > BATCH_MAX) {
        this.#carry = message;
        break;
      }
      buffer = this.#room(buffer, offset, size);
      offset = this.#encode(message, buffer, offset);
    }
    if (offset === 0) return undefined;
    // Replies often repeat their length; so does the view then.
    if (this.#view.length !== offset || this.#view.buffer !== buffer.buffer) {
      this.#view = buffer.subarray(0, offset);
    }
    return this.#view;
  }

  /** The writes are done for now: a large buffer is let go. */
  idle(): void {
    if (this.#buffer.length > BUFFER_KEEP) {
      this.#buffer = EMPTY;
      this.#view = EMPTY;
    }
  }

  /** Drops everything queued, as the connection closes. */
  clear(): void {
    this.#clearControl();
    this.#carry = undefined;
  }

  #clearControl(): void {
    for (let i = 0; i < this.#controlLength; i++) this.#control[i] = undefined;
    this.#controlLength = 0;
  }

  // A buffer with room for `size` more octets after `offset`, keeping what
  // it holds; a new one of at most BATCH_MAX octets becomes the reusable
  // buffer, a larger one serves this batch alone.
  #room(buffer: Uint8Array, offset: number, size: number): Uint8Array {
    if (offset + size <= buffer.length) return buffer;
    const bigger = new Uint8Array(
      Math.max(
        offset + size,
        Math.min(BATCH_MAX, buffer.length * 2),
        BUFFER_MIN,
      ),
    );
    bigger.set(buffer.subarray(0, offset));
    if (bigger.length <= BATCH_MAX) this.#buffer = bigger;
    return bigger;
  }

  #wireSize(parts: Part[]): number {
    const mechanism = this.#mechanism;
    if (mechanism === undefined) return encodedSize(parts);
    let size = 0;
    for (const part of parts) size += mechanism.frameSize(partLength(part));
    return size;
  }

  #encode(parts: Part[], target: Uint8Array, offset: number): number {
    const mechanism = this.#mechanism;
    if (mechanism === undefined) {
      return encodeMessageInto(parts, target, offset);
    }
    const last = parts.length - 1;
    for (let i = 0; i <= last; i++) {
      const part = parts[i];
      offset = mechanism.encodeFrame(
        i < last ? MORE : 0,
        part,
        partLength(part),
        target,
        offset,
      );
    }
    return offset;
  }
}

function partLength(part: Part): number {
  return typeof part === "string" ? utf8Length(part) : part.length;
}
