/**
 * One ZMTP connection over a `Deno.Conn`: greeting, NULL handshake, then
 * traffic. It reads in a loop, decodes frames, answers PING, assembles
 * messages and batches writes. It knows nothing of envelopes or of which
 * peer gets which message; the socket above decides that.
 *
 * @module
 */

import { formatAddress } from "./endpoint.ts";
import { MessageSizeError, ProtocolError } from "./errors.ts";
import {
  COMMAND,
  EMPTY,
  encodeCommand,
  encodedSize,
  encodeMessageInto,
  FrameDecoder,
  type FrameLimits,
  type FrameSink,
  MORE,
  parseCommand,
  type Part,
} from "./frame.ts";
import {
  checkGreetingPrefix,
  GREETING_SIZE,
  NULL_GREETING,
  parseGreeting,
} from "./greeting.ts";
import type { SocketType } from "./mechanism.ts";
import { NullMechanism } from "./null_mechanism.ts";

/** What a connection needs only until its handshake is done. */
interface Handshake {
  mechanism: NullMechanism;
  greeting: Uint8Array;
  greetingHave: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Options for a {@link Connection}. */
export interface ConnectionOptions {
  /** Our socket type, announced in READY and used to check the peer's. */
  socketType: SocketType;
  /** Our identity, announced in READY when set. */
  identity?: Uint8Array;
  /** True when we accepted the connection (the NULL mechanism's server). */
  isServer: boolean;
  /** The largest message accepted, all parts' bodies together, in octets. */
  maxMessageSize: number;
  /** Frame size limits, one object shared by a socket's connections. */
  frameLimits: FrameLimits;
  /** Milliseconds the greeting and handshake may take; 0 for no limit. */
  handshakeTimeout: number;
}

/** What a {@link Connection} tells its owner. */
export interface ConnectionHandler {
  /** The handshake completed; messages may flow. */
  onReady(connection: Connection): void;
  /** A whole message arrived; the parts are owned by the receiver. */
  onMessage(connection: Connection, parts: Uint8Array[]): void;
  /** The connection ended; called once. `error` says why, if it failed. */
  onClose(connection: Connection, error: Error | undefined): void;
}

/** Messages of more parts than this close the connection. */
export const MAX_MESSAGE_PARTS = 64;
/** Command bodies (READY with its metadata, PING) stay small; this bounds them. */
export const MAX_COMMAND_SIZE = 65536;
// Reads start small so that many idle connections cost little, and grow for
// peers that send a lot at once. Large frame bodies are read into directly.
const READ_SIZE_MIN = 128;
const READ_SIZE_MAX = 65536;
const DIRECT_READ_MIN = 16384;
// Writes are encoded into a reusable buffer of up to this size.
const WRITE_BUFFER_MIN = 256;
const WRITE_BUFFER_MAX = 65536;

// The stages a connection moves through, in order.
const Stage = { Greeting: 0, Handshake: 1, Traffic: 2, Closed: 3 } as const;
type Stage = typeof Stage[keyof typeof Stage];

/**
 * Drives one TCP connection through the ZMTP stages. It starts when created:
 * the greeting goes out at once; {@link send} works once the handler's
 * `onReady` has fired.
 */
export class Connection implements FrameSink {
  /** The endpoint this connection was bound or connected through. */
  readonly endpoint: string;
  /** The peer's address, `host:port`. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #options: ConnectionOptions;
  readonly #handler: ConnectionHandler;
  // Greeting and handshake state, dropped once READY has gone both ways, so
  // that an established connection carries none of it.
  #handshake: Handshake | undefined;
  #peerSocketType = "";
  #peerIdentity: Uint8Array = EMPTY;
  readonly #decoder: FrameDecoder;
  #stage: Stage = Stage.Greeting;
  // The message being assembled: its first frame alone until a second
  // comes, so that the common two-part message is one array literal.
  #firstPart: Uint8Array | undefined;
  #parts: Uint8Array[] | undefined;
  #partsSize = 0;
  // Writes: messages and raw octets queue here until the next flush, which
  // encodes them all into one buffer for a single write. Filled by index and
  // cleared slot by slot: emptying an array with length = 0 drops its
  // storage, and every next push would allocate anew.
  readonly #queue: (Uint8Array | Part[] | undefined)[] = [];
  #queueLength = 0;
  #queueSize = 0;
  #flushScheduled = false;
  #consuming = false;
  #writeBuffer: Uint8Array = EMPTY;
  #writeView: Uint8Array = EMPTY;
  // The bytes of the write in flight (only ever one), and how many left.
  #writing: Uint8Array | undefined;
  #written = 0;
  // The callbacks of writes made outside the read loop (in a microtask),
  // created on the first such write: many connections never make one.
  #writeCallbacks:
    | [(n: number) => void, (error: unknown) => void]
    | undefined;
  #drainWaiters: (() => void)[] = [];
  #paused = false;
  #stopped = false;
  #resume: (() => void) | undefined;
  #closeError: Error | undefined;
  #closeAfterFlush = false;
  readonly #done: Promise<void>;

  /**
   * @param conn the TCP connection, already open
   * @param endpoint the endpoint it belongs to, for events
   * @param options socket type, role and limits
   * @param handler receives `onReady`, `onMessage` and `onClose`
   */
  constructor(
    conn: Deno.Conn,
    endpoint: string,
    options: ConnectionOptions,
    handler: ConnectionHandler,
  ) {
    this.#conn = conn;
    this.endpoint = endpoint;
    this.remote = formatAddress(conn.remoteAddr as Deno.NetAddr);
    this.#options = options;
    this.#handler = handler;
    this.#handshake = {
      mechanism: new NullMechanism(options),
      greeting: new Uint8Array(GREETING_SIZE),
      greetingHave: 0,
      timer: undefined,
    };
    this.#decoder = new FrameDecoder(options.frameLimits);
    this.#done = this.#run();
  }

  /** The peer's socket type, once the handshake is done. */
  get peerSocketType(): string {
    return this.#peerSocketType;
  }

  /** The peer's identity, empty if it announced none. */
  get peerIdentity(): Uint8Array {
    return this.#peerIdentity;
  }

  /** Octets queued or being written and not yet handed to the system. */
  get bufferedAmount(): number {
    return this.#queueSize + (this.#writing?.length ?? 0);
  }

  /** Resolves when the connection has ended and its socket is closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Queues a message. Writes are batched: everything queued before the
   * current task ends leaves in one write.
   *
   * @param parts the message's frames (text is sent as UTF-8); must not
   * change until written
   * @returns false when the connection can no longer send
   */
  send(parts: Part[]): boolean {
    if (this.#stage !== Stage.Traffic) return false;
    this.#enqueue(parts, encodedSize(parts));
    return true;
  }

  /** Resolves once everything queued so far has been written (or the connection closed). */
  drained(): Promise<void> {
    if (this.bufferedAmount === 0 || this.#stage === Stage.Closed) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Stops reading after the current read, so the peer is held back by TCP. */
  pauseReading(): void {
    this.#paused = true;
  }

  /** Reads again after {@link pauseReading} (not after {@link stopReading}). */
  resumeReading(): void {
    this.#paused = false;
    this.#wakeReader();
  }

  /** Stops reading for good, as a graceful close begins; writing goes on. */
  stopReading(): void {
    this.#stopped = true;
  }

  /**
   * Closes the connection now; queued writes are dropped. Idempotent.
   *
   * @param error why, when it is a failure
   */
  close(error?: Error): void {
    if (this.#stage === Stage.Closed) return;
    this.#stage = Stage.Closed;
    this.#closeError ??= error;
    this.#endHandshake();
    this.#clearQueue();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the system; nothing is lost.
    }
    this.#wakeReader();
  }

  #wakeReader(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  // One async frame per connection: greeting, handshake and traffic all
  // happen in this read loop.
  async #run(): Promise<void> {
    try {
      const timeout = this.#options.handshakeTimeout;
      if (timeout > 0) {
        this.#handshake!.timer = setTimeout(() => {
          this.close(new ProtocolError(`Handshake took over ${timeout} ms`));
        }, timeout);
      }
      // Send the whole greeting at once, before reading (we demand ZMTP 3),
      // and the client's READY with it: one packet instead of two.
      this.#consuming = true; // queue, and write below, in this frame
      this.#enqueue(NULL_GREETING, GREETING_SIZE);
      this.#sendMechanismCommand();
      this.#consuming = false;
      await this.#writeQueued();
      let buffer = new Uint8Array(READ_SIZE_MIN);
      while (!this.#isClosed()) {
        if (this.#paused || this.#stopped) {
          await new Promise<void>((resolve) => this.#resume = resolve);
          continue;
        }
        const direct = this.#decoder.pendingBody(DIRECT_READ_MIN);
        const n = await this.#conn.read(direct ?? buffer);
        if (n === null || this.#isClosed()) break;
        if (direct !== undefined) {
          this.#decoder.filled(n, this);
          continue;
        }
        this.#consuming = true;
        try {
          this.#consume(buffer, n);
        } finally {
          this.#consuming = false;
        }
        if (n === buffer.length && buffer.length < READ_SIZE_MAX) {
          buffer = new Uint8Array(buffer.length * 2);
        }
        // Write what this read produced before reading again, as a plain
        // echo loop does: one op in flight per connection, and a peer that
        // sends faster than it reads is held back by TCP.
        await this.#writeQueued();
      }
    } catch (error) {
      if (this.#stage !== Stage.Closed) this.#closeError ??= asError(error);
    }
    this.close();
    this.#resolveDrainWaiters();
    this.#handler.onClose(this, this.#closeError);
  }

  // Writes what is queued, from the read loop itself, unless a write is
  // already under way (it then sends the rest when it ends).
  async #writeQueued(): Promise<void> {
    if (this.#queueSize === 0 || this.#writing !== undefined) return;
    const data = this.#takeBatch();
    let written = 0;
    while (written < data.length) {
      written += await this.#conn.write(
        written === 0 ? data : data.subarray(written),
      );
    }
    this.#writeFinished();
  }

  // A method, so that TypeScript does not narrow the stage across awaits.
  #isClosed(): boolean {
    return this.#stage === Stage.Closed;
  }

  // Takes the first `length` octets of the read buffer.
  #consume(chunk: Uint8Array, length: number): void {
    let start = 0;
    if (this.#stage === Stage.Greeting) {
      const handshake = this.#handshake!;
      const { greeting, greetingHave } = handshake;
      const take = Math.min(length, GREETING_SIZE - greetingHave);
      greeting.set(chunk.subarray(0, take), greetingHave);
      handshake.greetingHave += take;
      checkGreetingPrefix(
        greeting.subarray(0, handshake.greetingHave),
        greetingHave,
      );
      if (handshake.greetingHave < GREETING_SIZE) return;
      const { mechanism } = parseGreeting(greeting);
      if (mechanism !== "NULL") {
        throw new ProtocolError(
          `Peer asks for the ${mechanism} mechanism; only NULL is supported`,
        );
      }
      this.#stage = Stage.Handshake;
      start = take;
    }
    if (start < length) this.#decoder.push(chunk, this, start, length);
  }

  /** Takes one decoded frame; part of {@link FrameSink}. */
  frame(flags: number, body: Uint8Array): void {
    if (this.#stage === Stage.Closed || this.#closeAfterFlush) return;
    if (flags & COMMAND) {
      this.#command(body);
      return;
    }
    if (this.#stage !== Stage.Traffic) {
      throw new ProtocolError("Message frame before the handshake completed");
    }
    this.#partsSize += body.length;
    if (this.#partsSize > this.#options.maxMessageSize) {
      const limit = this.#options.maxMessageSize;
      throw new MessageSizeError(
        `Message of over ${limit} octets exceeds the limit`,
        limit,
      );
    }
    let parts: Uint8Array[] | undefined;
    const first = this.#firstPart;
    if (first === undefined) {
      if (flags & MORE) {
        this.#firstPart = body;
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
    this.#firstPart = undefined;
    this.#parts = undefined;
    this.#partsSize = 0;
    this.#handler.onMessage(this, parts);
  }

  #command(body: Uint8Array): void {
    const { name, data } = parseCommand(body);
    if (this.#stage === Stage.Handshake) {
      const { mechanism } = this.#handshake!;
      mechanism.receive(name, data);
      this.#peerSocketType = mechanism.peerSocketType;
      this.#peerIdentity = mechanism.peerIdentity;
      this.#sendMechanismCommand();
      if (mechanism.error !== undefined) {
        // ERROR has been queued; close once it is written.
        this.#closeAfterFlush = true;
        this.#closeError = mechanism.error;
        return;
      }
      if (mechanism.ready) {
        this.#endHandshake();
        this.#stage = Stage.Traffic;
        this.#handler.onReady(this);
      }
      return;
    }
    if (this.#stage === Stage.Traffic && name === "PING") {
      // PONG echoes the context that follows the two-octet TTL.
      this.#enqueue(encodeCommand("PONG", data.subarray(2, 18)));
    }
    // PONG and commands of other patterns need no answer.
  }

  #endHandshake(): void {
    if (this.#handshake === undefined) return;
    clearTimeout(this.#handshake.timer);
    this.#handshake = undefined;
  }

  #sendMechanismCommand(): void {
    const command = this.#handshake?.mechanism.nextCommand();
    if (command !== undefined) this.#enqueue(command);
  }

  #enqueue(
    item: Uint8Array | Part[],
    size = (item as Uint8Array).length,
  ): void {
    this.#queue[this.#queueLength++] = item;
    this.#queueSize += size;
    // While a read is being decoded, the flush comes at its end (one write
    // for every reply that chunk produced); otherwise in a microtask.
    if (
      this.#flushScheduled || this.#writing !== undefined || this.#consuming
    ) {
      return;
    }
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#writing !== undefined || this.#queueSize === 0) return;
    if (this.#stage === Stage.Closed) return;
    this.#written = 0;
    this.#writeCallbacks ??= [
      (n) => this.#onWritten(n),
      (error) => this.#onWriteError(error),
    ];
    this.#conn.write(this.#takeBatch()).then(...this.#writeCallbacks);
  }

  // Turns the queue into the bytes of one write and marks it in flight.
  #takeBatch(): Uint8Array {
    const size = this.#queueSize;
    const first = this.#queue[0]!;
    const data = this.#queueLength === 1 && !Array.isArray(first)
      ? first // a lone command (the shared greeting or READY) goes as it is
      : this.#encodeQueue(size);
    this.#clearQueue();
    this.#writing = data;
    return data;
  }

  // A write has completed: send what queued meanwhile, or tell who waits.
  #writeFinished(): void {
    this.#writing = undefined;
    if (this.#queueSize > 0) {
      this.#flush();
    } else {
      this.#resolveDrainWaiters();
      if (this.#closeAfterFlush) this.close(this.#closeError);
    }
  }

  // Encodes the queue into a buffer of our own, reused from write to write:
  // it lives outside V8's heap, so the write op needs no copy of it, and only
  // one write is ever in flight. Large batches get a buffer of their own.
  #encodeQueue(size: number): Uint8Array {
    let data: Uint8Array;
    if (size <= WRITE_BUFFER_MAX) {
      if (this.#writeBuffer.length < size) {
        this.#writeBuffer = new Uint8Array(
          Math.min(
            WRITE_BUFFER_MAX,
            Math.max(size, this.#writeBuffer.length * 2, WRITE_BUFFER_MIN),
          ),
        );
      }
      // Replies often repeat their length; so does the view then.
      data = this.#writeView.length === size &&
          this.#writeView.buffer === this.#writeBuffer.buffer
        ? this.#writeView
        : (this.#writeView = this.#writeBuffer.subarray(0, size));
    } else {
      data = new Uint8Array(size);
    }
    let offset = 0;
    for (let i = 0; i < this.#queueLength; i++) {
      const item = this.#queue[i]!;
      if (Array.isArray(item)) {
        offset = encodeMessageInto(item, data, offset);
      } else {
        data.set(item, offset);
        offset += item.length;
      }
    }
    return data;
  }

  #onWritten(n: number): void {
    this.#written += n;
    const data = this.#writing!;
    if (this.#written < data.length) {
      if (this.#stage === Stage.Closed) return;
      this.#conn.write(data.subarray(this.#written)).then(
        ...this.#writeCallbacks!,
      );
      return;
    }
    this.#writeFinished();
  }

  #onWriteError(error: unknown): void {
    this.#writing = undefined;
    this.close(asError(error));
    this.#resolveDrainWaiters();
  }

  #clearQueue(): void {
    for (let i = 0; i < this.#queueLength; i++) this.#queue[i] = undefined;
    this.#queueLength = 0;
    this.#queueSize = 0;
  }

  #resolveDrainWaiters(): void {
    if (this.#drainWaiters.length === 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
