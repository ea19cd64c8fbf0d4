/**
 * A ZMTP 3.1 engine for Deno: REQ and REP sockets over TCP that speak with
 * libzmq and its bindings byte for byte. Written on Deno's own TCP API, with
 * no native code.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reply, Request } from "./mod.ts";
 *
 * await using reply = new Reply();
 * const endpoint = await reply.bind("tcp://127.0.0.1:0");
 * reply.serve(([request]) => request);
 *
 * await using request = new Request({ receiveTimeout: 1000 });
 * request.connect(endpoint);
 * await request.send("hello");
 * const [echo] = await request.receive();
 * assert.equal(new TextDecoder().decode(echo), "hello");
 * ```
 *
 * CURVE (RFC 26) encrypts and authenticates: the server has a key pair, and
 * each client knows the server's public key. {@link curveKeyPair} makes key
 * pairs, as in zeromq.js; {@link writeCertificate} and
 * {@link readCertificate} keep them in the certificate files that pyzmq and
 * czmq use. Events are an async iterable, `socket.events`.
 *
 * @module
 */

export { Reply, type RequestHandler, type ServeOptions } from "./rep.ts";
export { Request, type RequestOptions } from "./req.ts";
export type { PeerInfo } from "./pipe.ts";
export {
  type MessageLike,
  Socket,
  type SocketEvent,
  type SocketOptions,
} from "./socket.ts";
export { SOCKET_EVENT_LIMIT, type SocketEventStream } from "./socket_events.ts";
export {
  HandshakeRefusedError,
  SERVER_FULL,
  ServerFullError,
  type SocketType,
} from "./mechanism.ts";
export {
  CurveAuthorizationError,
  CurveKeyMismatchError,
  GreetingError,
  HandshakeClosedError,
  HostLookupError,
  MechanismMismatchError,
  MessageSizeError,
  PeerEvictedError,
  PeerTimeoutError,
  ProtocolError,
  SocketError,
  type SocketErrorCode,
} from "./errors.ts";
export {
  type CurveKeyPair,
  curveKeyPair,
  decodeZ85Key,
  encodeZ85Key,
  generateKeyPair,
  keyPairFromZ85,
  publicKeyFromSecret,
  type Z85KeyPair,
} from "./curve_keys.ts";
export {
  type Certificate,
  type CertificateFiles,
  formatCertificate,
  parseCertificate,
  readCertificate,
  readPublicKeys,
  writeCertificate,
  type WriteCertificateOptions,
} from "./curve_keys.ts";
export {
  formatAddress,
  formatEndpoint,
  isLoopback,
  parseEndpoint,
  type TcpEndpoint,
} from "./endpoint.ts";
