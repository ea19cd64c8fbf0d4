/**
 * A ZMTP 3.1 engine for Deno: REQ and REP sockets over TCP that speak with
 * libzmq and its bindings byte for byte. Written on Deno's own TCP API, with
 * no native code.
 *
 * ```ts ignore
 * import { Reply, Request } from "./mod.ts";
 *
 * const reply = new Reply();
 * const endpoint = await reply.bind("tcp://127.0.0.1:0");
 * reply.serve(([request]) => request);
 *
 * const request = new Request({ receiveTimeout: 1000 });
 * request.connect(endpoint);
 * await request.send("hello");
 * const [echo] = await request.receive();
 * await request.close();
 * await reply.close();
 * ```
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
  HandshakeClosedError,
  MechanismMismatchError,
  MessageSizeError,
  PeerEvictedError,
  PeerTimeoutError,
  ProtocolError,
  SocketError,
  type SocketErrorCode,
} from "./errors.ts";
export {
  formatAddress,
  formatEndpoint,
  isLoopback,
  parseEndpoint,
  type TcpEndpoint,
} from "./endpoint.ts";
