import assert from "node:assert/strict";
import sodium from "libsodium-wrappers";
import {
  boxAfternm,
  boxKeyPair,
  boxOpenAfternm,
  loadSodium,
  MAC_BYTES,
  openInto,
  precompute,
  publicKeyOf,
  publicKeyOfBytes,
  randomBytes,
  sealInto,
  Secret,
  sodiumLoaded,
} from "../lib/zmtp/_sodium.ts";

await loadSodium();
await sodium.ready;

Deno.test("loadSodium() is idempotent", async () => {
  const first = loadSodium();
  assert.equal(loadSodium(), first);
  await first;
  assert.ok(sodiumLoaded());
});

Deno.test("boxKeyPair() derives the public key libsodium would", () => {
  const { publicKey, secret } = boxKeyPair();
  const other = boxKeyPair();
  try {
    assert.equal(publicKey.length, 32);
    assert.deepEqual(publicKeyOf(secret), publicKey);
    // Both sides of a pair of key pairs precompute the same key: what one
    // seals with its precomputed key, the other opens with its own.
    const ours = precompute(other.publicKey, secret)!;
    const theirs = precompute(publicKey, other.secret)!;
    const nonce = randomBytes(24);
    const message = new Uint8Array([1, 2, 3]);
    assert.deepEqual(
      boxOpenAfternm(boxAfternm(message, nonce, ours), nonce, theirs),
      message,
    );
    ours.dispose();
    theirs.dispose();
  } finally {
    secret.dispose();
    other.secret.dispose();
  }
});

Deno.test("publicKeyOfBytes() agrees with the documented crypto_scalarmult_base", () => {
  // A throwaway key: the documented API may see it.
  const secretKey = randomBytes(32);
  assert.deepEqual(
    publicKeyOfBytes(secretKey),
    sodium.crypto_scalarmult_base(secretKey),
  );
});

Deno.test("Secret.dispose() is idempotent, and a wiped key cannot be used", () => {
  const secret = Secret.random();
  secret.dispose();
  secret.dispose();
  assert.ok(secret.disposed);
  assert.throws(
    () => publicKeyOf(secret),
    /Cannot use a CURVE key that has been wiped/,
  );
});

Deno.test("sealInto() writes what crypto_box_easy_afternm returns, at the offset", () => {
  // A throwaway key, so the documented API may see it.
  const sharedBytes = randomBytes(32);
  const shared = Secret.copyOf(sharedBytes);
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
    const expected = sodium.crypto_box_easy_afternm(
      new Uint8Array([0x02, ...bytes]),
      nonce,
      sharedBytes,
    );
    assert.deepEqual(target.subarray(7, end), expected);
    assert.deepEqual(
      boxOpenAfternm(expected, nonce, shared),
      new Uint8Array([0x02, ...bytes]),
    );
  }
  shared.dispose();
});

Deno.test("openInto() opens into the target, in place too, and leaves it unchanged for a forged box", () => {
  const shared = Secret.random();
  const nonce = randomBytes(24);
  // Large enough to make the scratch area grow past its first size.
  const message = new Uint8Array(200_000).map((_, i) => i * 7);
  const sealed = boxAfternm(message, nonce, shared);
  const forged = sealed.slice();
  forged[100] ^= 0x40;
  const target = new Uint8Array(message.length + 3).fill(9);
  assert.equal(openInto(shared, nonce, forged, target, 3), false);
  assert.ok(target.every((octet) => octet === 9));
  assert.equal(openInto(shared, nonce, sealed, target, 3), true);
  assert.deepEqual(target.subarray(3), message);
  // In place: the plaintext over the box, after the tag.
  assert.equal(openInto(shared, nonce, sealed, sealed, MAC_BYTES), true);
  assert.deepEqual(sealed.subarray(MAC_BYTES), message);
  assert.equal(openInto(shared, nonce, new Uint8Array(15), target, 0), false);
  shared.dispose();
});
