/**
 * Error types of the ZMTP engine.
 *
 * @module
 */

/** The codes a {@link SocketError} carries, named as libzmq and zeromq.js name them. */
export type SocketErrorCode =
  /** The socket is in the wrong state for this call (REQ/REP lockstep). */
  | "EFSM"
  /** A timeout passed before the message could be received or sent. */
  | "EAGAIN"
  /** Another `receive()` or `send()` is already waiting. */
  | "EBUSY"
  /** The socket is closed. */
  | "ETERM"
  /** The peer holding the pending request went away. */
  | "EHOSTUNREACH"
  /** The address is in use or cannot be bound. */
  | "EADDRINUSE"
  | "EADDRNOTAVAIL";

/**
 * A socket call that failed for a reason the caller can act on; branch on
 * `code` as with zeromq.js.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SocketError } from "./errors.ts";
 * const error = new SocketError("EAGAIN", "Cannot receive: no reply within 100 ms");
 * assert.equal(error.code, "EAGAIN");
 * ```
 */
export class SocketError extends Error {
  /** What went wrong, as a libzmq error name. */
  readonly code: SocketErrorCode;
  /** The endpoint of the peer concerned, when one is (`EHOSTUNREACH`). */
  readonly endpoint: string | undefined;

  /**
   * Creates a socket error with its code.
   *
   * @param code the libzmq error name
   * @param message what failed, in a sentence
   * @param endpoint the peer's endpoint, when the error concerns one
   */
  constructor(code: SocketErrorCode, message: string, endpoint?: string) {
    super(message);
    this.name = "SocketError";
    this.code = code;
    this.endpoint = endpoint;
  }
}

/**
 * A peer broke ZMTP (bad greeting, frame or command). Internal: it closes
 * that one connection and is reported through socket events, never thrown to
 * the application.
 */
export class ProtocolError extends Error {
  /**
   * Creates a protocol error.
   *
   * @param message what the peer did wrong
   */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * A peer sent a message larger than the socket's `maxMessageSize`; that
 * peer's connection is closed. Reported through socket events.
 */
export class MessageSizeError extends ProtocolError {
  /** The limit that was exceeded, in octets. */
  readonly limit: number;

  /**
   * Creates a message size error.
   *
   * @param message what the peer sent
   * @param limit the limit, in octets
   */
  constructor(message: string, limit: number) {
    super(message);
    this.name = "MessageSizeError";
    this.limit = limit;
  }
}

/** The error itself, or an Error carrying what was thrown. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A peer went silent: no traffic within the heartbeat timeout after a PING,
 * or within the TTL the peer itself asked for. Its connection is closed (a
 * connecting socket then reconnects). Reported through socket events.
 */
export class PeerTimeoutError extends Error {
  /**
   * Creates a peer timeout error.
   *
   * @param message how long the peer was silent
   */
  constructor(message: string) {
    super(message);
    this.name = "PeerTimeoutError";
  }
}

/**
 * A full server closed this peer's connection to make room for a new one:
 * of those it could close, this peer had been silent longest (see
 * `eviction.ts`). Reported through socket events.
 */
export class PeerEvictedError extends Error {
  /** Which limit was reached: the connection limit, or file descriptors. */
  readonly limit: "connections" | "descriptors";

  /**
   * Creates a peer evicted error.
   *
   * @param limit the limit that was reached
   * @param silentFor how long the peer had been silent, in milliseconds
   */
  constructor(limit: "connections" | "descriptors", silentFor: number) {
    super(
      `Closed to make room at the ${
        limit === "connections" ? "connection limit" : "file descriptor limit"
      }: silent for ${silentFor} ms`,
    );
    this.name = "PeerEvictedError";
    this.limit = limit;
  }
}

/**
 * The peer wants a security mechanism other than ours (NULL against CURVE),
 * or speaks ZMTP/2.0, which carries only NULL. Its connection is closed.
 */
export class MechanismMismatchError extends ProtocolError {
  /** What the peer offered: a mechanism name, or `ZMTP/2.0`. */
  readonly offered: string;
  /** Our mechanism. */
  readonly required: string;

  /**
   * Creates a mechanism mismatch error.
   *
   * @param offered the peer's mechanism, or `ZMTP/2.0`
   * @param required ours
   */
  constructor(offered: string, required: string) {
    super(
      offered === "ZMTP/2.0"
        ? `Peer speaks ZMTP/2.0, which cannot carry the ${required} mechanism`
        : `Peer asks for the ${offered} mechanism, and this socket uses ${required}`,
    );
    this.name = "MechanismMismatchError";
    this.offered = offered;
    this.required = required;
  }
}

/**
 * The peer closed the connection before the handshake was done: a server
 * that refuses us without ERROR (libzmq closes on a mechanism it cannot
 * use, such as a CURVE HELLO for another server key), or one that is not a
 * ZeroMQ peer at all.
 */
export class HandshakeClosedError extends ProtocolError {
  /**
   * How far the handshake got: `connection` (nothing received), `greeting`
   * (part of a ZMTP greeting), or the mechanism whose handshake was under
   * way (`NULL`, `CURVE`).
   */
  readonly stage: string;

  /**
   * Creates a handshake closed error.
   *
   * @param stage `connection`, `greeting`, or a mechanism's name
   */
  constructor(stage: string) {
    super(
      stage === "connection"
        ? "Peer closed the connection before sending anything"
        : stage === "greeting"
        ? "Peer closed the connection during the greeting"
        : `Peer closed the connection during the ${stage} handshake`,
    );
    this.name = "HandshakeClosedError";
    this.stage = stage;
  }
}

/**
 * The CURVE server refused a client's long-term key: its `authorize` said
 * no. The connection sends ERROR "400" and closes; `publicKey` lets the
 * server report each refused key once.
 */
export class CurveAuthorizationError extends ProtocolError {
  /** The refused client's long-term public key, in Z85. */
  readonly publicKey: string;

  /**
   * Creates a CURVE authorization error.
   *
   * @param publicKey the client's public key in Z85
   */
  constructor(publicKey: string) {
    super(`Client key "${publicKey}" is not authorized`);
    this.name = "CurveAuthorizationError";
    this.publicKey = publicKey;
  }
}

/**
 * A CURVE client's HELLO does not open with our key: it was given another
 * public key for this server. Its connection is closed (RFC 26 has no
 * ERROR for it: we do not know who it is).
 */
export class CurveKeyMismatchError extends ProtocolError {
  /** Creates a CURVE key mismatch error. */
  constructor() {
    super("HELLO signature does not open: the client has another server key");
    this.name = "CurveKeyMismatchError";
  }
}

/**
 * The peer's first octets are not a ZMTP greeting: it is not a ZeroMQ peer
 * (or speaks ZMTP/1.0). Its connection is closed.
 */
export class GreetingError extends ProtocolError {
  /**
   * Creates a greeting error.
   *
   * @param message what the peer sent instead
   */
  constructor(message: string) {
    super(message);
    this.name = "GreetingError";
  }
}

/**
 * A host name could not be resolved to an address. `code` is the resolver's
 * (as Node's `dns` names them): `ENOTFOUND` when the name does not exist
 * (EAI_NONAME, NXDOMAIN), which waiting seldom cures; `EAI_AGAIN` for a
 * temporary failure (no DNS server answered), which it may.
 *
 * Deno's `Deno.connect()` throws a plain `Error` for both; the dialer asks
 * the resolver again through `node:dns` to learn which it was.
 */
export class HostLookupError extends Error {
  /** The resolver's code: `ENOTFOUND`, `EAI_AGAIN`, `EAI_FAIL`, ... */
  readonly code: string;
  /** The host name that did not resolve. */
  readonly hostname: string;

  /**
   * Creates a host lookup error with the resolver's code.
   *
   * @param hostname the name looked up
   * @param code the resolver's code
   * @param cause the error the connect attempt failed with
   */
  constructor(hostname: string, code: string, cause?: unknown) {
    super(
      code === "ENOTFOUND"
        ? `Cannot resolve "${hostname}": no such host`
        : `Cannot resolve "${hostname}": ${code}`,
      { cause },
    );
    this.name = "HostLookupError";
    this.code = code;
    this.hostname = hostname;
  }
}
