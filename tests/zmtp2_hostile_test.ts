/**
 * Hostile ZMTP/2.0 input (tests/_hostile_zmtp2.ts): the generator itself,
 * and servers that must survive it and go on answering, libzmq's as the
 * check that the input is fair, and ours.
 */
import assert from "node:assert/strict";
import {
  freePort,
  runClient,
  startServer,
  startTutorialServer,
} from "./_process.ts";
import {
  greetingV2,
  hostileZmtp2Input,
  SIGNATURE_V2,
  SOCKET_TYPE,
} from "./_hostile_zmtp2.ts";
import { dealerRequest, random, sendAndDrop } from "./_hostile.ts";
import { requireJeromq, runJeromqReq } from "./_jeromq.ts";

const KINDS = [
  "truncated 2.0 greeting",
  "mutated 2.0 greeting",
  "bad socket type",
  "2.0 greeting, then random",
  "oversized 2.0 frame",
  "truncated 2.0 frame",
  "reserved flag bits",
  "bad identity frame",
];

Deno.test("a 2.0 greeting and request are the octets JeroMQ 0.3.6 sends", () => {
  assert.deepEqual(
    [...greetingV2(SOCKET_TYPE.REQ)],
    [...SIGNATURE_V2, 0x01, 0x03, 0x00, 0x00],
  );
  assert.deepEqual(
    [...dealerRequest("100")],
    [0x01, 0x00, 0x00, 0x03, 0x31, 0x30, 0x30],
  );
});

Deno.test("hostileZmtp2Input gives every kind, the same for the same seed", () => {
  const draw = (seed: number) => {
    const rand = random(seed);
    return Array.from({ length: 2000 }, () => hostileZmtp2Input(rand));
  };
  const inputs = draw(7);
  assert.deepEqual(new Set(inputs.map((i) => i.kind)), new Set(KINDS));
  assert.deepEqual(draw(7), inputs);
  for (const { kind, bytes } of inputs) {
    if (kind === "reserved flag bits") {
      const flags = [bytes[14], bytes[16]];
      assert.ok(flags.some((f) => (f & 0xfc) !== 0), "a reserved bit set");
    }
    if (kind === "bad socket type") {
      assert.ok(bytes[11] !== SOCKET_TYPE.REQ && bytes[11] !== 0x05);
    }
    if (kind === "oversized 2.0 frame") {
      const at = bytes.length >= 14 && bytes[12] === 0 && bytes[13] === 0
        ? 14
        : 12;
      assert.ok(bytes[at] & 0x02, "LONG");
      const size = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 8)
        .getBigUint64(0);
      assert.ok(size >= 1n << 24n, `size ${size}`);
    }
  }
});

/** Sends `count` hostile inputs from `seed`, eight connections at a time. */
async function attack(port: number, seed: number, count: number) {
  const rand = random(seed);
  const inputs = Array.from({ length: count }, () => hostileZmtp2Input(rand));
  for (let i = 0; i < inputs.length; i += 8) {
    await Promise.all(
      inputs.slice(i, i + 8).map((input) => sendAndDrop(port, input.bytes, 5)),
    );
  }
}

Deno.test("multiply_server.py (libzmq) survives hostile ZMTP/2.0 input and answers a JeroMQ REQ after", async () => {
  requireJeromq();
  const port = freePort();
  await using python = await startTutorialServer(2, port);
  await attack(port, 20_000, 400);
  const result = await runJeromqReq(`tcp://127.0.0.1:${port}`, ["21"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "42.0\n");
  assert.ok(python.running);
});

Deno.test("server.ts survives hostile ZMTP/2.0 input and answers client.ts after", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  await attack(ours.port, 20_000, 400);
  const result = await runClient([String(ours.port)], "21\n");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "42.0\n");
  assert.ok(ours.server.running);
});

Deno.test({
  name:
    "server.ts survives hostile ZMTP/2.0 input and answers a JeroMQ REQ after",
  async fn() {
    requireJeromq();
    await using ours = await startServer(["2", "0", "--quiet"]);
    await attack(ours.port, 20_000, 400);
    const result = await runJeromqReq(`tcp://127.0.0.1:${ours.port}`, ["21"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "42.0\n");
    assert.ok(ours.server.running);
  },
});
