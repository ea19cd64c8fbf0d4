import assert from "node:assert/strict";
import {
  boxAfternm,
  boxKeyPair,
  boxOpenAfternm,
  loadSodium,
  MAC_BYTES,
  openInPlace,
  precompute,
  publicKeyOf,
  randomBytes,
  sealInto,
  sodiumLoaded,
} from "../lib/zmtp/_sodium.ts";

await loadSodium();

Deno.test("loadSodium() is idempotent", async () => {
  const first = loadSodium();
  assert.equal(loadSodium(), first);
  await first;
  assert.ok(sodiumLoaded());
});

Deno.test("boxKeyPair() derives the public key libsodium would", () => {
  const { publicKey, secretKey } = boxKeyPair();
  assert.equal(publicKey.length, 32);
  assert.deepEqual(publicKeyOf(secretKey), publicKey);
  // Both sides of a pair of key pairs precompute the same key.
  const other = boxKeyPair();
  assert.deepEqual(
    precompute(other.publicKey, secretKey),
    precompute(publicKey, other.secretKey),
  );
});

Deno.test("sealInto() writes what crypto_box_easy_afternm returns, at the offset", () => {
  const shared = randomBytes(32);
  const nonce = randomBytes(24);
  for (
    const part of [new Uint8Array([1, 2, 3]), "héllo ✓", "", "a".repeat(5000)]
  ) {
    const bytes = typeof part === "string"
      ? new TextEncoder().encode(part)
      : part;
    const target = new Uint8Array(7 + MAC_BYTES + 1 + bytes.length + 3);
    const end = sealInto(shared, nonce, 0x02, part, bytes.length, target, 7);
    assert.equal(end, 7 + MAC_BYTES + 1 + bytes.length);
    const expected = boxAfternm(
      new Uint8Array([0x02, ...bytes]),
      nonce,
      shared,
    );
    assert.deepEqual(target.subarray(7, end), expected);
    assert.deepEqual(
      boxOpenAfternm(expected, nonce, shared),
      new Uint8Array([0x02, ...bytes]),
    );
  }
});

Deno.test("openInPlace() opens in place and leaves a forged box unchanged", () => {
  const shared = randomBytes(32);
  const nonce = randomBytes(24);
  // Large enough to make the scratch area grow past its first size.
  const message = new Uint8Array(200_000).map((_, i) => i * 7);
  const sealed = boxAfternm(message, nonce, shared);
  const forged = sealed.slice();
  forged[100] ^= 0x40;
  const copy = forged.slice();
  assert.equal(openInPlace(shared, nonce, copy), undefined);
  assert.deepEqual(copy, forged);
  const plain = openInPlace(shared, nonce, sealed);
  assert.deepEqual(plain, message);
  assert.equal(plain!.buffer, sealed.buffer);
  assert.equal(openInPlace(shared, nonce, new Uint8Array(15)), undefined);
});
