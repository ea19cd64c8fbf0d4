/**
 * What REQ and REP share: options, `bind` and `connect`, pipes that come and
 * go as peers complete their handshake or leave, events, timeouts and
 * `close()`. The request-reply rules live in `req.ts` and `rep.ts`.
 *
 * @module
 */

import { type ConnectionOptions, MAX_COMMAND_SIZE } from "./connection.ts";
import { formatAddress } from "./endpoint.ts";
import { asError, PeerEvictedError, SocketError } from "./errors.ts";
import { chooseEvictee } from "./eviction.ts";
import type { Part } from "./frame.ts";
import {
  HandshakeRefusedError,
  MAX_FRAME_OVERHEAD,
  type MechanismFactory,
  ServerFullError,
  type SocketType,
} from "./mechanism.ts";
import { securityFor } from "./security_options.ts";
import { ServerFullMechanism } from "./server_full_mechanism.ts";
import { type PeerInfo, Pipe, type PipeOwner } from "./pipe.ts";
import { Dialer, listen, type Listener } from "./transport.ts";
import { SocketEvents, type SocketEventStream } from "./socket_events.ts";

/** A message to send: one part or several, bytes or UTF-8 text. */
export type MessageLike =
  | string
  | Uint8Array
  | readonly (string | Uint8Array)[];

/** What happens on a socket's connections, for logs and monitors. */
export type SocketEvent =
  | { type: "bound"; endpoint: string }
  | { type: "accepted"; endpoint: string; remote: string }
  | { type: "connected"; endpoint: string; remote: string }
  | {
    type: "ready";
    endpoint: string;
    remote: string;
    peerSocketType: string;
  }
  | {
    type: "disconnected";
    endpoint: string;
    remote: string;
    wasReady: boolean;
    error?: Error;
  }
  | {
    type: "refused";
    endpoint: string;
    remote: string;
    reason: string;
    limit: "connections" | "descriptors";
  }
  | {
    type: "evicted";
    endpoint: string;
    remote: string;
    limit: "connections" | "descriptors";
    silentFor: number;
  }
  /** Out of file descriptors with no peer to close: accepting waits. */
  | { type: "exhausted"; endpoint: string; error: Error }
  | { type: "retrying"; endpoint: string; delay: number; error?: Error }
  | { type: "stopped"; endpoint: string; error?: Error }
  | { type: "error"; error: Error; peer?: PeerInfo };

/** Options common to {@link Request} and {@link Reply} sockets. */
export interface SocketOptions {
  /**
   * The largest message accepted from a peer, all parts together, in
   * octets; a peer that sends a larger one is disconnected (libzmq's
   * `ZMQ_MAXMSGSIZE`).
   * @default {1048576}
   */
  maxMessageSize?: number;
  /**
   * Milliseconds a new connection has to complete greeting and handshake;
   * 0 sets no limit (zeromq.js's name; libzmq's `ZMQ_HANDSHAKE_IVL`).
   * @default {10000}
   */
  handshakeInterval?: number;
  /**
   * Milliseconds one connect attempt may take before it is abandoned and
   * retried; 0 leaves it to the system (minutes, against a host that drops
   * connection requests). libzmq's `ZMQ_CONNECT_TIMEOUT`.
   * @default {5000}
   */
  connectTimeout?: number;
  /**
   * Milliseconds without traffic from a peer after which a PING is sent
   * (ZMTP 3.1 heartbeats, as libzmq's `ZMQ_HEARTBEAT_IVL`); 0 sends none.
   * @default {10000}
   */
  heartbeatInterval?: number;
  /**
   * Milliseconds to wait for any traffic after a PING before the connection
   * is closed (a connecting socket then reconnects); libzmq's
   * `ZMQ_HEARTBEAT_TIMEOUT`.
   * @default {heartbeatInterval}
   */
  heartbeatTimeout?: number;
  /**
   * The TTL our PINGs carry, in milliseconds (rounded up to tenths of a
   * second): how long the peer may wait to hear from us before it closes.
   * libzmq's `ZMQ_HEARTBEAT_TTL`.
   * @default {heartbeatInterval + heartbeatTimeout}
   */
  heartbeatTimeToLive?: number;
  /**
   * Milliseconds before the first reconnect attempt; -1 does not reconnect:
   * a `connect()` then stops after its first connection ends or its first
   * attempt fails (libzmq's `ZMQ_RECONNECT_IVL`).
   * @default {100}
   */
  reconnectInterval?: number;
  /**
   * The cap, in milliseconds, that the reconnect delay doubles up to
   * (libzmq's `ZMQ_RECONNECT_IVL_MAX`).
   * @default {5000}
   */
  reconnectMaxInterval?: number;
  /**
   * Milliseconds `receive()` waits before rejecting with `EAGAIN`; -1 waits
   * for ever (libzmq's `ZMQ_RCVTIMEO`).
   * @default {-1}
   */
  receiveTimeout?: number;
  /**
   * Milliseconds `send()` may wait before rejecting with `EAGAIN`, as in
   * zeromq.js. Here `send()` never waits (REQ keeps a request until a peer
   * is ready; REP drops a reply whose peer has gone), so this only lets
   * zeromq.js options carry over (libzmq's `ZMQ_SNDTIMEO`).
   * @default {-1}
   */
  sendTimeout?: number;
  /**
   * Milliseconds `close()` waits for queued messages to be written; -1 waits
   * for ever (libzmq's `ZMQ_LINGER`).
   * @default {1000}
   */
  linger?: number;
  /**
   * Received messages queued per peer before reading from that peer pauses
   * (libzmq's `ZMQ_RCVHWM`).
   * @default {1000}
   */
  receiveHighWaterMark?: number;
  /**
   * Messages waiting to be written to a peer before reading from that peer
   * pauses: a peer that does not read its replies is held back, and nothing
   * is dropped (libzmq's `ZMQ_SNDHWM`).
   * @default {1000}
   */
  sendHighWaterMark?: number;
  /**
   * The identity announced to peers, useful with ROUTER peers (libzmq's
   * `ZMQ_ROUTING_ID`); at most 255 octets.
   */
  routingId?: string | Uint8Array;
  /**
   * Be a CURVE server (RFC 26): every connection is encrypted, and clients
   * must know our public key. Needs `curvePublicKey` and `curveSecretKey`.
   * @default {false}
   */
  curveServer?: boolean;
  /** Our CURVE public key, Z85 text or 32 octets. */
  curvePublicKey?: string | Uint8Array;
  /** Our CURVE secret key, Z85 text or 32 octets. */
  curveSecretKey?: string | Uint8Array;
  /**
   * Be a CURVE client of the server with this public key (Z85 text or 32
   * octets). Our own key pair is `curvePublicKey`/`curveSecretKey`, or a
   * fresh one when they are not given.
   */
  curveServerKey?: string | Uint8Array;
  /**
   * CURVE server: whether a client's public key (Z85) may connect; a client
   * refused gets ERROR "400", as from libzmq's ZAP. Every client that knows
   * our public key is admitted when this is not set.
   */
  curveAuthorize?: (publicKey: string) => boolean;
  /**
   * The most connections open at once. A new one past it takes the place
   * of the peer silent longest among those idle or that cannot be pinged
   * (an `evicted` event; the same when file descriptors run out); when
   * every peer is busy and can be pinged, it is refused with ERROR
   * "Server-full" (a `refused` event).
   * @default {Infinity}
   */
  maxConnections?: number;
  /**
   * Receives every {@link SocketEvent} as it happens, synchronously, with
   * nothing queued: for logs that must keep the order of the socket's own
   * work. `socket.events` is the zeromq.js way, an async iterable; both see
   * the same events.
   */
  onEvent?: (event: SocketEvent) => void;
}

type ResolvedOptions = Required<
  Omit<
    SocketOptions,
    | "routingId"
    | "onEvent"
    | "curveServer"
    | "curvePublicKey"
    | "curveSecretKey"
    | "curveServerKey"
    | "curveAuthorize"
  >
>;

const DEFAULTS: ResolvedOptions = {
  maxMessageSize: 1024 * 1024,
  handshakeInterval: 10_000,
  connectTimeout: 5_000,
  heartbeatInterval: 10_000,
  heartbeatTimeout: NaN, // the interval
  heartbeatTimeToLive: NaN, // interval + timeout
  reconnectInterval: 100,
  reconnectMaxInterval: 5_000,
  receiveTimeout: -1,
  sendTimeout: -1,
  linger: 1_000,
  receiveHighWaterMark: 1_000,
  sendHighWaterMark: 1_000,
  maxConnections: Infinity,
};

// The socket's ticker checks every connection's liveness this often: a
// quarter of the shortest heartbeat period, so a silent peer is caught at
// most a quarter late, and at least once a second for handshake timeouts.
function tickPeriod(options: ResolvedOptions): number {
  const { heartbeatInterval, heartbeatTimeout } = options;
  if (heartbeatInterval <= 0) return 1000;
  return Math.min(
    1000,
    Math.max(10, Math.min(heartbeatInterval, heartbeatTimeout) / 4),
  );
}

const encoder = new TextEncoder();
// Connections being refused as "Server-full" at once: past this many, a
// new one is closed without a word, so a flood cannot take descriptors.
const MAX_REFUSING = 16;

// Connection options per role, made once the mechanism factory is ready:
// a connection cannot be opened without them, so never without the
// mechanism the socket's options ask for.
interface Roles {
  factory: MechanismFactory;
  server: ConnectionOptions;
  client: ConnectionOptions;
  // A full server's: greets with the socket's mechanism, then refuses
  // with ERROR "Server-full".
  full: ConnectionOptions;
}

/**
 * Turns a {@link MessageLike} into parts the engine owns: bytes are copied,
 * so that the caller may change or reuse its buffers as soon as `send()`
 * returns; text stays text (it cannot change), encoded as UTF-8 when
 * written, with no buffer of its own.
 *
 * @throws {TypeError} when the message is not bytes, text or a non-empty
 * array of them (RFC 28: a message needs at least one body frame)
 */
export function toParts(message: MessageLike): Part[] {
  if (typeof message === "string") return [message];
  if (message instanceof Uint8Array) return [message.slice()];
  if (!Array.isArray(message)) {
    throw new TypeError(
      `Cannot send ${
        describe(message)
      }: a message is a string, a Uint8Array or an array of them`,
    );
  }
  if (message.length === 0) {
    throw new TypeError(
      "Cannot send a message of no parts: a request or reply needs a body",
    );
  }
  return message.map((part) => {
    if (typeof part === "string") return part;
    if (part instanceof Uint8Array) return part.slice();
    throw new TypeError(
      `Cannot send a part that is ${describe(part)}: use Uint8Array or string`,
    );
  });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") {
    return `an object (${value.constructor?.name ?? "Object"})`;
  }
  return `a ${typeof value}`;
}

/** A pending `receive()` of a socket, with its timeout. */
export interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * What a socket type adds to {@link Socket}: the RFC 28 rules, told when
 * peers come and go. Internal: given through {@link adoptSocket}, so that
 * none of it is part of the public classes.
 */
export interface SocketRules {
  /** A peer completed its handshake. */
  attach(pipe: Pipe): void;
  /** A peer's queue went from empty to holding a message. */
  readable(pipe: Pipe): void;
  /** A peer left (called only for pipes that were attached). */
  detach(pipe: Pipe): void;
  /** Whether the socket holds a request of this peer's, not yet answered. */
  holds?(pipe: Pipe): boolean;
  /** Called once when `close()` starts: reject waiting calls here. */
  closing(): void;
  /** Resolves when work taken on before `close()` is done (replies in progress). */
  inProgress?(): Promise<void>;
  /** Called once when `close()` has closed every connection. */
  closed?(): void;
}

/** What a socket type's rules may use of its {@link Socket}. Internal. */
export interface SocketInternals {
  /** The resolved options. */
  readonly options: ResolvedOptions;
  /** The pipes open now (for example to serve them). */
  readonly pipes: ReadonlySet<Pipe>;
  /** Sends an event to the socket's listeners. */
  emit(event: SocketEvent): void;
  /** Throws `ETERM` when the socket is closed. */
  assertOpen(action: string): void;
}

let adopt: (socket: Socket, rules: SocketRules) => SocketInternals;

/**
 * Gives a socket its type's rules, once, right after `super()`, and returns
 * the internals the rules need. Internal (not exported by `mod.ts`): this is
 * how `req.ts` and `rep.ts` reach what would otherwise be protected members.
 *
 * @throws {TypeError} when the socket has its rules already
 */
export function adoptSocket(
  socket: Socket,
  rules: SocketRules,
): SocketInternals {
  return adopt(socket, rules);
}

/**
 * What {@link Request} and {@link Reply} share: options, `bind()` and
 * `connect()`, events and `close()`. Not made directly: create one of the
 * socket types.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reply, type Socket } from "./mod.ts";
 *
 * const socket: Socket = new Reply();
 * const endpoint = await socket.bind("tcp://127.0.0.1:0");
 * assert.match(endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
 * await socket.close();
 * ```
 */
export abstract class Socket {
  readonly #options: ResolvedOptions;
  #rules: SocketRules | undefined;
  readonly #internals: SocketInternals;
  readonly #type: SocketType;
  readonly #events = new SocketEvents();
  readonly #onEvent: ((event: SocketEvent) => void) | undefined;
  readonly #listeners = new Map<string, Listener>();
  readonly #dialers = new Map<string, Dialer>();
  readonly #pipes = new Set<Pipe>();
  // Of #pipes: those closed to make room, and those being refused, which
  // the connection limit does not count.
  readonly #evicting = new Set<Pipe>();
  readonly #refusing = new Set<Pipe>();
  // An `exhausted` event is sent once until a connection is accepted again.
  #exhaustedSaid = false;
  #closing: Promise<void> | undefined;
  #ticker: ReturnType<typeof setInterval> | undefined;
  readonly #tickPeriod: number;
  readonly #mechanism: "NULL" | "CURVE";
  // Connection options, one object per role shared by this socket's
  // connections (accepted ones play the NULL server, dialed ones the
  // client), once the mechanism factory is ready (CURVE loads libsodium
  // asynchronously); bind() and connect() wait for it.
  readonly #roles: Promise<Roles>;

  static {
    adopt = (socket, rules) => {
      if (socket.#rules !== undefined) {
        throw new TypeError("Cannot adopt a socket twice");
      }
      socket.#rules = rules;
      return socket.#internals;
    };
  }

  /**
   * Checks the options; the subclass then gives its rules.
   *
   * @param type the socket type the subclass implements
   * @param options see {@link SocketOptions}
   * @throws {TypeError} when an option is unknown or not a number, or CURVE
   * options do not fit together
   * @throws {RangeError} when an option is out of range
   */
  protected constructor(type: SocketType, options: SocketOptions = {}) {
    this.#type = type;
    const {
      routingId,
      onEvent,
      curveServer,
      curvePublicKey,
      curveSecretKey,
      curveServerKey,
      curveAuthorize,
      ...rest
    } = options;
    this.#options = { ...DEFAULTS };
    for (const [key, value] of Object.entries(rest)) {
      if (value === undefined) continue;
      if (!(key in DEFAULTS)) {
        throw new TypeError(
          `Cannot set option "${key}": there is no such option`,
        );
      }
      if (typeof value !== "number" || Number.isNaN(value)) {
        throw new TypeError(`Cannot set option "${key}": not a number`);
      }
      if (value < -1) {
        throw new RangeError(
          `Cannot set option "${key}" to ${value}: it must not be negative`,
        );
      }
      (this.#options as Record<string, number>)[key] = value;
    }
    const resolved = this.#options;
    if (Number.isNaN(resolved.heartbeatTimeout)) {
      resolved.heartbeatTimeout = resolved.heartbeatInterval;
    }
    if (Number.isNaN(resolved.heartbeatTimeToLive)) {
      resolved.heartbeatTimeToLive = resolved.heartbeatInterval +
        resolved.heartbeatTimeout;
    }
    this.#tickPeriod = tickPeriod(resolved);
    const { maxMessageSize, maxConnections } = this.#options;
    if (maxMessageSize < 1) {
      throw new RangeError(
        `Cannot set option "maxMessageSize" to ${maxMessageSize}: it must be at least 1`,
      );
    }
    if (maxConnections < 1) {
      throw new RangeError(
        `Cannot set option "maxConnections" to ${maxConnections}: it must be at least 1`,
      );
    }
    const identity = typeof routingId === "string"
      ? encoder.encode(routingId)
      : routingId;
    if (identity !== undefined && identity.length > 255) {
      throw new RangeError('Cannot set option "routingId": over 255 octets');
    }
    this.#onEvent = onEvent;
    this.#internals = {
      options: this.#options,
      pipes: this.#pipes,
      emit: (event) => this.#emit(event),
      assertOpen: (action) => this.#assertOpen(action),
    };
    const security = securityFor({
      curveServer,
      curvePublicKey,
      curveSecretKey,
      curveServerKey,
      curveAuthorize,
    });
    this.#mechanism = security.mechanism;
    const connectionOptions = {
      socketType: type,
      maxMessageSize,
      frameLimits: {
        // A frame may carry a mechanism's overhead; the message itself is
        // held to maxMessageSize.
        maxMessageFrame: maxMessageSize + MAX_FRAME_OVERHEAD,
        maxCommandFrame: MAX_COMMAND_SIZE,
      },
      handshakeTimeout: resolved.handshakeInterval,
      heartbeat: {
        interval: resolved.heartbeatInterval,
        timeout: resolved.heartbeatTimeout,
        ttl: resolved.heartbeatTimeToLive,
      },
    };
    this.#roles = security.factory.then((factory) => ({
      factory,
      server: {
        ...connectionOptions,
        isServer: true,
        createMechanism: () =>
          factory({ socketType: type, identity, isServer: true }),
      },
      client: {
        ...connectionOptions,
        isServer: false,
        createMechanism: () =>
          factory({ socketType: type, identity, isServer: false }),
      },
      full: {
        ...connectionOptions,
        isServer: true,
        createMechanism: () =>
          new ServerFullMechanism(
            factory.mechanism,
            factory.mechanism === "CURVE",
          ),
      },
    }));
    // A failure is reported by bind() and connect(), not as unhandled.
    this.#roles.catch(() => {});
  }

  /** The socket type, as ZMTP names it: `REQ` or `REP`. */
  get type(): SocketType {
    return this.#type;
  }

  /** The security mechanism's name: `NULL` or `CURVE`. */
  get mechanism(): "NULL" | "CURVE" {
    return this.#mechanism;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The endpoints bound, with the ports actually chosen. */
  get endpoints(): string[] {
    return [...this.#listeners.keys()];
  }

  /**
   * The endpoint bound last, with the port actually chosen, or `null` before
   * any `bind()` (zeromq.js and libzmq's `ZMQ_LAST_ENDPOINT`).
   */
  get lastEndpoint(): string | null {
    return this.endpoints.at(-1) ?? null;
  }

  /**
   * The socket's events, as an async iterable: `for await (const event of
   * socket.events)`, as in zeromq.js. Events are kept from the first time
   * this is read, up to {@link SOCKET_EVENT_LIMIT} not yet taken (later ones
   * are dropped and counted); iteration ends once the socket has closed.
   */
  get events(): SocketEventStream {
    this.#events.start();
    return this.#events;
  }

  /** Open connections, including those still in their handshake. */
  get connectionCount(): number {
    return this.#pipes.size;
  }

  /**
   * Binds to an endpoint and accepts peers on it.
   *
   * @param endpoint `tcp://host:port`; port 0 picks a free port
   * @returns the endpoint actually bound
   * @throws {SocketError} `EADDRINUSE` / `EADDRNOTAVAIL` when it cannot bind,
   * `ETERM` when the socket is closed
   * @throws {SyntaxError} when the endpoint cannot be parsed
   */
  async bind(endpoint: string): Promise<string> {
    this.#assertOpen("bind");
    const roles = await this.#roles;
    this.#assertOpen("bind");
    const listener = listen(
      endpoint,
      (conn) => this.#accepted(listener, conn, roles),
      {
        atLimit: (conn) => this.#atDescriptorLimit(listener, conn, roles),
        exhausted: (error) => this.#outOfDescriptors(listener, error),
      },
    );
    this.#listeners.set(listener.endpoint, listener);
    this.#emit({ type: "bound", endpoint: listener.endpoint });
    return listener.endpoint;
  }

  /**
   * Connects to an endpoint in the background: the peer need not be up yet,
   * and the socket reconnects with growing delays whenever it goes away.
   *
   * @param endpoint `tcp://host:port`
   * @throws {SyntaxError} when the endpoint cannot be parsed
   * @throws {SocketError} `ETERM` when the socket is closed
   */
  connect(endpoint: string): void {
    this.#assertOpen("connect");
    if (this.#dialers.has(endpoint)) return;
    let refusal: Error | undefined;
    const dialer = new Dialer(
      endpoint,
      this.#options,
      this.#roles.then(() => {}),
      {
        connected: async (conn) => {
          // Dialing starts only once this has resolved.
          const { client } = await this.#roles;
          if (this.closed) {
            conn.close();
            return "retry";
          }
          const pipe = this.#open(conn, endpoint, client);
          this.#emit({
            type: "connected",
            endpoint,
            remote: pipe.connection.remote,
          });
          const error = await pipe.closedWith;
          // RFC 37: a peer that sent ERROR must not be retried as we are;
          // but one that is full refused us for want of room, which a later
          // try may find.
          if (
            error instanceof HandshakeRefusedError &&
            !(error instanceof ServerFullError)
          ) {
            refusal = error;
            return "stop";
          }
          return pipe.wasReady ? "reset" : "retry";
        },
        retrying: (delay, error) =>
          this.#emit({ type: "retrying", endpoint, delay, error }),
        stopped: (error) => {
          this.#dialers.delete(endpoint);
          this.#emit({ type: "stopped", endpoint, error: error ?? refusal });
        },
      },
    );
    this.#dialers.set(endpoint, dialer);
  }

  /**
   * Stops connecting to an endpoint and closes its connection.
   *
   * @param endpoint an endpoint given to {@link connect}
   */
  async disconnect(endpoint: string): Promise<void> {
    const dialer = this.#dialers.get(endpoint);
    if (dialer === undefined) return;
    this.#dialers.delete(endpoint);
    const closing = dialer.close();
    for (const pipe of this.#pipes) {
      if (pipe.endpoint === endpoint) pipe.connection.close();
    }
    await closing;
  }

  /**
   * Closes the socket gracefully: stops accepting, connecting and reading,
   * lets the requests already read be answered, waits up to `linger`
   * milliseconds for replies in progress and queued messages to be written,
   * then closes every connection and rejects pending calls with `ETERM`.
   * Idempotent; every call resolves when the socket is fully closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** So that `await using` closes the socket. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#rules?.closing();
    this.#stopTicker();
    const listeners = [...this.#listeners.values()].map((l) => l.close());
    const dialers = [...this.#dialers.values()].map((d) => d.close());
    this.#listeners.clear();
    this.#dialers.clear();
    const pipes = [...this.#pipes];
    for (const pipe of pipes) pipe.connection.stopReading();
    await Promise.all(listeners);
    const deadline = Date.now() + Math.max(0, this.#options.linger);
    await withTimeout(
      this.#rules?.inProgress?.() ?? Promise.resolve(),
      this.#options.linger,
    );
    await withTimeout(
      Promise.all(pipes.map((pipe) => pipe.connection.drained())),
      this.#options.linger < 0 ? -1 : Math.max(0, deadline - Date.now()),
    );
    for (const pipe of pipes) pipe.connection.close();
    await Promise.all(pipes.map((pipe) => pipe.connection.done));
    await Promise.all(dialers);
    // Wipes the socket's keys, even when the factory was still loading.
    await this.#roles.then(({ factory }) => factory.dispose(), () => {});
    this.#rules?.closed?.();
    this.#events.end();
  }

  // Throws ETERM when the socket is closed.
  #assertOpen(action: string): void {
    if (this.closed) {
      throw new SocketError("ETERM", `Cannot ${action}: the socket is closed`);
    }
  }

  // Sends an event to `events` and to the `onEvent` option, if set. A
  // callback that throws has its error sent on as an `error` event; nothing
  // it does can end the process or break the socket.
  #emit(event: SocketEvent): void {
    this.#events.push(event);
    const onEvent = this.#onEvent;
    if (onEvent === undefined) return;
    try {
      onEvent(event);
    } catch (error) {
      if (event.type === "error") return;
      try {
        onEvent({ type: "error", error: asError(error) });
      } catch {
        // The callback fails on errors too; there is nobody else to tell.
      }
    }
  }

  #accepted(listener: Listener, conn: Deno.TcpConn, roles: Roles): void {
    this.#exhaustedSaid = false;
    const remote = formatAddress(conn.remoteAddr as Deno.NetAddr);
    if (this.closed) {
      conn.close();
      return;
    }
    const open = this.#pipes.size - this.#evicting.size - this.#refusing.size;
    if (open >= this.#options.maxConnections) {
      const evictee = this.#evictee();
      if (evictee === undefined) {
        const max = this.#options.maxConnections;
        this.#refuse(
          listener,
          conn,
          remote,
          roles,
          "connections",
          max === 1
            ? "1 connection is open already"
            : `${max} connections are open already`,
        );
        return;
      }
      this.#evict(evictee, "connections");
    }
    this.#open(conn, listener.endpoint, roles.server);
    this.#emit({ type: "accepted", endpoint: listener.endpoint, remote });
  }

  // At the limit with every peer busy and pingable: the new peer is told
  // "Server-full" in a handshake ERROR, then closed.
  #refuse(
    listener: Listener,
    conn: Deno.TcpConn,
    remote: string,
    roles: Roles,
    limit: "connections" | "descriptors",
    reason: string,
  ): void {
    this.#emit({
      type: "refused",
      endpoint: listener.endpoint,
      remote,
      reason,
      limit,
    });
    if (this.#refusing.size >= MAX_REFUSING) {
      conn.close();
      return;
    }
    this.#refusing.add(this.#open(conn, listener.endpoint, roles.full));
  }

  // The peer to close to make room (see eviction.ts), if any.
  #evictee(): Pipe | undefined {
    const now = Date.now();
    const candidates = [...this.#pipes].filter((pipe) =>
      !this.#evicting.has(pipe) && !this.#refusing.has(pipe) &&
      !pipe.connection.closed
    );
    return chooseEvictee(candidates, (pipe) => ({
      pingable: pipe.connection.pingable,
      active: pipe.active || (this.#rules?.holds?.(pipe) ?? false),
      silentSince: now - pipe.connection.silentFor(now),
    }));
  }

  #evict(pipe: Pipe, limit: "connections" | "descriptors"): void {
    const { endpoint, remote } = pipe.connection;
    const silentFor = pipe.connection.silentFor(Date.now());
    this.#evicting.add(pipe);
    this.#emit({ type: "evicted", endpoint, remote, limit, silentFor });
    pipe.connection.close(new PeerEvictedError(limit, silentFor));
  }

  // A connection came in on the last file descriptor: close the peer
  // silent longest, if any may be, and resolve once its descriptor is free;
  // else refuse the newcomer ("Server-full"), saying so once.
  async #atDescriptorLimit(
    listener: Listener,
    conn: Deno.TcpConn,
    roles: Roles,
  ): Promise<void> {
    const evictee = this.closed ? undefined : this.#evictee();
    if (evictee === undefined) {
      if (this.closed) {
        conn.close();
        return;
      }
      const remote = formatAddress(conn.remoteAddr as Deno.NetAddr);
      this.#refuse(
        listener,
        conn,
        remote,
        roles,
        "descriptors",
        "out of file descriptors with every peer busy",
      );
      return;
    }
    this.#evict(evictee, "descriptors");
    this.#accepted(listener, conn, roles);
    await withTimeout(evictee.connection.done, 100);
  }

  // accept() failed for want of file descriptors and no descriptor was held
  // in reserve: close the peer silent longest, if any may be, and resolve
  // true once its descriptor is free.
  async #outOfDescriptors(listener: Listener, error: Error): Promise<boolean> {
    const evictee = this.closed ? undefined : this.#evictee();
    if (evictee === undefined) {
      if (!this.#exhaustedSaid) {
        this.#exhaustedSaid = true;
        this.#emit({ type: "exhausted", endpoint: listener.endpoint, error });
      }
      return false;
    }
    this.#evict(evictee, "descriptors");
    await withTimeout(evictee.connection.done, 100);
    return true;
  }

  #open(conn: Deno.Conn, endpoint: string, options: ConnectionOptions): Pipe {
    const pipe = new Pipe(
      this.#pipeOwner,
      conn,
      endpoint,
      options,
      this.#options,
    );
    this.#pipes.add(pipe);
    this.#ticker ??= setInterval(this.#tick, this.#tickPeriod);
    return pipe;
  }

  // One timer per socket checks every connection's liveness.
  readonly #tick = (): void => {
    const now = Date.now();
    for (const pipe of this.#pipes) pipe.connection.tick(now);
  };

  #stopTicker(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  // What pipes tell the socket; an object of its own, so that none of it is
  // a public method.
  readonly #pipeOwner: PipeOwner = {
    pipeReady: (pipe) => {
      // A ZMTP/2.0 peer has no handshake to refuse: it is closed instead.
      if (this.#refusing.has(pipe)) {
        pipe.connection.close();
        return;
      }
      const { endpoint, remote, peerSocketType } = pipe.connection;
      this.#emit({ type: "ready", endpoint, remote, peerSocketType });
      if (!this.closed) this.#rules?.attach(pipe);
    },
    pipeReadable: (pipe) => this.#rules?.readable(pipe),
    pipeClosed: (pipe, error, wasReady) => {
      this.#pipes.delete(pipe);
      this.#evicting.delete(pipe);
      if (this.#pipes.size === 0) this.#stopTicker();
      if (this.#refusing.delete(pipe)) return;
      if (wasReady) this.#rules?.detach(pipe);
      const { endpoint, remote } = pipe.connection;
      this.#emit({ type: "disconnected", endpoint, remote, wasReady, error });
    },
  };
}

/**
 * Waits for `promise`, or for `ms` milliseconds if that comes first,
 * leaving no timer behind. A negative `ms` waits for ever.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  if (ms < 0) return await promise;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a waiter that rejects with `EAGAIN` after `timeout` milliseconds
 * (never, when negative). `onSettle` runs once when it settles either way.
 */
export function createWaiter<T>(
  timeout: number,
  action: string,
  onSettle: () => void,
): { waiter: Waiter<T>; promise: Promise<T> } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waiter: Waiter<T> = {
    resolve(value) {
      clearTimeout(timer);
      onSettle();
      resolve(value);
    },
    reject(error) {
      clearTimeout(timer);
      onSettle();
      reject(error);
    },
  };
  if (timeout >= 0) {
    timer = setTimeout(() => {
      waiter.reject(
        new SocketError(
          "EAGAIN",
          `Cannot ${action}: nothing within ${timeout} ms`,
        ),
      );
    }, timeout);
  }
  return { waiter, promise };
}
