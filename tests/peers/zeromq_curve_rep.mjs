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

// Python's str(float) for the values the tests use (as zeromq_rep.mjs).
function pythonRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x < 0 ? "-inf" : "inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e16) return Number.isInteger(x) ? `${x}.0` : String(x);
  return x.toExponential().replace(/e([+-])(\d)$/, "e$10$2").replace(
    /\.?0*e/,
    "e",
  );
}

for await (const [request] of socket) {
  const text = request.toString("utf8");
  const value = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(text)
    ? Number(text)
    : NaN;
  const reply = Number.isNaN(value)
    ? "not a 'float'"
    : pythonRepr(value * Number(multiplier));
  console.log(`received: ${text} sending: ${reply}`);
  await socket.send(reply);
}
