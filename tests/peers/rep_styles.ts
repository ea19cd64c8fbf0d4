/**
 * A multiply server (multiplier 2) on lib/zmtp's Reply, written in one of
 * the ways an application may take requests, so that a test can hold each
 * to the same bounds as server.ts (which serves with a synchronous handler):
 *
 *     deno run --allow-net tests/peers/rep_styles.ts STYLE PORT
 *
 * - `lockstep`: `await receive()`, then `await send()`, in a loop;
 * - `for-await`: `for await (const [request] of reply) await reply.send(...)`;
 * - `async-serve`: `serve(async (request) => ...)`, each reply after a
 *   microtask, and every eighth after a 0 ms timer.
 *
 * PORT 0 picks a free port. Prints "listening on port N" once bound; SIGTERM
 * or SIGINT closes the socket and exits 0.
 *
 * @module
 */

import { answer } from "../../lib/protocol.ts";
import { Reply } from "../../lib/zmtp/mod.ts";

/** The styles this program serves in. */
export const STYLES = ["lockstep", "for-await", "async-serve"] as const;
/** One of {@link STYLES}. */
export type Style = typeof STYLES[number];

const MULTIPLIER = 2;
const EMPTY = new Uint8Array(0);

function reply(request: Uint8Array[]): string {
  return answer(request[0] ?? EMPTY, MULTIPLIER).reply;
}

/**
 * Serves on `reply` in `style` until the socket closes.
 *
 * @param socket a bound Reply socket
 * @param style how requests are taken
 */
export async function serveInStyle(socket: Reply, style: Style): Promise<void> {
  switch (style) {
    case "lockstep":
      while (!socket.closed) {
        let request: Uint8Array[];
        try {
          request = await socket.receive();
        } catch {
          return; // ETERM: closed
        }
        await socket.send(reply(request));
      }
      return;
    case "for-await":
      for await (const request of socket) await socket.send(reply(request));
      return;
    case "async-serve": {
      let n = 0;
      await socket.serve(async (request) => {
        if (++n % 8 === 0) {
          await new Promise((resolve) => setTimeout(resolve, 0));
        } else {
          await Promise.resolve();
        }
        return reply(request);
      });
      return;
    }
  }
}

async function main(): Promise<number> {
  const [style, portText] = Deno.args;
  if (
    !(STYLES as readonly string[]).includes(style) || portText === undefined
  ) {
    console.error(`Usage: rep_styles.ts ${STYLES.join("|")} PORT`);
    return 2;
  }
  const socket = new Reply();
  const endpoint = await socket.bind(`tcp://127.0.0.1:${Number(portText)}`);
  const stop = () => void socket.close();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  console.log(`listening on port ${endpoint.split(":").pop()}`);
  await serveInStyle(socket, style as Style);
  await socket.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
