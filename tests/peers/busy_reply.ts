/**
 * A Reply socket whose application never takes a request, as one busy for
 * ever: what its peers send waits in its queues, up to their bounds.
 *
 *     deno run --allow-net tests/peers/busy_reply.ts
 *
 * Prints "listening on port N" once bound to a free port; SIGTERM ends it.
 *
 * @module
 */

import { Reply } from "../../lib/zmtp/mod.ts";

const reply = new Reply();
const endpoint = await reply.bind("tcp://127.0.0.1:0");
console.log(`listening on port ${endpoint.split(":").at(-1)}`);
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
