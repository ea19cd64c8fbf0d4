/**
 * RFC 37, "Authentication and Confidentiality": "A peer that reads a full
 * greeting, including mechanism, MUST also send a full greeting including
 * mechanism." and "If the mechanism that the peer received does not exactly
 * match the mechanism it sent, it MUST close the connection." A CURVE Reply
 * meeting a NULL peer must let it read "CURVE" before closing: that is how
 * client.ts can say that a server requires CURVE.
 */
import assert from "node:assert/strict";
import { generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import { boundReply } from "./_sockets.ts";

const keys = await generateKeyPair();

/** A CURVE server socket on loopback; its port. */
function curveReply() {
  return boundReply({
    curveServer: true,
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
  });
}

/**
 * Sends a NULL greeting, whole or in two steps (the 11-octet head, then the
 * rest once the server's head has come), and returns every octet the
 * server sent before closing.
 */
async function greetAndRead(port: number, whole: boolean): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const greeting = encodeGreeting("NULL");
    await conn.write(whole ? greeting : greeting.subarray(0, 11));
    const received: number[] = [];
    const buffer = new Uint8Array(1024);
    let sentRest = whole;
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      received.push(...buffer.subarray(0, n));
      if (!sentRest && received.length >= 11) {
        sentRest = true;
        await conn.write(greeting.subarray(11));
      }
    }
    return new Uint8Array(received);
  } finally {
    conn.close();
  }
}

const mechanismOf = (greeting: Uint8Array) =>
  String.fromCharCode(...greeting.subarray(12, 32)).replace(/\0+$/, "");

Deno.test("a CURVE Reply sends its whole greeting, CURVE, to a NULL peer that greets in two steps, then closes", async () => {
  const { reply, port } = await curveReply();
  await using _reply = reply;
  const received = await greetAndRead(port, false);
  assert.equal(received.length, 64);
  assert.equal(mechanismOf(received), "CURVE");
});

Deno.test({
  name:
    "a CURVE Reply that reads a NULL peer's whole greeting in one read still sends its whole greeting, CURVE, before closing",
  async fn() {
    const { reply, port } = await curveReply();
    await using _reply = reply;
    const received = await greetAndRead(port, true);
    assert.equal(received.length, 64);
    assert.equal(mechanismOf(received), "CURVE");
  },
});
