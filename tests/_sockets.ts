/**
 * Test helpers: our own sockets in the test process, on loopback. Each is
 * disposed with `await using`.
 *
 * @module
 */

import { parseEndpoint } from "../lib/zmtp/endpoint.ts";
import {
  Reply,
  type RequestHandler,
  type SocketOptions,
} from "../lib/zmtp/mod.ts";

/** A Reply bound on loopback; dispose of it to close it. */
export interface BoundReply extends AsyncDisposable {
  reply: Reply;
  /** The endpoint bind() returned: `tcp://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
}

/**
 * A Reply with `options`, bound to a free port on 127.0.0.1; with
 * `handler`, serving with it (disposing closes the socket, then waits for
 * serve() to end).
 */
export async function boundReply(
  options: SocketOptions = {},
  handler?: RequestHandler,
): Promise<BoundReply> {
  const reply = new Reply(options);
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  const served = handler === undefined ? undefined : reply.serve(handler);
  return {
    reply,
    endpoint,
    port: parseEndpoint(endpoint).port,
    async [Symbol.asyncDispose]() {
      await reply.close();
      await served;
    },
  };
}
