/**
 * What the server says on stderr about its peers: each kind of trouble once,
 * so that a flood of bad peers cannot flood the log, and refused CURVE keys
 * once each, up to a bound. Trouble reaching a broker (`--connect`) is told
 * in the client's words (lib/causes.ts), once per cause.
 *
 * @module
 */

import { causeOf } from "./causes.ts";
import type { LineWriter } from "./line_writer.ts";
import {
  CurveAuthorizationError,
  CurveKeyMismatchError,
  HandshakeRefusedError,
  MechanismMismatchError,
  MessageSizeError,
  PeerTimeoutError,
  type SocketEvent,
} from "./zmtp/mod.ts";

/**
 * Unknown client keys named before the server stops naming them: each costs
 * a line, and a hostile client can make up keys for ever.
 */
export const MAX_KEYS_SAID = 100;

// Mechanisms libzmq knows, and ZMTP/2.0 (which carries only NULL).
const KNOWN_MECHANISMS = ["NULL", "PLAIN", "CURVE", "GSSAPI", "ZMTP/2.0"];

/** What {@link Notices} needs to know of the server. */
export interface NoticesOptions {
  /** Where the lines go. */
  err: LineWriter;
  /** The allow-list's directory, when there is one. */
  allowDirectory?: string;
  /** The brokers' endpoints (`--connect`). */
  brokers: readonly string[];
  /** Whether the connections to brokers use CURVE. */
  brokerCurve: boolean;
  /** A broker refused us for good (RFC 37): it is not dialed again. */
  onBrokerStopped?: (endpoint: string) => void;
}

/** Turns socket events into the server's stderr lines. */
export class Notices {
  readonly #options: NoticesOptions;
  readonly #said = new Set<string>();
  #keysSaid = 0;

  /**
   * @param options where to write, and what the server is
   */
  constructor(options: NoticesOptions) {
    this.#options = options;
  }

  /** Takes a socket event; the sockets' `onEvent`. */
  readonly onEvent = (event: SocketEvent): void => {
    const { brokers } = this.#options;
    switch (event.type) {
      case "refused":
        this.#once(
          `refused ${event.limit}`,
          event.limit === "descriptors"
            ? `refusing connections: ${event.reason} (raise ulimit -n)`
            : `refusing connections: ${event.reason} (--max-connections)`,
        );
        break;
      case "evicted":
        this.#once(
          `evicted ${event.limit}`,
          event.limit === "descriptors"
            ? "out of file descriptors (raise ulimit -n): closing the peer silent longest, of those idle or that cannot be pinged, to make room for each new one"
            : "at --max-connections: closing the peer silent longest, of those idle or that cannot be pinged, to make room for each new one",
        );
        break;
      case "exhausted":
        this.#once(
          "exhausted",
          "out of file descriptors (raise ulimit -n) with every peer busy: new connections wait",
        );
        break;
      case "retrying":
        if (event.error !== undefined && brokers.includes(event.endpoint)) {
          this.#broker(event.endpoint, event.error, "; retrying");
        }
        break;
      case "stopped":
        this.#options.err.line(
          `server: no longer takes requests from ${event.endpoint}: ${
            event.error === undefined
              ? "refused"
              : this.#cause(event.endpoint, event.error)
          } (${
            event.error === undefined ||
              event.error instanceof HandshakeRefusedError
              ? "RFC 37: "
              : ""
          }not tried again)`,
        );
        this.#options.onBrokerStopped?.(event.endpoint);
        break;
      case "disconnected":
        this.#disconnected(event);
        break;
      case "error": {
        const from = event.peer ? ` from ${event.peer.remote}` : "";
        this.#once("error", `a request${from} failed: ${event.error.message}`);
        break;
      }
    }
  };

  #disconnected(event: Extract<SocketEvent, { type: "disconnected" }>): void {
    const error = event.error;
    if (error === undefined) return;
    if (error instanceof MessageSizeError) {
      this.#once(
        "size",
        `dropped a peer that sent a message over ${error.limit} octets (--max-message-size)`,
      );
    } else if (error instanceof PeerTimeoutError) {
      this.#once(
        "silent",
        `dropped a silent peer: ${error.message} (--heartbeat)`,
      );
    } else if (error instanceof CurveAuthorizationError) {
      this.#refusedKey(error.publicKey);
    } else if (error instanceof MechanismMismatchError) {
      // The name is the peer's to choose: known ones each once, any other
      // under one heading, or a peer could flood the log with made-up names.
      const kind = KNOWN_MECHANISMS.includes(error.offered)
        ? error.offered
        : "other";
      this.#once(
        `mechanism ${kind}`,
        error.offered === "ZMTP/2.0"
          ? `refused a ZMTP/2.0 peer from ${event.remote}: ZMTP/2.0 cannot carry CURVE`
          : `refused a peer from ${event.remote} that asks for ${error.offered}; this server requires ${error.required}`,
      );
    } else if (error instanceof CurveKeyMismatchError) {
      this.#once(
        "server key",
        `refused a CURVE client from ${event.remote}: it has another public key for this server`,
      );
    } else if (this.#options.brokers.includes(event.endpoint)) {
      this.#broker(event.endpoint, error, "");
    }
  }

  #refusedKey(publicKey: string): void {
    if (this.#said.has(publicKey) || this.#keysSaid === MAX_KEYS_SAID) return;
    this.#keysSaid++;
    const { allowDirectory } = this.#options;
    const where = allowDirectory === undefined
      ? ""
      : `: not in ${allowDirectory}`;
    this.#once(
      publicKey,
      `refused the client key ${publicKey}${where}`,
      this.#keysSaid === MAX_KEYS_SAID
        ? "said once per key; no more keys will be named"
        : "said once per key",
    );
  }

  #broker(endpoint: string, error: Error, then: string): void {
    const cause = this.#cause(endpoint, error);
    this.#once(`broker ${cause}`, `${endpoint}: ${cause}${then}`);
  }

  #cause(endpoint: string, error: Error): string {
    return causeOf(endpoint, error, {
      peer: "broker",
      program: "server",
      curve: this.#options.brokerCurve,
    });
  }

  #once(kind: string, text: string, what = "said once"): void {
    if (this.#said.has(kind)) return;
    this.#said.add(kind);
    this.#options.err.line(`server: ${text} (${what})`);
  }
}
