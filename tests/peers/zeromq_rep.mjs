// A multiply server on zeromq.js (libzmq) under Node: a REP peer for our
// client, answering as multiply_server.py does for the integers and decimals
// the tests send. Prints its endpoint once bound; `--quiet` skips the log.
import { Reply } from "zeromq";
import { serveMultiply } from "./serve_multiply.mjs";

const [multiplier = "2", port = "0", ...flags] = process.argv.slice(2);
const quiet = flags.includes("--quiet");
const socket = new Reply();
await socket.bind(`tcp://127.0.0.1:${port}`);
console.log(`bound ${socket.lastEndpoint}`);

await serveMultiply(socket, multiplier, { quiet });
