/**
 * WriteBatch, the bookkeeping of a connection's writes: what goes first,
 * where a batch ends, and what waits for the next one.
 */
import assert from "node:assert/strict";
import { encodeMessage, type Part } from "../lib/zmtp/frame.ts";
import { BATCH_MAX, WriteBatch } from "../lib/zmtp/write_batch.ts";

/** A pipe holding the given messages. */
function source(messages: Part[][]) {
  return {
    outboundSize: 0,
    nextOutbound() {
      const message = messages.shift();
      if (message !== undefined) {
        this.outboundSize = encodeMessage(message).length;
      }
      return message;
    },
  };
}

Deno.test("WriteBatch writes control octets before messages, then nothing more", () => {
  const batch = new WriteBatch();
  batch.queueControl(new Uint8Array([1, 2, 3]));
  assert.equal(batch.hasControl, true);
  const bytes = batch.next(source([["a"], ["", "bc"]]))!;
  assert.deepEqual(
    [...bytes],
    [1, 2, 3, ...encodeMessage(["a"]), ...encodeMessage(["", "bc"])],
  );
  assert.equal(batch.hasControl, false);
  assert.equal(batch.next(source([])), undefined);
});

Deno.test("WriteBatch without a source writes control octets only and leaves messages queued", () => {
  const batch = new WriteBatch();
  batch.queueControl(new Uint8Array([9]));
  const queued = source([["a"]]);
  assert.deepEqual([...batch.next(undefined)!], [9]);
  assert.equal(queued.nextOutbound()?.[0], "a");
});

Deno.test("WriteBatch ends a batch before a message that would pass BATCH_MAX, and carries it to the next", () => {
  const batch = new WriteBatch();
  const half = new Uint8Array(BATCH_MAX / 2 + 100).fill(7);
  const messages = [[half], [half], ["x"]];
  const pipe = source(messages);
  const first = batch.next(pipe)!;
  assert.equal(first.length, encodeMessage([half]).length);
  assert.equal(batch.hasCarry, true);
  const second = batch.next(pipe)!;
  assert.deepEqual(
    [...second],
    [...encodeMessage([half]), ...encodeMessage(["x"])],
  );
  assert.equal(batch.hasCarry, false);
  assert.equal(batch.next(pipe), undefined);
});

Deno.test("WriteBatch writes a message larger than BATCH_MAX whole, in a batch of its own", () => {
  const batch = new WriteBatch();
  const big = new Uint8Array(BATCH_MAX * 2).fill(3);
  const pipe = source([[big], ["y"]]);
  assert.deepEqual(batch.next(pipe), encodeMessage([big]));
  assert.deepEqual(batch.next(pipe), encodeMessage(["y"]));
});

Deno.test("WriteBatch.clear drops queued control octets and the carried message", () => {
  const batch = new WriteBatch();
  const half = new Uint8Array(BATCH_MAX / 2 + 100);
  batch.next(source([[half], [half]]));
  batch.queueControl(new Uint8Array([1]));
  assert.equal(batch.hasCarry && batch.hasControl, true);
  batch.clear();
  assert.equal(batch.hasCarry || batch.hasControl, false);
  assert.equal(batch.next(source([])), undefined);
});

Deno.test("WriteBatch.idle() lets a buffer over 1 KiB go, and keeps one of up to 1 KiB", () => {
  const batch = new WriteBatch();
  const large = batch.next(source([["x".repeat(2000)]]))!;
  assert.ok(large.buffer.byteLength > 1024);
  batch.idle();
  const small = batch.next(source([["y".repeat(600)]]))!;
  assert.notEqual(small.buffer, large.buffer, "the large buffer was let go");
  assert.ok(small.buffer.byteLength <= 1024, `${small.buffer.byteLength}`);
  batch.idle();
  const next = batch.next(source([["z"]]))!;
  assert.equal(next.buffer, small.buffer, "a small buffer is kept");
});
