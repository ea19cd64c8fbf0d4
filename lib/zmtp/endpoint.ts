/**
 * Parsing and formatting of `tcp://host:port` endpoints.
 *
 * @module
 */

/** A TCP endpoint split into its parts. */
export interface TcpEndpoint {
  /** Host name or address, IPv6 without brackets; `*` is kept as given. */
  host: string;
  /** Port number; 0 asks the system for any free port (bind only). */
  port: number;
}

/**
 * Parses `tcp://host:port`. The host may be a name, an IPv4 address, an IPv6
 * address in brackets (`tcp://[::1]:2345`) or, as libzmq allows, without them
 * (`tcp://::1:2345`, split at the last colon), or `*` for every interface.
 *
 * @param endpoint the text to parse
 * @returns host and port
 * @throws {SyntaxError} when the text is not a TCP endpoint
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseEndpoint } from "./endpoint.ts";
 * assert.deepEqual(parseEndpoint("tcp://[::1]:2500"), { host: "::1", port: 2500 });
 * ```
 */
export function parseEndpoint(endpoint: string): TcpEndpoint {
  const fail = (why: string) =>
    new SyntaxError(`Cannot parse endpoint "${endpoint}": ${why}`);
  const match = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(endpoint);
  if (match === null) throw fail("expected tcp://host:port");
  if (match[1].toLowerCase() !== "tcp") {
    throw fail(`transport "${match[1]}" is not supported, only tcp`);
  }
  const address = match[2];
  const colon = address.lastIndexOf(":");
  if (colon === -1) throw fail("port is missing");
  let host = address.slice(0, colon);
  const portText = address.slice(colon + 1);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "") throw fail("host is missing");
  if (/[\s/\[\]]/.test(host)) throw fail(`host "${host}" is not valid`);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw fail(`port "${portText}" is not a number from 0 to 65535`);
  }
  return { host, port: Number(portText) };
}

/**
 * Formats host and port as an endpoint, bracketing IPv6 addresses (a host
 * given in brackets already keeps them).
 *
 * @param endpoint host and port
 * @returns `tcp://host:port`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEndpoint } from "./endpoint.ts";
 * assert.equal(formatEndpoint({ host: "::1", port: 2345 }), "tcp://[::1]:2345");
 * ```
 */
export function formatEndpoint({ host, port }: TcpEndpoint): string {
  const bracketed = host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return `tcp://${bracketed}:${port}`;
}

/**
 * Formats a peer's address as `host:port`, bracketing IPv6 hosts.
 *
 * @param address a `Deno.NetAddr`, or its host name and port
 * @returns `host:port`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatAddress } from "./mod.ts";
 * assert.equal(formatAddress({ hostname: "::1", port: 2345 }), "[::1]:2345");
 * ```
 */
export function formatAddress(
  address: Pick<Deno.NetAddr, "hostname" | "port">,
): string {
  const { hostname, port } = address;
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

/** The address `Deno.listen` should use for a bind host (`*` means all). */
export function listenHostname(host: string): string {
  return host === "*" ? "0.0.0.0" : host;
}

/**
 * True for hosts that only this machine can reach: `localhost`, 127.0.0.0/8,
 * `::1`.
 *
 * @param host a host name or address, IPv6 without brackets
 * @returns whether it is a loopback host
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopback } from "./mod.ts";
 * assert.equal(isLoopback("127.0.0.1"), true);
 * assert.equal(isLoopback("192.0.2.1"), false);
 * ```
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host) ||
    /^::ffff:127\./i.test(host);
}
