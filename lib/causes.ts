/**
 * Why a connection could not be made or ended, in one line a user can act
 * on: connection refused, a name that does not resolve, no answer to the
 * connection request, a peer that is not ZeroMQ, a handshake refused (ERROR
 * and its reason), a server that is full, a CURVE key that does not match.
 * The client's failures and the server's connections to a broker are told
 * in these words.
 *
 * Each cause is known by its error's class or code (Deno's error classes,
 * the engine's typed errors), never by the words of its message, and says
 * whether waiting can help.
 *
 * @module
 */

import {
  CurveAuthorizationError,
  formatAddress,
  GreetingError,
  HandshakeClosedError,
  HandshakeRefusedError,
  HostLookupError,
  MechanismMismatchError,
  parseEndpoint,
  PeerTimeoutError,
  ProtocolError,
  ServerFullError,
} from "./zmtp/mod.ts";

/** How to name the other side, and what we use. */
export interface CauseOptions {
  /** Whether we use CURVE. */
  curve?: boolean;
  /** The server's public key we were given (Z85), to name when it is wrong. */
  serverKey?: string;
  /** What the other side is to us: `server` (default) or `broker`. */
  peer?: string;
  /** The program we are, whose deno task grants the network: `client` (default) or `server`. */
  program?: string;
}

/** A cause in words, and whether a later try could end otherwise. */
export interface Cause {
  /** One line a user can act on. */
  text: string;
  /**
   * True when trying again cannot help: the name does not exist, the server
   * wants another mechanism or holds another key, the peer is not ZeroMQ.
   */
  final: boolean;
}

/** `host:port` of an endpoint, IPv6 hosts in brackets. */
export function hostOf(endpoint: string): string {
  try {
    const { host, port } = parseEndpoint(endpoint);
    return formatAddress({ hostname: host, port });
  } catch {
    return endpoint;
  }
}

/**
 * Why a connect attempt failed or a connection ended, in one line a user
 * can act on.
 *
 * @param endpoint the endpoint concerned
 * @param error what the socket's event carried
 * @param options whether we use CURVE, and what the other side is to us
 */
export function causeOf(
  endpoint: string,
  error: Error,
  options: CauseOptions = {},
): string {
  return classify(endpoint, error, options).text;
}

/**
 * Why a connect attempt failed or a connection ended, and whether trying
 * again could help.
 *
 * @param endpoint the endpoint concerned
 * @param error what the socket's event carried
 * @param options whether we use CURVE, and what the other side is to us
 */
export function classify(
  endpoint: string,
  error: Error,
  options: CauseOptions = {},
): Cause {
  const { curve = false, peer = "server", program = "client" } = options;
  const at = hostOf(endpoint);
  const retry = (text: string): Cause => ({ text, final: false });
  const stop = (text: string): Cause => ({ text, final: true });
  const key = options.serverKey === undefined
    ? "the --curve-server-key given"
    : `${options.serverKey} (--curve-server-key)`;
  if (error instanceof Deno.errors.ConnectionRefused) {
    return retry(
      `connection refused by ${at} (is the ${peer} running, on that port?)`,
    );
  }
  if (error instanceof Deno.errors.TimedOut) {
    return retry(
      `no answer from ${at} to the connection request (the host is down, or a firewall drops it)`,
    );
  }
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    return stop(
      `no permission to connect to ${at} (run Deno with --allow-net; deno task ${program} grants it)`,
    );
  }
  if (error instanceof HostLookupError) {
    return error.code === "ENOTFOUND"
      ? stop(
        `cannot resolve "${error.hostname}": no such host (in ${endpoint})`,
      )
      : retry(
        `cannot resolve "${error.hostname}" for now: the resolver says ${error.code} (is DNS reachable?)`,
      );
  }
  if (error instanceof ServerFullError) {
    return retry(
      `${at} is full: it refused the connection with ERROR "${error.reason}" (its --max-connections)`,
    );
  }
  if (error instanceof HandshakeRefusedError) {
    // A JeroMQ CURVE server answers a HELLO for another key with an empty
    // ERROR.
    if (curve && error.reason === "") {
      return stop(
        `${at} refused the CURVE handshake with an empty ERROR: its public key is not ${key}`,
      );
    }
    const hint = error.reason === "400"
      ? " (this client's CURVE key is not on its allow-list)"
      : error.reason === "Invalid-socket-type"
      ? " (it is not a socket we may talk to)"
      : "";
    return stop(
      `${at} refused the handshake with ERROR "${error.reason}"${hint}`,
    );
  }
  if (error instanceof MechanismMismatchError) {
    if (error.offered === "CURVE") {
      return stop(
        `${at} requires CURVE (give its public key with --curve-server-key)`,
      );
    }
    return stop(
      error.offered === "ZMTP/2.0"
        ? `${at} speaks ZMTP/2.0, which cannot carry CURVE`
        : `${at} offers ${error.offered}, not CURVE (is --curve-server-key meant for this server?)`,
    );
  }
  if (error instanceof HandshakeClosedError) {
    switch (error.stage) {
      // libzmq and server.ts close on a HELLO for another server key.
      case "CURVE":
        return stop(
          `${at} closed the connection during the CURVE handshake: its public key is not ${key}`,
        );
      // Two sides that see a mechanism mismatch close at about the same
      // time: whoever closes first leaves the other only this.
      case "greeting":
        return stop(
          curve
            ? `${at} closed the connection during the ZMTP greeting (does it use CURVE?)`
            : `${at} closed the connection during the ZMTP greeting (does it require CURVE? see --curve-server-key)`,
        );
      case "connection":
        return retry(
          `${at} closed the connection without a word (is it a ZeroMQ ${peer}?)`,
        );
      default:
        return retry(
          `${at} closed the connection during the handshake (is it a socket we may talk to?)`,
        );
    }
  }
  if (error instanceof CurveAuthorizationError) return stop(error.message);
  if (error instanceof PeerTimeoutError) {
    return retry(`${at} went silent: ${error.message} (--heartbeat)`);
  }
  if (error instanceof GreetingError) {
    return stop(`${at} is not a ZeroMQ peer: ${lowerFirst(error.message)}`);
  }
  if (error instanceof ProtocolError) {
    return retry(`${at} broke the protocol: ${lowerFirst(error.message)}`);
  }
  if (error instanceof Deno.errors.ConnectionReset) {
    return retry(`${at} reset the connection`);
  }
  return retry(`${at}: ${error.message}`);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
