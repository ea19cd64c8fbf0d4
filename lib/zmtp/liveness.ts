/**
 * When a peer is dead: the handshake deadline, heartbeats (RFC 37's PING and
 * PONG), the TTL both ways, writes that do not move, and how long a peer
 * that cannot be pinged has been silent. It does no I/O and reads no clock:
 * the connection tells it what the I/O did and what time it is, and does
 * what it answers.
 *
 * Peers that cannot be pinged (ZMTP 3.0 and 2.0: they never send PING and
 * cannot answer one) get no timeout of their own once their handshake is
 * done, as with libzmq: an idle client that keeps its connection between
 * requests is in good standing, and nothing on the wire tells it from a
 * dead one. {@link Liveness.silentFor} says how long each has been silent,
 * so that a socket that must make room for a new peer can close the one
 * silent longest instead.
 *
 * @module
 */

import { PeerTimeoutError, ProtocolError } from "./errors.ts";

/** Heartbeat settings, as libzmq's `ZMQ_HEARTBEAT_IVL`, `_TIMEOUT`, `_TTL`. */
export interface Heartbeat {
  /** Send a PING after this many milliseconds without traffic; 0 for none. */
  interval: number;
  /** Close when nothing arrives this many milliseconds after a PING. */
  timeout: number;
  /** The TTL our PINGs carry: the peer may close after this long without us. */
  ttl: number;
}

/** Options for a {@link Liveness}. */
export interface LivenessOptions {
  /** Milliseconds the greeting and handshake may take; 0 for no limit. */
  handshakeTimeout: number;
  /** Heartbeats after the handshake. */
  heartbeat: Heartbeat;
}

/**
 * What the connection's I/O is doing at the moment, read whenever
 * {@link Liveness} decides (so the connection need not report each change).
 */
export interface IoState {
  /** A write to the peer is in flight. */
  readonly writing: boolean;
  /** The read loop waits for that write before it reads again. */
  readonly readerWaitsOnWrite: boolean;
  /** We paused the read loop: the pipe above is full, or reading stopped. */
  readonly readerPaused: boolean;
}

/** Why {@link Liveness} closes a connection. */
export type CloseReason =
  /** The greeting and handshake took longer than `handshakeTimeout`. */
  | "handshake-timeout"
  /** Nothing arrived within `timeout` of our PING. */
  | "heartbeat-timeout"
  /** Nothing arrived within the TTL the peer's own PING asked for. */
  | "peer-ttl-expired"
  /** A write stuck on the peer made no progress for six heartbeat periods. */
  | "write-stalled";

/** What {@link Liveness.tick} asks the connection to do. */
export type LivenessAction =
  /** Send a PING command whose data (our TTL, two octets) is `data`. */
  | { readonly type: "ping"; readonly data: Uint8Array }
  /** Close the connection with `error`. */
  | {
    readonly type: "close";
    readonly reason: CloseReason;
    readonly error: Error;
  };

/**
 * How many heartbeat periods (interval and timeout) a write stuck on a peer
 * may go without progress before the peer is taken for dead.
 */
export const WRITE_STALL_PERIODS = 6;

// RFC 37: a PING's TTL is a 16-bit count of tenths of a second.
const TTL_UNIT = 100;
const TTL_MAX = 0xffff;

/**
 * One connection's liveness, from its first octet to its close. The
 * connection calls {@link read} for every read that returned octets,
 * {@link wrote} for every write that completed, {@link handshakeDone} and
 * {@link pinged} as they happen, and {@link tick} on every tick of its
 * socket's timer, doing what that returns.
 *
 * @example
 * ```ts
 * import { Liveness } from "./liveness.ts";
 * const io = { writing: false, readerWaitsOnWrite: false, readerPaused: false };
 * const heartbeat = { interval: 1000, timeout: 1000, ttl: 2000 };
 * const liveness = new Liveness({ handshakeTimeout: 0, heartbeat }, 0, io);
 * liveness.handshakeDone(true);
 * liveness.tick(1000); // { type: "ping", data: Uint8Array [0, 20] }
 * liveness.tick(2000); // { type: "close", reason: "heartbeat-timeout", ... }
 * ```
 */
export class Liveness {
  readonly #options: LivenessOptions;
  readonly #io: IoState;
  readonly #openedAt: number;
  #handshakeDone = false;
  #pingable = false;
  #over = false;
  // Reads, and writes that show the peer alive, are counted; each tick
  // compares the sum with the last tick's, so a read costs an increment.
  #reads = 0;
  #writes = 0;
  #heardAtTick = 0;
  #lastHeard: number;
  #pingSentAt: number | undefined;
  // The peer's TTL (0: none), the time its clock runs from, and the reads
  // when it was given: only a read answers it.
  #ttl = 0;
  #ttlFrom = 0;
  #readsAtPing = 0;

  /**
   * @param options the handshake timeout and heartbeat settings
   * @param now the time the connection opened, in milliseconds
   * @param io what the connection's I/O is doing, read when needed
   */
  constructor(options: LivenessOptions, now: number, io: IoState) {
    this.#options = options;
    this.#io = io;
    this.#openedAt = now;
    this.#lastHeard = now;
  }

  /**
   * True once the handshake is done with a peer that answers PING (ZMTP
   * 3.1 and later); ZMTP 3.0 and 2.0 peers never are.
   */
  get pingable(): boolean {
    return this.#pingable;
  }

  /** True when heartbeats watch this peer: it is pingable and they are on. */
  get heartbeats(): boolean {
    return this.#pingable && this.#options.heartbeat.interval > 0;
  }

  /** Octets arrived from the peer: any traffic (messages, PING, PONG). */
  read(): void {
    this.#reads++;
  }

  /**
   * A write to the peer completed. While the read loop waits on writes (or
   * on room we must make), what the peer sends is not read: a write that
   * goes on completing shows it alive instead (its system takes our data; a
   * dead peer's does not). At other times writes prove nothing: our system
   * takes them into its buffer whether or not the peer is still there.
   */
  wrote(): void {
    if (this.#readerBlocked()) this.#writes++;
  }

  /**
   * The handshake is done; heartbeats begin.
   *
   * @param pingable true when the peer speaks ZMTP 3.1 or later
   */
  handshakeDone(pingable: boolean): void {
    this.#handshakeDone = true;
    this.#pingable = pingable;
  }

  /**
   * The peer sent a PING (counted by {@link read} already). A TTL in it is
   * honoured: unless more octets are read from the peer within the TTL, the
   * connection is closed when it runs out. RFC 37 counts it in tenths of a
   * second, 0 for none. Our own writes never answer it (the PONG's would,
   * at once), and its clock stands still while we do not read.
   *
   * @param data the command's data: a two-octet TTL, then the context
   * @param now the time it arrived, in milliseconds
   */
  pinged(data: Uint8Array, now: number): void {
    const ttl = data.length >= 2 ? (data[0] << 8 | data[1]) * TTL_UNIT : 0;
    if (ttl > 0) {
      this.#ttl = ttl;
      this.#ttlFrom = now;
      this.#readsAtPing = this.#reads;
    }
  }

  /**
   * Milliseconds the peer has been silent: since the tick that last found
   * traffic from it (0 if there has been some since), or since it
   * connected. A read loop we paused ourselves with no write stuck counts
   * as traffic: the application is slow, not the peer. A socket that must
   * make room closes the connection silent longest (preferring peers that
   * are not {@link pingable}, which no other rule closes).
   *
   * @param now the time, in milliseconds
   * @returns 0 or more
   */
  silentFor(now: number): number {
    const heard = this.#reads + this.#writes;
    if (heard !== this.#heardAtTick || this.#appHolds()) return 0;
    return Math.max(0, now - this.#lastHeard);
  }

  /**
   * Applies the rules at time `now`; the socket's timer calls this for
   * every connection. Once it has returned a close, it returns nothing.
   *
   * @param now the time, in milliseconds, never less than before
   * @returns what to do now, if anything
   */
  tick(now: number): LivenessAction | undefined {
    if (this.#over) return undefined;
    const appHolds = this.#appHolds();
    const heard = this.#reads + this.#writes;
    if (heard !== this.#heardAtTick || appHolds) {
      this.#heardAtTick = heard;
      this.#lastHeard = now;
      this.#pingSentAt = undefined;
    }
    if (!this.#handshakeDone) {
      // The clock runs from the connection, not from its last octet: a
      // greeting trickled an octet at a time is no way to hold a place.
      const limit = this.#options.handshakeTimeout;
      if (limit > 0 && now - this.#openedAt >= limit) {
        return this.#close(
          "handshake-timeout",
          new ProtocolError(`Handshake took over ${limit} ms`),
        );
      }
      return undefined;
    }
    const { interval, timeout } = this.#options.heartbeat;
    // While our writes to the peer are stuck, we read nothing from it: the
    // peer may be sending as it should (RFC 37: any traffic is a sign of
    // life) while it reads more slowly than we write, and TCP lets a write
    // go on only in large steps. Its writes' progress is all we can go by
    // then: a peer whose writes do not move for several heartbeat periods
    // is taken for dead.
    if (this.#io.writing && this.#readerBlocked()) {
      this.#ttlFrom = now;
      const stall = WRITE_STALL_PERIODS * (interval + timeout);
      if (interval > 0 && now - this.#lastHeard >= stall) {
        return this.#close(
          "write-stalled",
          new PeerTimeoutError(
            `No write to the peer went through within ${stall} ms`,
          ),
        );
      }
      return undefined;
    }
    if (this.#ttl > 0) {
      if (this.#reads !== this.#readsAtPing) this.#ttl = 0;
      else if (appHolds) this.#ttlFrom = now;
      else if (now - this.#ttlFrom >= this.#ttl) {
        return this.#close(
          "peer-ttl-expired",
          new PeerTimeoutError("No traffic from the peer within its TTL"),
        );
      }
    }
    if (interval <= 0 || !this.#pingable) return undefined;
    if (this.#pingSentAt === undefined) {
      if (now - this.#lastHeard >= interval) {
        this.#pingSentAt = now;
        return { type: "ping", data: this.#pingData() };
      }
    } else if (now - this.#pingSentAt >= timeout) {
      return this.#close(
        "heartbeat-timeout",
        new PeerTimeoutError(
          `No traffic from the peer within ${timeout} ms of a heartbeat`,
        ),
      );
    }
    return undefined;
  }

  // The TTL our PING carries, in tenths of a second rounded up (so that the
  // peer never gives up on us sooner than asked), as much as 16 bits hold.
  #pingData(): Uint8Array {
    const ttl = Math.min(
      TTL_MAX,
      Math.ceil(this.#options.heartbeat.ttl / TTL_UNIT),
    );
    return Uint8Array.of(ttl >> 8, ttl & 0xff);
  }

  // The read loop waits on a write, or on room in the pipe.
  #readerBlocked(): boolean {
    return this.#io.readerWaitsOnWrite || this.#io.readerPaused;
  }

  // We paused reading and no write is stuck: the application is slow, not
  // the peer.
  #appHolds(): boolean {
    return this.#io.readerPaused && !this.#io.writing;
  }

  #close(reason: CloseReason, error: Error): LivenessAction {
    this.#over = true;
    return { type: "close", reason, error };
  }
}
