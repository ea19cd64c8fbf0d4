// A multiply server on zeromq.js (libzmq) under Node: a REP peer for our
// client, answering as multiply_server.py does for the integers and decimals
// the tests send. Prints its endpoint once bound; `--quiet` skips the log.
import { Reply } from "zeromq";

const [multiplier = "2", port = "0", ...flags] = process.argv.slice(2);
const quiet = flags.includes("--quiet");
const socket = new Reply();
await socket.bind(`tcp://127.0.0.1:${port}`);
console.log(`bound ${socket.lastEndpoint}`);

// Python's str(float) for the values the tests use: ".0" on integers,
// exponents with two digits.
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
  if (!quiet) console.log(`received: ${text} sending: ${reply}`);
  await socket.send(reply);
}
