/**
 * One ZMTP connection over a `Deno.Conn`: the read loop and the write path.
 * It feeds octets to the {@link Handshake} until the peer is ready, then
 * decodes frames (through the mechanism, unless it is NULL), answers PING,
 * hands frames to the {@link MessageAssembler}, and writes what the pipe
 * above has queued, in batches a {@link WriteBatch} encodes. It tells its
 * {@link Liveness} what the I/O did, asks it on every tick of the socket's
 * timer, and sends the PING or closes as it says. It knows nothing of
 * envelopes, of which peer gets which message, or of timing rules.
 *
 * @module
 */

import { MessageAssembler, type MessageSink } from "./assembler.ts";
import { formatAddress } from "./endpoint.ts";
import { asError, HandshakeClosedError } from "./errors.ts";
import {
  COMMAND,
  commandBody,
  EMPTY,
  encodeCommand,
  FrameDecoder,
  type FrameLimits,
  type FrameSink,
  parseCommand,
} from "./frame.ts";
import { GREETING_HEAD, Handshake } from "./handshake.ts";
import { type Heartbeat, type IoState, Liveness } from "./liveness.ts";
import {
  MAX_FRAME_OVERHEAD,
  type Mechanism,
  type SocketType,
} from "./mechanism.ts";
import { readTurns } from "./read_turns.ts";
import { type OutboundSource, WriteBatch } from "./write_batch.ts";

export type { Heartbeat } from "./liveness.ts";

/** Options for a {@link Connection}. */
export interface ConnectionOptions {
  /** Our socket type, for the handshake and the peer-type check. */
  socketType: SocketType;
  /** True when we accepted the connection. */
  isServer: boolean;
  /** The security mechanism for this connection, made fresh for each. */
  createMechanism(): Mechanism;
  /** The largest message accepted, all parts' bodies together, in octets. */
  maxMessageSize: number;
  /** Frame size limits, one object shared by a socket's connections. */
  frameLimits: FrameLimits;
  /** Milliseconds the greeting and handshake may take; 0 for no limit. */
  handshakeTimeout: number;
  /** Heartbeats after the handshake. */
  heartbeat: Heartbeat;
}

/** What a {@link Connection} asks of the pipe above it. */
export interface ConnectionHandler extends MessageSink, OutboundSource {
  /** The handshake completed; messages may flow. */
  onReady(connection: Connection): void;
  /** The connection ended; called once. `error` says why, if it failed. */
  onClose(connection: Connection, error: Error | undefined): void;
  /** True while the pipe can take no more: reading waits. */
  readonly readPaused: boolean;
  /** True when a message waits to be written. */
  readonly hasOutbound: boolean;
}

/** Command bodies (READY with its metadata, PING) stay small; this bounds them. */
export const MAX_COMMAND_SIZE = 65536;
// The least a mechanism's command may carry mid-message: a boxed PING or
// PONG (at most 23 octets) with the box's overhead.
const BOXED_COMMAND_MAX = 256;
// Reads start small so that idle connections cost little, double while
// reads fill the buffer, and drop back to small once a read does not: the
// peer has paused, and a large buffer would stay with an idle connection.
// They grow to 4 KiB only: a burst takes a few more reads, and leaves
// little garbage behind (V8 collects none while a server idles, so what a
// burst drops stays resident until the next busy spell). Frame bodies of 4
// KiB and more are read into directly.
// RFC 37: an identity is 0 to 255 octets.
const MAX_IDENTITY = 255;
const READ_SIZE_MIN = 128;
const READ_SIZE_MAX = 4096;
const DIRECT_READ_MIN = 4096;

// The stages a connection moves through, in order.
const Stage = { Greeting: 0, Handshake: 1, Traffic: 2, Closed: 3 } as const;
type Stage = typeof Stage[keyof typeof Stage];

const RESOLVED = Promise.resolve();

/**
 * Drives one TCP connection through the ZMTP stages. It starts when created:
 * the greeting's first octets go out at once.
 */
export class Connection implements FrameSink, IoState {
  /** The endpoint this connection was bound or connected through. */
  readonly endpoint: string;
  /** The peer's address, `host:port`. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #options: ConnectionOptions;
  readonly #handler: ConnectionHandler;
  // Dropped once the handshake is done, so that an established connection
  // carries none of its state.
  #handshake: Handshake | undefined;
  #mechanism: Mechanism | undefined;
  #transparent = true;
  #peerSocketType = "";
  #peerIdentity: Uint8Array = EMPTY;
  #version = 0;
  readonly #decoder: FrameDecoder;
  readonly #assembler: MessageAssembler;
  #stage: Stage = Stage.Greeting;
  // The mechanism hands decoded frames here.
  #plain: FrameSink | undefined;
  // Writing. Greeting, handshake and heartbeat commands wait in the batch,
  // already encoded; messages wait in the pipe and are encoded when written.
  readonly #batch = new WriteBatch();
  #writeActive = false;
  // The async write loop's, while it runs; the read loop writes inline.
  #writing: Promise<void> = RESOLVED;
  // The batch being written, and how much of it is written.
  #out: Uint8Array | undefined;
  #outWritten = 0;
  #flushScheduled = false;
  #consuming = false;
  #drainWaiters: (() => void)[] | undefined;
  // Reading.
  #resume: (() => void) | undefined;
  #stopped = false;
  #closeError: Error | undefined;
  #closeAfterFlush = false;
  // Liveness: told of every read and write; it reads the I/O's state
  // through this connection's IoState getters.
  readonly #liveness: Liveness;
  #readerAwaitsWrite = false;
  readonly #done: Promise<void>;

  /**
   * @param conn the TCP connection, already open
   * @param endpoint the endpoint it belongs to, for events
   * @param options socket type, role, mechanism, limits and heartbeats
   * @param handler the pipe: takes messages and gives messages to write
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
    this.#handshake = new Handshake(
      options.createMechanism(),
      options.socketType,
      (bytes) => this.#queueControl(bytes),
    );
    this.#decoder = new FrameDecoder(options.frameLimits);
    this.#decoder.messageLimit = options.maxMessageSize;
    this.#assembler = new MessageAssembler(options.maxMessageSize);
    this.#liveness = new Liveness(options, Date.now(), this);
    this.#done = this.#run();
  }

  /** A write to the peer is in flight; part of {@link IoState}. */
  get writing(): boolean {
    return this.#writeActive;
  }

  /** The read loop waits for that write; part of {@link IoState}. */
  get readerWaitsOnWrite(): boolean {
    return this.#readerAwaitsWrite;
  }

  /** The read loop is paused until the pipe makes room; part of {@link IoState}. */
  get readerPaused(): boolean {
    return this.#resume !== undefined;
  }

  /** The peer's socket type, once the handshake is done. */
  get peerSocketType(): string {
    return this.#peerSocketType;
  }

  /** The peer's identity, empty if it announced none. */
  get peerIdentity(): Uint8Array {
    return this.#peerIdentity;
  }

  /** The peer's ZMTP major version (2 or 3), once its greeting is read. */
  get version(): number {
    return this.#handshake?.version ?? this.#version;
  }

  /** The security mechanism, once the handshake is done. */
  get mechanism(): Mechanism | undefined {
    return this.#mechanism;
  }

  /** True while a message is partly read or written. */
  get busy(): boolean {
    return this.#writeActive || this.#batch.hasCarry ||
      this.#assembler.partial;
  }

  /** True once the connection is closed (its end may still be under way). */
  get closed(): boolean {
    return this.#stage === Stage.Closed;
  }

  /** Resolves when the connection has ended and its socket is closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Writes what the pipe holds, soon: at the end of the current read's
   * processing, or in a microtask, so that everything queued in one task
   * leaves in one write.
   */
  flushSoon(): void {
    if (this.#consuming || this.#flushScheduled || this.#writeActive) return;
    this.#flushScheduled = true;
    // Made on first need: a connection that only answers what it reads
    // never writes from outside its read loop.
    queueMicrotask(
      this.#flushTask ??= () => {
        this.#flushScheduled = false;
        void this.#flush();
      },
    );
  }

  #flushTask: (() => void) | undefined;

  /** The pipe made room: reading resumes if it was waiting for that. */
  roomMade(): void {
    if (this.#resume !== undefined && !this.#mustWait()) this.#wakeReader();
  }

  /** Resolves once everything queued so far is written (or the connection closed). */
  drained(): Promise<void> {
    // A write under way resolves the waiters when it ends (#writeEnded),
    // as does the connection's end.
    if (!this.#writeActive) {
      if (this.#stage === Stage.Closed || !this.#hasOutput()) return RESOLVED;
      void this.#flush();
    }
    return new Promise((resolve) => (this.#drainWaiters ??= []).push(resolve));
  }

  /** Stops reading for good, as a graceful close begins; writing goes on. */
  stopReading(): void {
    this.#stopped = true;
  }

  /**
   * Closes the connection now; unwritten output is dropped. Idempotent.
   *
   * @param error why, when it is a failure
   */
  close(error?: Error): void {
    if (this.#stage === Stage.Closed) return;
    this.#stage = Stage.Closed;
    this.#closeError ??= error;
    // Nothing a closed connection was receiving stays reachable through it
    // (REP may hold its pipe until a reply is sent), nor any key.
    this.#decoder.reset();
    this.#assembler.reset();
    (this.#mechanism ?? this.#handshake?.mechanism)?.dispose?.();
    this.#handshake = undefined;
    this.#batch.clear();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the system; nothing is lost.
    }
    this.#wakeReader();
  }

  /**
   * True once the handshake is done with a peer that answers PING (ZMTP
   * 3.1); see {@link Liveness.pingable}.
   */
  get pingable(): boolean {
    return this.#liveness.pingable;
  }

  /**
   * Milliseconds the peer has been silent; see {@link Liveness.silentFor}.
   *
   * @param now `Date.now()`
   * @returns 0 or more
   */
  silentFor(now: number): number {
    return this.#liveness.silentFor(now);
  }

  /**
   * Checks the connection's liveness, sending a PING or closing as
   * {@link Liveness.tick} says; the socket calls this on every tick of its
   * timer.
   *
   * @param now `Date.now()` at the tick
   */
  tick(now: number): void {
    if (this.#stage === Stage.Closed) return;
    const action = this.#liveness.tick(now);
    if (action === undefined) return;
    if (action.type === "ping") this.#sendCommand("PING", action.data);
    else this.close(action.error);
  }

  #wakeReader(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  #mustWait(): boolean {
    return this.#stopped || this.#closeAfterFlush || this.#handler.readPaused;
  }

  // The read loop: one async frame per connection for its whole life.
  async #run(): Promise<void> {
    try {
      // Written here and now, not from a microtask.
      this.#batch.queueControl(GREETING_HEAD);
      await this.#flush();
      let buffer = new Uint8Array(READ_SIZE_MIN);
      while (this.#stage !== Stage.Closed) {
        if (this.#mustWait()) {
          await new Promise<void>((resolve) => this.#resume = resolve);
          continue;
        }
        // Every read takes its turn with all the process's connections:
        // see read_turns.ts for why.
        let ticket = readTurns.enter();
        if (ticket < 0) {
          ticket = await readTurns.wait();
          if (this.#isClosed() || this.#mustWait()) {
            readTurns.done(ticket);
            continue;
          }
        }
        const direct = this.#decoder.pendingBody(DIRECT_READ_MIN);
        let n: number | null;
        try {
          n = await this.#conn.read(direct ?? buffer);
        } finally {
          readTurns.done(ticket);
        }
        if (this.#isClosed()) break;
        if (n === null) {
          const handshake = this.#handshake;
          if (handshake !== undefined) {
            this.#closeError = new HandshakeClosedError(handshake.stage);
          }
          break;
        }
        this.#liveness.read();
        this.#consuming = true;
        try {
          if (direct !== undefined) this.#decoder.filled(n, this);
          else this.#consume(buffer, n);
        } finally {
          this.#consuming = false;
        }
        if (direct === undefined) {
          if (n === buffer.length) {
            if (n < READ_SIZE_MAX) buffer = new Uint8Array(n * 2);
          } else if (buffer.length > READ_SIZE_MIN) {
            buffer = new Uint8Array(READ_SIZE_MIN);
          }
        }
        // Write what this read produced before reading again, as a plain
        // echo loop does: one operation in flight per connection, and a
        // peer that sends faster than it reads is held back by TCP.
        if (this.#hasOutput()) {
          this.#readerAwaitsWrite = true;
          if (this.#writeActive) {
            await this.#writing;
          } else {
            // #writeLoop's loop, inline: an async function per request
            // would be garbage the next scavenge must trace.
            this.#writeActive = true;
            try {
              for (
                let bytes = this.#nextWrite();
                bytes !== undefined;
                bytes = this.#nextWrite()
              ) {
                this.#wrote(await this.#conn.write(bytes));
              }
            } catch (error) {
              this.close(asError(error));
            } finally {
              this.#writeEnded();
            }
          }
          this.#readerAwaitsWrite = false;
        }
      }
    } catch (error) {
      if (this.#stage !== Stage.Closed) {
        this.#closeError ??= asError(error);
        // What the handshake queued before the peer was found wanting goes
        // out first: RFC 37 has a peer that read a whole greeting send its
        // own whole greeting, so the other side can tell why (a mechanism
        // mismatch) rather than see a hang-up.
        if (this.#stage !== Stage.Traffic && this.#batch.hasControl) {
          await this.#flushBeforeClose();
        }
      }
    }
    this.close();
    this.#resolveDrainWaiters();
    this.#handler.onClose(this, this.#closeError);
  }

  // Writes the control queue, for at most a second: a peer that does not
  // read must not hold the connection open.
  async #flushBeforeClose(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.#flush(),
        new Promise((resolve) => timer = setTimeout(resolve, 1000)),
      ]);
    } catch {
      // The peer is gone already; nothing more to say.
    } finally {
      clearTimeout(timer);
    }
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
      start = handshake.greeting(chunk, 0, length);
      if (!handshake.greetingDone) return;
      this.#stage = Stage.Handshake;
      if (handshake.version === 2) {
        // The first 2.0 message is the peer's identity: 255 octets at most.
        this.#decoder.useZmtp2();
        this.#decoder.messageBudget = MAX_IDENTITY;
      } else {
        this.#decoder.commandsOnly(true);
      }
    }
    if (start < length) this.#decoder.push(chunk, this, start, length);
  }

  /** Takes one decoded frame; part of {@link FrameSink}. */
  frame(flags: number, body: Uint8Array): void {
    if (this.#closeAfterFlush) return;
    if (this.#stage === Stage.Traffic) {
      if (this.#transparent) this.#plainFrame(flags, body);
      else {
        this.#mechanism!.decodeFrame(
          flags,
          body,
          this.#plain ??= { frame: (f, b) => this.#plainFrame(f, b) },
        );
      }
      return;
    }
    const handshake = this.#handshake;
    if (handshake === undefined) return; // closed
    handshake.frame(flags, body, (flags & COMMAND) !== 0);
    const error = handshake.error;
    if (error !== undefined) {
      // ERROR has been queued; close once it is written.
      this.#closeAfterFlush = true;
      this.#closeError = error;
    } else if (handshake.ready) {
      this.#becomeReady(handshake);
    }
  }

  #becomeReady(handshake: Handshake): void {
    this.#version = handshake.version;
    this.#mechanism = handshake.mechanism;
    this.#transparent = handshake.version === 2 ||
      handshake.mechanism.transparent;
    this.#peerSocketType = handshake.peerSocketType;
    this.#peerIdentity = handshake.peerIdentity;
    this.#liveness.handshakeDone(handshake.peerPings);
    this.#handshake = undefined;
    this.#stage = Stage.Traffic;
    if (!this.#transparent) this.#batch.mechanism = handshake.mechanism;
    const decoder = this.#decoder;
    decoder.commandsOnly(false);
    decoder.messageBudget = this.#options.frameLimits.maxMessageFrame;
    if (this.#transparent) {
      // Commands after the handshake (PING, PONG) are done with at once:
      // no copy, and nothing of theirs lingers in the shared slabs.
      decoder.viewCommands(true);
    } else {
      // A mechanism's commands carry messages (RFC 26 MESSAGE): as large.
      decoder.commandBudget = Math.max(
        decoder.commandBudget,
        this.#options.frameLimits.maxMessageFrame,
      );
    }
    this.#handler.onReady(this);
  }

  // A frame as the peer meant it, after the mechanism's decoding.
  #plainFrame(flags: number, body: Uint8Array): void {
    if (flags & COMMAND) {
      this.#command(body);
      return;
    }
    const assembler = this.#assembler;
    assembler.frame(flags, body, this.#handler);
    // The next frame may hold only what the message has room for (and a
    // mechanism's overhead): a message over the limit is refused before
    // its next frame is allocated.
    const decoder = this.#decoder;
    decoder.messageBudget = this.#options.maxMessageSize - assembler.size +
      MAX_FRAME_OVERHEAD;
    // A mechanism's commands carry the message's frames (CURVE's MESSAGE):
    // their budget shrinks with it, down to what a boxed PING needs, so
    // that a connection holds no more than one message's worth.
    if (!this.#transparent) {
      const { maxCommandFrame, maxMessageFrame } = this.#options.frameLimits;
      decoder.commandBudget = assembler.partial
        ? Math.max(decoder.messageBudget, BOXED_COMMAND_MAX)
        : Math.max(maxCommandFrame, maxMessageFrame);
    }
  }

  #command(body: Uint8Array): void {
    const { name, data } = parseCommand(body);
    if (name === "PING") {
      // PONG echoes the context that follows the two-octet TTL.
      this.#sendCommand("PONG", data.subarray(2, 18));
      this.#liveness.pinged(data, Date.now());
    }
    // PONG needs no answer: its arrival counted as traffic. Commands of
    // other patterns (SUBSCRIBE, ...) mean nothing to REQ and REP.
  }

  // A command after the handshake, through the mechanism. It is encoded
  // now: the control queue is written before any message encoded later, so
  // a mechanism's nonces stay in order on the wire.
  #sendCommand(name: string, data: Uint8Array): void {
    if (this.#transparent) {
      this.#queueControl(encodeCommand(name, data));
      return;
    }
    const body = commandBody(name, data);
    const mechanism = this.#mechanism!;
    const bytes = new Uint8Array(mechanism.frameSize(body.length));
    mechanism.encodeFrame(COMMAND, body, body.length, bytes, 0);
    this.#queueControl(bytes);
  }

  #queueControl(bytes: Uint8Array): void {
    this.#batch.queueControl(bytes);
    this.flushSoon();
  }

  // Messages flow once the handshake is done, and stop when an ERROR is
  // to be the last thing written.
  #trafficFlows(): boolean {
    return this.#stage === Stage.Traffic && !this.#closeAfterFlush;
  }

  #hasOutput(): boolean {
    return this.#batch.hasControl ||
      (this.#trafficFlows() &&
        (this.#batch.hasCarry || this.#handler.hasOutbound));
  }

  // The write path for output made outside a read (started from a
  // microtask): everything queued, in batches, one write in flight. The
  // read loop runs the same loop inline after each read.
  #flush(): Promise<void> {
    if (!this.#writeActive) {
      if (this.#stage === Stage.Closed || !this.#hasOutput()) return RESOLVED;
      this.#writeActive = true;
      this.#writing = this.#writeLoop();
    }
    return this.#writing;
  }

  async #writeLoop(): Promise<void> {
    try {
      for (
        let bytes = this.#nextWrite();
        bytes !== undefined;
        bytes = this.#nextWrite()
      ) {
        this.#wrote(await this.#conn.write(bytes));
      }
    } catch (error) {
      this.close(asError(error));
    } finally {
      this.#writeEnded();
    }
  }

  // The rest of the batch in flight, else the next batch, else undefined.
  #nextWrite(): Uint8Array | undefined {
    const out = this.#out;
    const written = this.#outWritten;
    if (out !== undefined && written < out.length) {
      return written === 0 ? out : out.subarray(written);
    }
    this.#outWritten = 0;
    return this.#out = this.#nextBatch();
  }

  #wrote(n: number): void {
    this.#outWritten += n;
    // Shows the peer alive while the read loop waits on it.
    this.#liveness.wrote();
  }

  #writeEnded(): void {
    this.#out = undefined;
    this.#outWritten = 0;
    this.#writeActive = false;
    this.#batch.idle();
    this.#resolveDrainWaiters();
    if (this.#closeAfterFlush) this.close(this.#closeError);
  }

  #nextBatch(): Uint8Array | undefined {
    if (this.#stage === Stage.Closed) return undefined;
    return this.#batch.next(
      this.#trafficFlows() ? this.#handler : undefined,
    );
  }

  #resolveDrainWaiters(): void {
    if (this.#drainWaiters === undefined || this.#hasOutput()) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    for (const resolve of waiters) resolve();
  }
}
