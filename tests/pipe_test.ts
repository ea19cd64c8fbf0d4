/**
 * A pipe's bounds (pipe.ts): reading from its peer pauses at either
 * high-water mark, and at QUEUE_BYTES_MARK of what the queued messages cost
 * in memory, parts included. Each pipe runs over a real loopback
 * connection whose handshake never completes, so nothing it queues is
 * written or taken away while the test fills it.
 */
import assert from "node:assert/strict";
import type { ConnectionOptions } from "../lib/zmtp/connection.ts";
import { NullMechanism } from "../lib/zmtp/null_mechanism.ts";
import {
  MESSAGE_OVERHEAD,
  PART_OVERHEAD,
  Pipe,
  type PipeMarks,
  QUEUE_BYTES_MARK,
} from "../lib/zmtp/pipe.ts";

const OPTIONS: ConnectionOptions = {
  socketType: "REP",
  isServer: true,
  createMechanism: () =>
    new NullMechanism({ socketType: "REP", isServer: true }),
  maxMessageSize: 1 << 20,
  frameLimits: { maxMessageFrame: 1 << 20, maxCommandFrame: 1 << 16 },
  handshakeTimeout: 0,
  heartbeat: { interval: 0, timeout: 0, ttl: 0 },
};

async function withPipe(
  marks: PipeMarks,
  use: (pipe: Pipe) => void,
): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const peer = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await listener.accept();
  const owner = { pipeReady() {}, pipeReadable() {}, pipeClosed() {} };
  const pipe = new Pipe(owner, conn, "tcp://test", OPTIONS, marks);
  try {
    use(pipe);
  } finally {
    pipe.connection.close();
    await pipe.connection.done;
    peer.close();
  }
}

// How many messages go in before reading pauses.
function countUntilPaused(pipe: Pipe, add: () => void, most = 5000): number {
  let count = 0;
  while (!pipe.readPaused && count < most) {
    add();
    count++;
  }
  return count;
}

const onePart = () => [new Uint8Array(1)];
const manyParts = () => Array.from({ length: 64 }, () => new Uint8Array(1));
const LOTS = { receiveHighWaterMark: 1000, sendHighWaterMark: 1000 };

Deno.test("Pipe pauses reading at the send high-water mark", async () => {
  await withPipe({ ...LOTS, sendHighWaterMark: 3 }, (pipe) => {
    assert.equal(countUntilPaused(pipe, () => pipe.write(onePart())), 3);
  });
});

Deno.test("Pipe pauses reading at the receive high-water mark", async () => {
  await withPipe({ ...LOTS, receiveHighWaterMark: 3 }, (pipe) => {
    assert.equal(countUntilPaused(pipe, () => pipe.message(onePart(), 1)), 3);
  });
});

// Messages of 64 one-octet parts, as counted: octets, the message and each
// part's overhead; reading pauses once QUEUE_BYTES_MARK is reached.
const COST = 64 + MESSAGE_OVERHEAD + 64 * PART_OVERHEAD;
const EXPECTED = Math.ceil(QUEUE_BYTES_MARK / COST);

Deno.test(`Pipe counts each part's cost: ${EXPECTED} messages of 64 one-octet parts fill a queue either way`, async () => {
  await withPipe(LOTS, (pipe) => {
    assert.equal(
      countUntilPaused(pipe, () => pipe.message(manyParts(), 64)),
      EXPECTED,
    );
  });
  await withPipe(LOTS, (pipe) => {
    // Written, a one-octet frame takes two octets more.
    const wire = Math.ceil(QUEUE_BYTES_MARK / (COST + 128));
    const count = countUntilPaused(pipe, () => pipe.write(manyParts()));
    assert.ok(count <= wire + 1 && count >= wire - 1, `${count}`);
  });
});
