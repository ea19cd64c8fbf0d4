/**
 * Times the CURVE MESSAGE box, the work done for every frame after the
 * handshake, two ways: libsodium-wrappers' documented API (a fresh
 * `Uint8Array` per call) and lib/zmtp/_sodium.ts's direct calls on the
 * WebAssembly heap that write into the caller's buffer. Prints microseconds
 * per seal and per open for a 6-octet and a 1 KiB frame.
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
  openInPlace,
  randomBytes,
  sealInto,
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

const shared = randomBytes(32);
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
    sealInto(shared, nonce, 1, body, size, target, 18);
  });
  const plain = new Uint8Array(1 + size);
  plain.set(body, 1);
  const sealed = sodium.crypto_box_easy_afternm(plain, nonce, shared);
  time(`wrappers open ${size} B`, () => {
    const opened = sodium.crypto_box_open_easy_afternm(sealed, nonce, shared);
    if (opened.length !== 1 + size) throw new Error("wrong length");
  });
  // A received body is the caller's own copy; opening overwrites it.
  const copy = new Uint8Array(sealed.length);
  time(`heap open ${size} B`, () => {
    copy.set(sealed);
    if (openInPlace(shared, nonce, copy)?.length !== 1 + size) {
      throw new Error("failed to open");
    }
  });
  if (MAC_BYTES !== 16) throw new Error("unexpected MAC size");
}
