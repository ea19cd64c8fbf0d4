/**
 * CURVE plaintext never shares memory with another peer's: a request
 * served without a copy (`serve(..., { copy: false })`) is a view whose
 * buffer holds only its own connection's plaintext.
 *
 * @module
 */

import assert from "node:assert/strict";
import { generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import { Request } from "../lib/zmtp/mod.ts";
import { boundReply } from "./_sockets.ts";

const encoder = new TextEncoder();

// Whether `text` occurs anywhere in the buffer behind `view`.
function inBuffer(view: Uint8Array, text: string): boolean {
  const all = new Uint8Array(view.buffer);
  const needle = encoder.encode(text);
  outer: for (let at = 0; at + needle.length <= all.length; at++) {
    for (let i = 0; i < needle.length; i++) {
      if (all[at + i] !== needle[i]) continue outer;
    }
    return true;
  }
  return false;
}

Deno.test("Reply.serve({ copy: false }) views of CURVE requests show no other peer's plaintext", async () => {
  const server = await generateKeyPair();
  const seen: string[] = [];
  const leaks: string[] = [];
  let ownFound = 0;
  await using bound = await boundReply(
    {
      curveServer: true,
      curvePublicKey: server.publicKey,
      curveSecretKey: server.secretKey,
    },
  );
  const served = bound.reply.serve(([line]) => {
    const text = new TextDecoder().decode(line);
    seen.push(text);
    const [mine, theirs] = text.startsWith("alpha")
      ? ["alpha", "bravo"]
      : ["bravo", "alpha"];
    if (inBuffer(line, `${theirs}-secret`)) leaks.push(text);
    if (inBuffer(line, `${mine}-secret`)) ownFound++;
    return line;
  }, { copy: false });
  const clients = ["alpha", "bravo"].map(() =>
    new Request({ curveServerKey: server.publicKey, receiveTimeout: 10_000 })
  );
  try {
    for (const client of clients) client.connect(bound.endpoint);
    // Interleaved, so that both peers' frames arrive one after the other.
    for (let i = 0; i < 20; i++) {
      await Promise.all(
        ["alpha", "bravo"].map(async (name, n) => {
          await clients[n].send(`${name}-secret-${i}`);
          await clients[n].receive();
        }),
      );
    }
  } finally {
    for (const client of clients) await client.close();
  }
  await bound.reply.close();
  await served;
  assert.equal(seen.length, 40);
  assert.equal(ownFound, 40, "a peer's own plaintext is in its view's buffer");
  assert.deepEqual(leaks, [], "no view's buffer holds the other peer's");
});
