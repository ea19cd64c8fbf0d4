/**
 * TCP underneath the sockets: an accept loop for `bind`, and a dialer with
 * reconnect and capped, jittered backoff for `connect`. Knows nothing of
 * ZMTP.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { asError, HostLookupError, SocketError } from "./errors.ts";
import { formatEndpoint, listenHostname, parseEndpoint } from "./endpoint.ts";

/** A bound endpoint accepting connections. */
export interface Listener {
  /** The endpoint actually bound (port 0 replaced by the chosen port). */
  readonly endpoint: string;
  /** Stops accepting; connections already accepted stay open. */
  close(): Promise<void>;
}

// Every connection: Nagle's algorithm off (requests are small and each
// waits for its reply), and TCP keepalive on, so that the system too
// notices a vanished peer (late: hours by default; heartbeats do it sooner,
// and are all a ZMTP/2.0 peer gets).
function tune(conn: Deno.TcpConn): void {
  conn.setNoDelay(true);
  conn.setKeepAlive(true);
}

/**
 * Whether an error means the process (EMFILE) or the system (ENFILE) is
 * out of file descriptors.
 */
export function isOutOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** What a listener does when file descriptors run out. */
export interface DescriptorLimit {
  /**
   * A connection came in on the last descriptor: make room (or refuse it),
   * and resolve once a descriptor may be free again.
   */
  atLimit(conn: Deno.TcpConn): Promise<void>;
  /**
   * accept() failed for want of descriptors with none held in reserve:
   * resolve true once room was made (accepting resumes at once).
   */
  exhausted(error: Error): Promise<boolean>;
}

// A descriptor held in reserve (a listener on a free loopback port): when
// accept() fails for want of descriptors, which Linux reports whether or
// not a connection waits, it is closed so that the next accept() takes the
// connection that comes, if one does; the limit is then known to be
// reached. Undefined when none can be had.
function reserve(): Deno.Listener | undefined {
  try {
    return Deno.listen({ hostname: "127.0.0.1", port: 0 });
  } catch {
    return undefined;
  }
}

/**
 * Binds `endpoint` and hands every accepted connection, with Nagle's
 * algorithm off and keepalive on, to `accepted`.
 *
 * @param endpoint `tcp://host:port`; `*` binds every interface, port 0 any port
 * @param accepted called for each new connection
 * @param limit what to do when file descriptors run out; without it,
 * accepting pauses and retries
 * @returns the listener, once bound
 * @throws {SocketError} `EADDRINUSE` or `EADDRNOTAVAIL` when it cannot bind
 * @throws {SyntaxError} when the endpoint cannot be parsed
 */
export function listen(
  endpoint: string,
  accepted: (conn: Deno.TcpConn) => void,
  limit?: DescriptorLimit,
): Listener {
  const { host, port } = parseEndpoint(endpoint);
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: listenHostname(host), port });
  } catch (error) {
    throw bindError(endpoint, error);
  }
  const bound = formatEndpoint({
    host,
    port: (listener.addr as Deno.NetAddr).port,
  });
  let closed = false;
  let spare = limit === undefined ? undefined : reserve();
  const loop = (async () => {
    while (!closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) return;
        if (limit !== undefined && isOutOfDescriptors(error)) {
          if (spare !== undefined) {
            spare.close();
            spare = undefined;
            continue;
          }
          if (await limit.exhausted(asError(error))) continue;
        }
        // No room made, or another passing failure: wait, then try again.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (closed) {
        conn.close();
        return;
      }
      tune(conn);
      if (limit !== undefined && spare === undefined) spare = reserve();
      if (limit !== undefined && spare === undefined) {
        await limit.atLimit(conn);
        spare = reserve();
      } else {
        accepted(conn);
      }
    }
  })();
  return {
    endpoint: bound,
    async close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await loop;
      spare?.close();
      spare = undefined;
    },
  };
}

function bindError(endpoint: string, error: unknown): Error {
  const why = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.AddrInUse) {
    return new SocketError(
      "EADDRINUSE",
      `Cannot bind "${endpoint}": address already in use`,
    );
  }
  return new SocketError(
    "EADDRNOTAVAIL",
    `Cannot bind "${endpoint}": ${why}`,
  );
}

/** Connect timing, as libzmq's `ZMQ_RECONNECT_IVL`, `_MAX` and `ZMQ_CONNECT_TIMEOUT`. */
export interface DialOptions extends BackoffOptions {
  /**
   * Milliseconds one connect attempt may take before it is abandoned; 0
   * leaves it to the system (over two minutes against a host that drops
   * connection requests).
   */
  connectTimeout: number;
}

/** Reconnect timing, as libzmq's `ZMQ_RECONNECT_IVL` and `_MAX`. */
export interface BackoffOptions {
  /** The first delay, in milliseconds; negative: no reconnection. */
  reconnectInterval: number;
  /** The cap the delay doubles up to, in milliseconds; 0 keeps it fixed. */
  reconnectMaxInterval: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 first): the interval
 * doubled per attempt up to the cap, plus random jitter of up to one
 * interval so that many clients do not reconnect in step.
 *
 * @param attempt how many attempts failed in a row
 * @param options the interval and its cap
 * @param random a source of numbers in [0, 1)
 * @returns milliseconds to wait
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./transport.ts";
 * const options = { reconnectInterval: 100, reconnectMaxInterval: 1000 };
 * backoffDelay(3, options, () => 0); // 800
 * backoffDelay(9, options, () => 0); // 1000
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = options.reconnectInterval;
  const cap = Math.max(options.reconnectMaxInterval, base);
  const grown = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.round(grown + random() * base);
}

/**
 * What a dialer does after a connection ends: `reset` the backoff (the
 * connection got somewhere), `retry` with a growing delay, or `stop` (the
 * peer refused us for good).
 */
export type AfterConnection = "reset" | "retry" | "stop";

/** Callbacks of a {@link Dialer}. */
export interface DialerHandler {
  /** A TCP connection was made; resolve when it has ended. */
  connected(conn: Deno.TcpConn): Promise<AfterConnection>;
  /** An attempt failed or a connection ended; the next comes after `delay`. */
  retrying(delay: number, error: Error | undefined): void;
  /**
   * Dialing stopped for good: the peer refused us, or the error cannot
   * improve by waiting (no permission to connect).
   */
  stopped(error: Error | undefined): void;
}

/** Connect errors that retrying cannot cure. */
function isPermanent(error: Error): boolean {
  return error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied;
}

/**
 * Keeps one outgoing connection to an endpoint: connects, and when that
 * fails or the connection ends, tries again after {@link backoffDelay}.
 * The peer need not exist yet. Every attempt can be cancelled: `close()`
 * returns at once, whatever the network does.
 */
export class Dialer {
  /** The endpoint dialed. */
  readonly endpoint: string;
  readonly #host: string;
  readonly #port: number;
  readonly #options: DialOptions;
  readonly #handler: DialerHandler;
  #closed = false;
  readonly #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  readonly #loop: Promise<void>;

  /**
   * Starts dialing at once, or once `ready` resolves.
   *
   * @param endpoint `tcp://host:port`
   * @param options connect timeout and reconnect timing
   * @param ready what must be done first (a mechanism's set-up); if it
   * rejects, dialing stops with that error
   * @param handler receives each connection and each retry
   * @throws {SyntaxError} when the endpoint cannot be parsed
   */
  constructor(
    endpoint: string,
    options: DialOptions,
    ready: Promise<void>,
    handler: DialerHandler,
  ) {
    const { host, port } = parseEndpoint(endpoint);
    if (host === "*" || port === 0) {
      throw new SyntaxError(
        `Cannot connect to "${endpoint}": a concrete host and port are needed`,
      );
    }
    this.endpoint = endpoint;
    this.#host = host;
    this.#port = port;
    this.#options = options;
    this.#handler = handler;
    this.#loop = this.#start(ready);
  }

  async #start(ready: Promise<void>): Promise<void> {
    try {
      await ready;
    } catch (error) {
      if (!this.#closed) this.#handler.stopped(asError(error));
      return;
    }
    await this.#run();
  }

  /**
   * Stops dialing, cancelling an attempt under way; a connection already
   * made is the caller's to close.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort.abort();
    clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      let error: Error | undefined;
      try {
        const conn = await this.#connect();
        if (this.#closed) {
          conn.close();
          return;
        }
        tune(conn);
        const after = await this.#handler.connected(conn);
        if (after === "stop") {
          this.#handler.stopped(undefined);
          return;
        }
        failures = after === "reset" ? 0 : failures + 1;
      } catch (caught) {
        if (this.#closed) return;
        error = asError(caught);
        if (isPermanent(error)) {
          this.#handler.stopped(error);
          return;
        }
        failures++;
      }
      if (this.#closed) return;
      // libzmq's ZMQ_RECONNECT_IVL of -1: no reconnection.
      if (this.#options.reconnectInterval < 0) {
        this.#handler.stopped(error);
        return;
      }
      const delay = backoffDelay(
        Math.max(0, failures - 1),
        this.#options,
      );
      this.#handler.retrying(delay, error);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
    }
  }

  // One attempt, abandoned after the connect timeout or on close().
  async #connect(): Promise<Deno.TcpConn> {
    const limit = this.#options.connectTimeout;
    const attempt = new AbortController();
    const onClose = () => attempt.abort();
    this.#abort.signal.addEventListener("abort", onClose);
    const timer = limit > 0
      ? setTimeout(
        () =>
          attempt.abort(
            new Deno.errors.TimedOut(
              `Cannot connect to "${this.endpoint}": no answer within ${limit} ms`,
            ),
          ),
        limit,
      )
      : undefined;
    try {
      return await Deno.connect({
        hostname: this.#host,
        port: this.#port,
        signal: attempt.signal,
      });
    } catch (error) {
      throw await lookupError(this.#host, error, attempt.signal);
    } finally {
      clearTimeout(timer);
      this.#abort.signal.removeEventListener("abort", onClose);
    }
  }
}

/**
 * What a failed connect to `hostname` was: a {@link HostLookupError} with
 * the resolver's code when the name did not resolve, else `error` itself.
 * Deno 2.9's `Deno.connect()` throws a plain `Error` for a name that does
 * not exist and for a resolver that did not answer alike; `node:dns`'s
 * `lookup()` tells them apart by code (`ENOTFOUND`, `EAI_AGAIN`). Asked only
 * after such a failure, and given up with the attempt.
 */
async function lookupError(
  hostname: string,
  error: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  // Deno's own classes (refused, timed out, no permission, aborted) and IP
  // literals need no lookup.
  if (
    !(error instanceof Error) || error.constructor !== Error ||
    signal.aborted || isIpLiteral(hostname)
  ) {
    return error;
  }
  let onAbort = () => {};
  const aborted = new Promise<undefined>((resolve) => {
    onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const code = await Promise.race([
      lookup(hostname).then(
        () => undefined,
        (failure: { code?: unknown }) =>
          typeof failure?.code === "string" ? failure.code : undefined,
      ),
      aborted,
    ]);
    return code === undefined
      ? error
      : new HostLookupError(hostname, code, error);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
