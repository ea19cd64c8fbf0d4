import assert from "node:assert/strict";
import {
  COMMAND,
  EMPTY,
  encodeCommand,
  encodedSize,
  encodeMessage,
  FrameDecoder,
  MORE,
  parseCommand,
} from "../lib/zmtp/frame.ts";
import { MessageSizeError, ProtocolError } from "../lib/zmtp/errors.ts";

const text = (s: string) => new TextEncoder().encode(s);
const limits = { maxMessageFrame: 1 << 20, maxCommandFrame: 65536 };

function collect(decoder: FrameDecoder, ...chunks: Uint8Array[]) {
  const frames: { flags: number; body: Uint8Array }[] = [];
  const sink = {
    frame: (flags: number, body: Uint8Array) =>
      void frames.push({ flags, body }),
  };
  for (const chunk of chunks) decoder.push(chunk, sink);
  return frames;
}

Deno.test("encodeMessage() writes the REQ envelope as RFC 23 frames", () => {
  assert.deepEqual(
    [...encodeMessage([EMPTY, text("100")])],
    [MORE, 0, 0, 3, 0x31, 0x30, 0x30],
  );
});

Deno.test("encodeMessage() switches to the long form above 255 octets", () => {
  const body = new Uint8Array(256).fill(7);
  const out = encodeMessage([body]);
  assert.equal(out.length, 9 + 256);
  assert.deepEqual([...out.subarray(0, 9)], [0x02, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.equal(encodedSize([body, EMPTY]), 9 + 256 + 2);
  assert.deepEqual([...encodeMessage([new Uint8Array(255)]).subarray(0, 2)], [
    0,
    255,
  ]);
});

Deno.test("encodeMessage() refuses a message without parts", () => {
  assert.throws(() => encodeMessage([]), RangeError);
});

Deno.test("FrameDecoder.push() decodes what encodeMessage() wrote, split at every octet", () => {
  const parts = [
    EMPTY,
    text("x".repeat(300)),
    text("hello"),
    new Uint8Array(70_000).fill(9),
  ];
  const wire = encodeMessage(parts);
  for (const step of [1, 2, 3, 7, 64, 1000, wire.length]) {
    const chunks = [];
    for (let i = 0; i < wire.length; i += step) {
      chunks.push(wire.slice(i, i + step));
    }
    const frames = collect(new FrameDecoder(limits), ...chunks);
    assert.equal(frames.length, 4, `step ${step}`);
    assert.deepEqual(frames.map((f) => f.flags & MORE), [1, 1, 1, 0]);
    frames.forEach((frame, i) =>
      assert.deepEqual(frame.body, parts[i], `step ${step} part ${i}`)
    );
  }
});

Deno.test("FrameDecoder.push() hands out copies that outlive the read buffer", () => {
  const decoder = new FrameDecoder(limits);
  const buffer = encodeMessage([text("abc")]);
  const [frame] = collect(decoder, buffer);
  buffer.fill(0);
  assert.deepEqual(frame.body, text("abc"));
});

Deno.test("FrameDecoder.pendingBody() lets a large body be read into directly", () => {
  const body = new Uint8Array(50_000).map((_, i) => i % 251);
  const wire = encodeMessage([body]);
  const decoder = new FrameDecoder(limits);
  const frames = collect(decoder, wire.subarray(0, 100));
  assert.equal(frames.length, 0);
  const rest = decoder.pendingBody(16384)!;
  assert.equal(rest.length, wire.length - 100);
  rest.set(wire.subarray(100));
  const sink = {
    frame: (flags: number, b: Uint8Array) =>
      void frames.push({ flags, body: b }),
  };
  decoder.filled(rest.length, sink);
  assert.deepEqual(frames[0].body, body);
  assert.ok(decoder.idle);
});

Deno.test("FrameDecoder.push() refuses a size over the limit before allocating", () => {
  const decoder = new FrameDecoder({
    maxMessageFrame: 1000,
    maxCommandFrame: 100,
  });
  // A long frame claiming 2^63 - 1 octets.
  const hostile = new Uint8Array([
    0x02,
    0x7f,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
  ]);
  assert.throws(() => collect(decoder, hostile), MessageSizeError);
  const justOver = new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0x03, 0xe9]);
  assert.throws(
    () =>
      collect(
        new FrameDecoder({ maxMessageFrame: 1000, maxCommandFrame: 100 }),
        justOver,
      ),
    /1001 octets/,
  );
  const bigCommand = new Uint8Array([0x04, 101]);
  assert.throws(
    () =>
      collect(
        new FrameDecoder({ maxMessageFrame: 1000, maxCommandFrame: 100 }),
        bigCommand,
      ),
    (error) =>
      error instanceof ProtocolError && !(error instanceof MessageSizeError),
  );
});

Deno.test("FrameDecoder.push() refuses reserved flag bits and commands with MORE", () => {
  assert.throws(
    () => collect(new FrameDecoder(limits), new Uint8Array([0x08, 0])),
    /reserved bits/,
  );
  assert.throws(
    () => collect(new FrameDecoder(limits), new Uint8Array([0xff])),
    /reserved bits/,
  );
  assert.throws(
    () => collect(new FrameDecoder(limits), new Uint8Array([0x05, 0])),
    /MORE/,
  );
});

Deno.test("encodeCommand() and parseCommand() round-trip a command", () => {
  const frame = encodeCommand("PING", new Uint8Array([0, 10, 1, 2]));
  assert.equal(frame[0], COMMAND);
  const [decoded] = collect(new FrameDecoder(limits), frame);
  const { name, data } = parseCommand(decoded.body);
  assert.equal(name, "PING");
  assert.deepEqual([...data], [0, 10, 1, 2]);
  assert.throws(() => parseCommand(new Uint8Array([5, 0x41])), ProtocolError);
  assert.throws(() => parseCommand(new Uint8Array([0])), ProtocolError);
});
