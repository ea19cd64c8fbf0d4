/**
 * A client that never hangs and says why (the ZeroMQ guide's "Lazy
 * Pirate"): each request waits a while for its reply, is tried again on a
 * fresh socket after a timeout, and at once elsewhere when its server goes
 * away. It watches its sockets' events, so that a request that gets no reply
 * ends with the real cause in one line: connection refused, a name that
 * does not resolve, a peer that is not ZeroMQ, a handshake refused, or no
 * reply in time. A server whose cause waiting cannot cure (no permission,
 * a refusal with ERROR, a name that does not exist, another mechanism or
 * key, not a ZeroMQ peer) is not tried again; when no server is left, the
 * request ends at once. A full server is tried again.
 *
 * @module
 */

import { type CauseOptions, classify, hostOf } from "./causes.ts";
import {
  HandshakeClosedError,
  Request,
  type RequestOptions,
  SocketError,
  type SocketEvent,
} from "./zmtp/mod.ts";

/** What a {@link LazyPirate} needs. */
export interface LazyPirateOptions {
  /** The servers, tried round-robin. */
  endpoints: string[];
  /** Milliseconds each try waits for its reply. */
  timeout: number;
  /** Tries per request. */
  tries: number;
  /** Options for each socket (heartbeats, CURVE keys). */
  socket?: RequestOptions;
  /** The server's public key in Z85, to name when a server holds another. */
  serverKey?: string;
  /** Told each try's outcome, for `--verbose`. */
  onTry?: (text: string) => void;
}

/** How a request ended. */
export type Outcome =
  | { reply: Uint8Array; from: string }
  | { failure: string; fatal: boolean };

/**
 * Sends requests with retries. A try that times out closes and reopens the
 * socket, so that a late reply can never be matched to a later request; a
 * try whose server went away is sent again at once, to a server that is up.
 */
export class LazyPirate {
  readonly #options: LazyPirateOptions;
  #socket: Request;
  // The latest reason a try could not complete, from the socket's events.
  #cause: string | undefined;
  // Endpoints not tried again, and why.
  readonly #stopped = new Map<string, string>();
  #fatal: string | undefined;
  // Connections made whose handshake has not completed yet.
  readonly #greeting = new Set<string>();
  readonly #causeOptions: CauseOptions;
  #stale = false;

  /**
   * @param options servers, timing and socket options
   */
  constructor(options: LazyPirateOptions) {
    this.#options = options;
    this.#causeOptions = {
      curve: options.socket?.curveServerKey !== undefined,
      serverKey: options.serverKey,
    };
    this.#socket = this.#open();
  }

  #open(): Request {
    const socket = new Request({
      ...this.#options.socket,
      receiveTimeout: this.#options.timeout,
      linger: 0,
      onEvent: (event) => this.#observe(event),
    });
    // A server that refused us with ERROR (RFC 37), or that waiting cannot
    // cure, is not dialed again, not even by the fresh socket of a later try.
    for (const endpoint of this.#options.endpoints) {
      if (!this.#stopped.has(endpoint)) socket.connect(endpoint);
    }
    return socket;
  }

  /**
   * Sends one request and waits for its reply, trying again as needed.
   *
   * @param request the request's body
   * @returns the reply, or why there is none
   */
  async ask(request: Uint8Array): Promise<Outcome> {
    const { tries, timeout, onTry } = this.#options;
    let why = "";
    let closedEachTime = true;
    for (let attempt = 1; attempt <= tries; attempt++) {
      if (this.#fatal !== undefined) {
        return { failure: this.#fatal, fatal: true };
      }
      // A fresh socket for a try after a timeout, opened only when it is
      // needed: none is left connecting after the last try.
      if (this.#stale) {
        this.#socket = this.#open();
        this.#stale = false;
      }
      this.#cause = undefined;
      await this.#socket.send(request);
      try {
        const [reply = new Uint8Array(0)] = await this.#socket.receive();
        return { reply, from: this.#socket.lastPeer ?? "" };
      } catch (error) {
        if (!(error instanceof SocketError)) throw error;
        if (this.#fatal !== undefined) {
          return { failure: this.#fatal, fatal: true };
        }
        if (error.code === "EHOSTUNREACH") {
          why = `${
            hostOf(error.endpoint ?? "")
          } closed the connection before replying`;
        } else if (error.code === "EAGAIN") {
          closedEachTime = false;
          // A request that reached a server ready for it timed out there,
          // whatever other servers did meanwhile.
          why = this.#socket.peerCount > 0
            ? `no reply within ${timeout} ms`
            : this.#cause ?? this.#silence(timeout);
          await this.#socket.close();
          this.#stale = true;
        } else {
          throw error;
        }
        onTry?.(`try ${attempt} of ${tries}: ${why}`);
      }
    }
    if (closedEachTime && tries > 1) {
      why += ` each time (a server closes the connection on a request over` +
        ` its --max-message-size; this one is ${request.length} octets)`;
    }
    return {
      failure: `no reply after ${tries} ${
        tries === 1 ? "try" : "tries"
      }: ${why}`,
      fatal: false,
    };
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return this.#socket.close();
  }

  // Why a try timed out before any server was ready, when no event said.
  #silence(timeout: number): string {
    if (this.#greeting.size > 0) {
      const at = [...this.#greeting].map(hostOf).join(", ");
      return `${at} took the connection but did not greet within ${timeout} ms (a hung server, or not a ZeroMQ one)`;
    }
    const at = this.#options.endpoints.map(hostOf).join(", ");
    return `no connection to ${at} within ${timeout} ms`;
  }

  #observe(event: SocketEvent): void {
    switch (event.type) {
      case "connected":
        this.#greeting.add(event.endpoint);
        break;
      case "ready":
        this.#greeting.delete(event.endpoint);
        break;
      case "retrying":
        if (event.error) this.#learn(event.endpoint, event.error);
        break;
      case "disconnected":
        this.#greeting.delete(event.endpoint);
        // A hang-up says less than what came before it (the two sides see
        // a mismatch at about the same time; whoever closes first wins).
        if (
          event.error &&
          !(event.error instanceof HandshakeClosedError &&
            this.#cause !== undefined)
        ) {
          this.#learn(event.endpoint, event.error);
        }
        break;
      case "stopped":
        this.#stop(
          event.endpoint,
          event.error === undefined
            ? `${hostOf(event.endpoint)} refused this client`
            : classify(event.endpoint, event.error, this.#causeOptions).text,
        );
        break;
    }
  }

  // What an event's error says; a cause waiting cannot cure stops that
  // endpoint.
  #learn(endpoint: string, error: Error): void {
    const { text, final } = classify(endpoint, error, this.#causeOptions);
    if (!final) {
      this.#cause = text;
      return;
    }
    if (this.#stopped.has(endpoint)) return;
    void this.#socket.disconnect(endpoint);
    this.#stop(endpoint, text);
  }

  // An endpoint is not tried again, by this socket or a later one.
  #stop(endpoint: string, cause: string): void {
    this.#stopped.set(endpoint, cause);
    this.#cause = cause;
    // Nothing left to try: end the request now, not at its timeout.
    if (this.#stopped.size === new Set(this.#options.endpoints).size) {
      this.#fatal = [...this.#stopped.values()].join("; ");
      void this.#socket.close();
    }
  }
}
