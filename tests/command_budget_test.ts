/**
 * CURVE's command budget (connection.ts): after the handshake every frame
 * is a MESSAGE command carrying a message frame, so the largest command
 * accepted shrinks as a message grows, and a connection never holds more
 * than one message's worth (`maxMessageSize` and a box's overhead). A peer
 * that has sent most of a message and then announces a MESSAGE as large as
 * the whole limit is closed at that frame's header, before its body comes.
 */
import assert from "node:assert/strict";
import { generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import { COMMAND, LONG, MORE } from "../lib/zmtp/frame.ts";
import { Reply } from "../lib/zmtp/mod.ts";
import { CurveDriver } from "./_curve_driver.ts";
import { clientMechanism } from "./_hostile_curve.ts";

const LIMIT = 10_000;

Deno.test("CURVE: a MESSAGE that would take a message over maxMessageSize is refused at its header, mid-message", async () => {
  const server = await generateKeyPair();
  const client = await generateKeyPair();
  await using reply = new Reply({
    maxMessageSize: LIMIT,
    curveServer: true,
    curvePublicKey: server.publicKey,
    curveSecretKey: server.secretKey,
  });
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  reply.serve(([request]) => request);
  const port = Number(endpoint.split(":").at(-1));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const mechanism = await clientMechanism(client, server.publicKey);
  const driver = await CurveDriver.open(conn, mechanism);
  try {
    // A whole message first: the budget is back to the limit after it.
    await driver.send(["", "7"]);
    assert.equal(new TextDecoder().decode((await driver.receive())[1]), "7");
    // The delimiter and 9,000 octets of a message, each boxed with MORE...
    const body = new Uint8Array(9000);
    const boxed = new Uint8Array(
      mechanism.frameSize(0) + mechanism.frameSize(body.length),
    );
    let at = mechanism.encodeFrame(MORE, new Uint8Array(0), 0, boxed, 0);
    at = mechanism.encodeFrame(MORE, body, body.length, boxed, at);
    await driver.sendRaw(boxed.subarray(0, at));
    // ...then the header of a MESSAGE as large as the whole limit, no body.
    const header = new Uint8Array(9);
    header[0] = COMMAND | LONG;
    new DataView(header.buffer).setBigUint64(1, BigInt(LIMIT + 33));
    await driver.sendRaw(header);
    await assert.rejects(driver.receive(3000), /closed/);
  } finally {
    driver.close();
  }
});
