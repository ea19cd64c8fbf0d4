// Plain JavaScript for Node: no type annotations to give.
// deno-lint-ignore-file explicit-module-boundary-types

// The answering loop of the zeromq.js REP peers: each request answered as
// multiply_server.py does for the integers and decimals the tests send, and
// logged as it logs them unless `quiet`.

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

/** Answers every request on a bound zeromq.js Reply until it closes. */
export async function serveMultiply(
  socket,
  multiplier,
  { quiet = false } = {},
) {
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
}
