/**
 * A queue's bound counts what a message costs in memory, parts included
 * (pipe.ts: MESSAGE_OVERHEAD and PART_OVERHEAD on top of the bodies): ten
 * peers send messages of 64 one-octet parts to a Reply whose application
 * never takes a request (tests/peers/busy_reply.ts), until TCP holds them
 * back. Each peer's inbound queue may then hold 1 MiB (QUEUE_BYTES_MARK)
 * and one read's worth more; the Reply, with tests/peers/gc_hook.ts
 * preloaded, reports what it holds after a full collection (V8's live heap
 * and malloc's memory in use). Counting bodies alone, it held 7.3 MiB per
 * peer for 373 KiB sent (the receive mark of 1,000 messages stopped it).
 */
import assert from "node:assert/strict";
import { RawPeer } from "./_raw_peer.ts";
import { collectGarbage, GC_HOOK_FLAGS } from "./_gc_hook.ts";
import { deno, listening, type Proc, within } from "./_process.ts";

const PEERS = 10;
const PARTS = 64;
/** 1 MiB a queue, and room for a read's worth and the connection itself. */
const BOUND_KIB = 1024 + 256;

/** What the Reply holds: V8's live heap and malloc's memory in use, in KiB. */
async function held(proc: Proc): Promise<number> {
  const facts = await collectGarbage(proc);
  return (facts.heapUsed + facts.mallocInUse) / 1024;
}

// Writes until the Reply stops reading: no write completes for 1.5 s.
async function fill(peer: RawPeer, batch: Uint8Array): Promise<number> {
  let sent = 0;
  while (true) {
    const wrote = peer.write(batch).then(() => true, () => false);
    const done = await Promise.race([
      wrote,
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 1500)),
    ]);
    if (!done) return sent;
    sent += batch.length;
  }
}

Deno.test(`Reply holds at most ${BOUND_KIB} KiB per peer whose messages of ${PARTS} one-octet parts wait in its queue`, async () => {
  await using running = await listening(
    deno("tests/peers/busy_reply.ts", [], {
      flags: GC_HOOK_FLAGS,
    }),
    /listening on port (\d+)/,
  );
  const before = await held(running.server);
  const message = new Uint8Array(PARTS * 3);
  for (let i = 0; i < PARTS; i++) {
    message.set([i < PARTS - 1 ? 1 : 0, 1, 0x78], i * 3);
  }
  const batch = new Uint8Array(message.length * 100);
  for (let i = 0; i < 100; i++) batch.set(message, i * message.length);
  const peers: RawPeer[] = [];
  try {
    for (let i = 0; i < PEERS; i++) {
      const peer = await RawPeer.connect(running.port);
      peers.push(peer);
      await peer.handshake("DEALER");
    }
    const sent = await within(
      Promise.all(peers.map((peer) => fill(peer, batch))),
      60_000,
      "filling the queues",
    );
    const perPeer = (await held(running.server) - before) / PEERS;
    const kib = sent.reduce((a, b) => a + b, 0) / PEERS / 1024;
    console.log(
      `part accounting: ${perPeer.toFixed(0)} KiB held per peer, ${
        kib.toFixed(0)
      } KiB sent by each`,
    );
    assert.ok(
      perPeer < BOUND_KIB,
      `${perPeer.toFixed(0)} KiB held per peer, over ${BOUND_KIB}`,
    );
  } finally {
    for (const peer of peers) peer.close();
  }
});
