/**
 * What a connection costs after a burst: 1,000 DEALER connections to
 * server.ts (fewer when the open-files limit is low) sit idle, then each
 * sends 64 KiB of pipelined requests at once (64 of 1 KiB: 1023 spaces and
 * "1", which Python's float() takes; reply "2.0") and reads every reply,
 * then all sit idle again. Read buffers grow to 4 KiB during the burst
 * (connection.ts: READ_SIZE_MAX) and must drop back, so that a connection after a burst costs about what an
 * idle one does: within 2x, per connection, over the server before any
 * connection came.
 *
 * server.ts runs as `deno task server` runs it (with its V8 flags),
 * with tests/peers/gc_hook.ts preloaded, which at each point (before, idle,
 * after) runs a full collection and malloc_trim and reports V8's and
 * malloc's figures. Raw RSS does not come back after the burst (about 29 KiB
 * per connection against 15 idle on 2 Dec 2026, for as long as one waits), for reasons
 * outside the engine, which the hook shows: with nothing allocating, V8 runs
 * no collection, so the burst's dropped 4 KiB read buffers (ArrayBuffers,
 * allocated with malloc) stay allocated; once collected, glibc keeps their
 * memory (some 40 MiB free in its arenas) until malloc_trim. Even then some
 * memory stays resident that nothing holds: pages of malloc's heap partly
 * used, 256 KiB pages V8 keeps beyond its heap (about 5 MiB), and the Deno
 * executable's pages first run during the burst (about 4 MiB, left out by
 * counting anonymous memory only). So the 2x criterion is on the memory the
 * server holds: V8's live heap and malloc's memory in use (which includes
 * ArrayBuffers). Resident anonymous memory after the collection is held to
 * 4x: 2.4 to 3.0x in runs of 3 Dec 2026 with the task's V8 flags (1.75 to
 * 2.2x with --optimize-for-size, which returns more pages); raw RSS is
 * printed beside them.
 */
import assert from "node:assert/strict";
import { collectGarbage, GC_HOOK_FLAGS } from "./_gc_hook.ts";
import { dealerRequest } from "./_hostile.ts";
import { memoryKiB, openFilesLimit } from "./_load.ts";
import { RawPeer } from "./_raw_peer.ts";
import {
  type Proc,
  type RunningServer,
  sleep,
  startServer,
  within,
} from "./_process.ts";

const FD_LIMIT = await openFilesLimit();
const WANTED = 1000;
// A descriptor per connection on each side; the server and this test each
// have the limit, and need a few score of descriptors besides.
const CONNECTIONS = Math.min(WANTED, FD_LIMIT - 200);
const REQUESTS = 64;
const BODY = " ".repeat(1023) + "1";

/** What the hook reported after a collection, and /proc then, in KiB. */
interface Collected {
  /** Resident anonymous memory. */
  anon: number;
  /** V8's live heap. */
  heapUsed: number;
  /** ArrayBuffers, outside V8's heap. */
  external: number;
  /** malloc's memory in use. */
  mallocInUse: number;
  /** What the server holds: V8's live heap and malloc's memory in use. */
  held: number;
}

/** server.ts with the hook preloaded; dispose to stop it. */
function startHooked(): Promise<RunningServer> {
  return startServer(["2", "0", "--quiet"], {
    flags: GC_HOOK_FLAGS,
  });
}

/** Has the hook collect and trim, and reads the figures, in KiB. */
async function collect(proc: Proc): Promise<Collected> {
  const facts = await collectGarbage(proc);
  const { anon } = await memoryKiB(proc.pid);
  return {
    anon,
    heapUsed: facts.heapUsed / 1024,
    external: facts.external / 1024,
    mallocInUse: facts.mallocInUse / 1024,
    held: (facts.heapUsed + facts.mallocInUse) / 1024,
  };
}

/** Samples RSS until it stops falling: no new low for 2 s, within 10 s. */
async function settledRss(pid: number): Promise<number> {
  let low = (await memoryKiB(pid)).rss;
  let lowAt = Date.now();
  const start = lowAt;
  while (Date.now() - lowAt < 2000 && Date.now() - start < 10_000) {
    await sleep(250);
    const { rss } = await memoryKiB(pid);
    if (rss < low) {
      low = rss;
      lowAt = Date.now();
    }
  }
  return low;
}

const kib = (x: number) => x.toFixed(1);

Deno.test(`burst memory: ${CONNECTIONS} connections each sending ${REQUESTS} KiB of pipelined requests hold, after it, within 2x of what idle ones hold`, async () => {
  if (CONNECTIONS < WANTED) {
    console.log(
      `burst memory: the open-files limit is ${FD_LIMIT}: ${CONNECTIONS} connections instead of ${WANTED}`,
    );
  }
  assert.ok(
    CONNECTIONS >= 100,
    `too few connections to measure: ${CONNECTIONS}`,
  );
  await using hooked = await startHooked();
  const { server: proc, port } = hooked;
  const peers: RawPeer[] = [];
  try {
    const before = await collect(proc);
    const rawBefore = await settledRss(proc.pid);

    for (let i = 0; i < CONNECTIONS; i += 100) {
      peers.push(
        ...await within(
          Promise.all(
            Array.from(
              { length: Math.min(100, CONNECTIONS - i) },
              async () => {
                const peer = await RawPeer.connect(port);
                try {
                  await peer.handshake("DEALER");
                } catch (error) {
                  peer.close();
                  throw error;
                }
                return peer;
              },
            ),
          ),
          30_000,
          "connecting a hundred DEALERs",
        ),
      );
    }
    const rawIdle = await settledRss(proc.pid);
    const idle = await collect(proc);

    const request = dealerRequest(BODY);
    const burst = new Uint8Array(request.length * REQUESTS);
    for (let i = 0; i < REQUESTS; i++) burst.set(request, i * request.length);
    const t0 = Date.now();
    let replies = 0;
    await within(
      Promise.all(peers.map(async (peer) => {
        await peer.write(burst);
        for (let i = 0; i < REQUESTS; i++) {
          assert.deepEqual(await peer.receiveText(30_000), ["", "2.0"]);
          replies++;
        }
      })),
      60_000,
      "the burst's replies",
    );
    const burstMs = Date.now() - t0;
    const rawAfter = await settledRss(proc.pid);
    const after = await collect(proc);

    const n = peers.length;
    const per = (a: number, b: number) => (a - b) / n;
    const heldIdle = per(idle.held, before.held);
    const heldAfter = per(after.held, before.held);
    const anonIdle = per(idle.anon, before.anon);
    const anonAfter = per(after.anon, before.anon);
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    console.log(
      `burst memory: ${n} connections, ${replies} replies to ${
        (n * burst.length / 1048576).toFixed(1)
      } MiB of requests in ${burstMs} ms. KiB per connection, idle and ` +
        `after the burst: held (V8 live heap + malloc in use, after a full GC) ${
          kib(heldIdle)
        } and ${kib(heldAfter)} (${ratio(heldAfter, heldIdle)}; V8 ${
          kib(per(idle.heapUsed, before.heapUsed))
        } and ${kib(per(after.heapUsed, before.heapUsed))}, malloc ${
          kib(per(idle.mallocInUse, before.mallocInUse))
        } and ${
          kib(per(after.mallocInUse, before.mallocInUse))
        }, of it ArrayBuffers ${kib(per(idle.external, before.external))} and ${
          kib(per(after.external, before.external))
        }); anonymous RSS after GC and malloc_trim ${kib(anonIdle)} and ${
          kib(anonAfter)
        } (${ratio(anonAfter, anonIdle)}); raw RSS, settled, ${
          kib(per(rawIdle, rawBefore))
        } and ${kib(per(rawAfter, rawBefore))} (${
          ratio(per(rawAfter, rawBefore), per(rawIdle, rawBefore))
        }: ${(rawBefore / 1024).toFixed(1)}, ${(rawIdle / 1024).toFixed(1)}, ${
          (rawAfter / 1024).toFixed(1)
        } MiB)`,
    );
    assert.equal(replies, n * REQUESTS);
    assert.ok(proc.running, "the server is still up");
    assert.ok(heldIdle > 0, `an idle connection holds something: ${heldIdle}`);
    assert.ok(
      heldAfter <= 2 * heldIdle,
      `a connection holds ${
        kib(heldAfter)
      } KiB after the burst, over twice an idle one's ${kib(heldIdle)} KiB`,
    );
    assert.ok(
      per(after.external, idle.external) < 1,
      `ArrayBuffers grew by ${
        kib(per(after.external, idle.external))
      } KiB per connection: read buffers kept (4 KiB each)?`,
    );
    assert.ok(
      anonAfter <= 4 * anonIdle,
      `resident memory after the burst and a collection is ${
        kib(anonAfter)
      } KiB per connection, over four times an idle one's ${kib(anonIdle)}`,
    );
  } finally {
    for (const peer of peers) peer.close();
  }
});
