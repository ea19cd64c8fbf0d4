/**
 * Why a connection could not be made or ended, in one line a user can act
 * on: connection refused, a name that does not resolve, no answer to the
 * connection request, a peer that is not ZeroMQ, a handshake refused (ERROR
 * and its reason), a CURVE key that does not match. The client's failures
 * and the server's connections to a broker are told in these words.
 *
 * @module
 */

import {
  CurveAuthorizationError,
  formatAddress,
  HandshakeClosedError,
  HandshakeRefusedError,
  MechanismMismatchError,
  parseEndpoint,
  PeerTimeoutError,
  ProtocolError,
} from "./zmtp/mod.ts";

/** How to name the other side, and what we use. */
export interface CauseOptions {
  /** Whether we use CURVE. */
  curve?: boolean;
  /** What the other side is to us: `server` (default) or `broker`. */
  peer?: string;
  /** The program we are, whose deno task grants the network: `client` (default) or `server`. */
  program?: string;
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
  const { curve = false, peer = "server", program = "client" } = options;
  const at = hostOf(endpoint);
  if (error instanceof Deno.errors.ConnectionRefused) {
    return `connection refused by ${at} (is the ${peer} running, on that port?)`;
  }
  if (error instanceof Deno.errors.TimedOut) {
    return `no answer from ${at} to the connection request (the host is down, or a firewall drops it)`;
  }
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    return `no permission to connect to ${at} (run Deno with --allow-net; deno task ${program} grants it)`;
  }
  if (/lookup address|resolve|Name or service not known/i.test(error.message)) {
    return `cannot resolve the host name in ${endpoint}`;
  }
  if (error instanceof HandshakeRefusedError) {
    const hint = error.reason === "400"
      ? " (this client's CURVE key is not on its allow-list)"
      : error.reason === "Invalid-socket-type"
      ? " (it is not a socket we may talk to)"
      : "";
    return `${at} refused the handshake with ERROR "${error.reason}"${hint}`;
  }
  if (error instanceof MechanismMismatchError) {
    if (error.offered === "CURVE") {
      return `${at} requires CURVE (give its public key with --curve-server-key)`;
    }
    return error.offered === "ZMTP/2.0"
      ? `${at} speaks ZMTP/2.0, which cannot carry CURVE`
      : `${at} offers ${error.offered}, not CURVE (is --curve-server-key meant for this server?)`;
  }
  if (error instanceof HandshakeClosedError) {
    switch (error.stage) {
      case "CURVE":
        return `${at} closed the connection during the CURVE handshake (is --curve-server-key its public key?)`;
      case "greeting":
        return curve
          ? `${at} closed the connection during the ZMTP greeting (does it use CURVE?)`
          : `${at} closed the connection during the ZMTP greeting (does it require CURVE? see --curve-server-key)`;
      case "connection":
        return `${at} closed the connection without a word (is it a ZeroMQ ${peer}?)`;
      default:
        return `${at} closed the connection during the handshake (is it a socket we may talk to?)`;
    }
  }
  if (error instanceof CurveAuthorizationError) return error.message;
  if (error instanceof PeerTimeoutError) {
    return `${at} went silent: ${error.message} (--heartbeat)`;
  }
  if (error instanceof ProtocolError) {
    return /greeting|signature|ZMTP\//i.test(error.message)
      ? `${at} is not a ZeroMQ peer: ${lowerFirst(error.message)}`
      : `${at} broke the protocol: ${lowerFirst(error.message)}`;
  }
  if (error instanceof Deno.errors.ConnectionReset) {
    return `${at} reset the connection`;
  }
  return `${at}: ${error.message}`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
