// A CURVE multiply server on zeromq.js (libzmq) under Node: a REP peer for
// our client, with the server certificate given, admitting any client that
// knows its public key (there is no ZAP handler). Answers as
// multiply_server.py does for the integers and decimals the tests send.
//
//     zeromq_curve_rep.mjs MULTIPLIER SERVER_KEY_SECRET
//
// Prints "bound ENDPOINT" once bound on a free port of 127.0.0.1, then
// "received: N sending: R" for each request.
import { readFileSync } from "node:fs";
import { Reply } from "zeromq";
import { serveMultiply } from "./serve_multiply.mjs";

const [multiplier, secretFile] = process.argv.slice(2);
const text = readFileSync(secretFile, "utf8");
const key = (name) => {
  const match = new RegExp(`${name}\\s*=\\s*"(.{40})"`).exec(text);
  if (match === null) throw new Error(`${secretFile}: no ${name}`);
  return match[1];
};
const socket = new Reply({
  curveServer: true,
  curvePublicKey: key("public-key"),
  curveSecretKey: key("secret-key"),
});
await socket.bind("tcp://127.0.0.1:0");
console.log(`bound ${socket.lastEndpoint}`);

await serveMultiply(socket, multiplier);
