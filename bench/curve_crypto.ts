/**
 * Times the CURVE MESSAGE box, the work done for every frame after the
 * handshake, two ways: libsodium-wrappers' documented API (a fresh
 * `Uint8Array` per call, the key copied onto the heap and left there) and
 * lib/zmtp/_sodium.ts's direct calls on the WebAssembly heap, with the key
 * kept there and the plaintext zeroed after each call, that write into the
 * caller's buffer. Prints microseconds per seal and per open for a 6-octet
 * and a 1 KiB frame.
 *
 *     deno run bench/curve_crypto.ts [--iterations N]
 *
 * @module
 */

import {
  parseCommandLine,
  parseInteger,
  printError,
  UsageError,
} from "../lib/cli.ts";
import sodium from "libsodium-wrappers";
import {
  loadSodium,
  MAC_BYTES,
  openInto,
  randomBytes,
  sealInto,
  Secret,
} from "../lib/zmtp/_sodium.ts";

const USAGE = "usage: deno run bench/curve_crypto.ts [--iterations N]";
let iterations = 200_000;
try {
  const cli = parseCommandLine(Deno.args, {
    iterations: { type: "string" },
  }, 0);
  const text = cli.string("iterations");
  if (text !== undefined) {
    iterations = parseInteger(text, "--iterations", 1, 1e9);
  }
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  printError(`curve_crypto: ${error.message}\n\n${USAGE}`);
  Deno.exit(2);
}
await loadSodium();
await sodium.ready;

// A throwaway key, so the documented API may see it.
const shared = randomBytes(32);
const key = Secret.copyOf(shared);
const nonce = randomBytes(24);
const target = new Uint8Array(4096);

function time(label: string, run: () => void): number {
  for (let i = 0; i < iterations / 10; i++) run(); // warm up
  const start = performance.now();
  for (let i = 0; i < iterations; i++) run();
  const us = (performance.now() - start) * 1000 / iterations;
  console.log(`${label.padEnd(34)} ${us.toFixed(2).padStart(7)} us`);
  return us;
}

for (const size of [6, 1024]) {
  const body = randomBytes(size);
  // The documented API: build the plaintext, box it, copy it into place.
  time(`wrappers seal ${size} B`, () => {
    const plain = new Uint8Array(1 + size);
    plain[0] = 1;
    plain.set(body, 1);
    const sealed = sodium.crypto_box_easy_afternm(plain, nonce, shared);
    target.set(sealed, 18);
  });
  time(`heap seal ${size} B`, () => {
    sealInto(key, nonce, 1, body, size, target, 18);
  });
  const plain = new Uint8Array(1 + size);
  plain.set(body, 1);
  const sealed = sodium.crypto_box_easy_afternm(plain, nonce, shared);
  time(`wrappers open ${size} B`, () => {
    const opened = sodium.crypto_box_open_easy_afternm(sealed, nonce, shared);
    if (opened.length !== 1 + size) throw new Error("wrong length");
  });
  // Into the connection's own plaintext buffer.
  const opened = new Uint8Array(1 + size);
  time(`heap open ${size} B`, () => {
    if (!openInto(key, nonce, sealed, opened, 0)) {
      throw new Error("failed to open");
    }
  });
  if (MAC_BYTES !== 16) throw new Error("unexpected MAC size");
}
key.dispose();
