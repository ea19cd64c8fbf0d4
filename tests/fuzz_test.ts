/**
 * Hostile input against a real server.ts: thousands of random, truncated,
 * mutated and oversized ZMTP 3 and ZMTP/2.0 greetings and frames, peers that
 * vanish mid-frame, and a thousand connections opened and dropped at once,
 * while well-behaved clients on the same server must get every reply,
 * correct. The server runs with short liveness limits (a 500 ms handshake
 * timeout, 300 ms heartbeats), and every hostile peer, once it has sent its
 * octets, waits for the server to close the connection, reading and never
 * answering: a server that never dropped bad peers would fail. Seeded,
 * bounded, and self-stopping.
 */
import assert from "node:assert/strict";
import { encodeMessage } from "../lib/zmtp/frame.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import { RawPeer, readyCommand } from "./_raw_peer.ts";
import {
  concat,
  type HostileEnd,
  hostileInput,
  random,
  sendAndAwaitClose,
  sendAndDrop,
  zmtp2InGoodStanding,
} from "./_hostile.ts";
import { greetingV2, hostileZmtp2Input } from "./_hostile_zmtp2.ts";
import {
  runGoodClients,
  SHORT_LIMITS,
  startTarget,
  stopSwitch,
  TARGET_MAX_MESSAGE_SIZE,
} from "./_load.ts";
import { sleep, within } from "./_process.ts";

const BAD_INPUTS = Number(Deno.env.get("FUZZ_INPUTS") ?? 3000);
const BAD_V2_INPUTS = Number(Deno.env.get("FUZZ_V2_INPUTS") ?? 1000);
const FD_LIMIT = Number(
  new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "ulimit -n"] }).output())
      .stdout,
  ),
) || 1024;
// A connection needs a file descriptor on both sides; stay under the limit
// where it is low (CI runners with 1024).
const BURST = Math.min(
  Number(Deno.env.get("FUZZ_BURST") ?? 1000),
  FD_LIMIT - 200,
);
// Hostile connections open at once, each waiting for the server to close it.
const WORKERS = Math.max(16, Math.min(512, Math.floor((FD_LIMIT - 200) / 2)));
/** How long a hostile peer waits for the server to close it. */
const CLOSE_WITHIN_MS = 3000;
/** The same, for a peer the server may keep (it only counts them). */
const MAY_KEEP_WAIT_MS = 1000;
const HANDSHAKE_TIMEOUT_MS = 500;

/** One hostile connection's input and how it ended. */
interface Outcome {
  family: "ZMTP 3" | "ZMTP/2.0";
  kind: string;
  /** A peer the server may keep: one in good standing that no rule times out. */
  mayKeep: boolean;
  end: HostileEnd;
}

// A ZMTP 3.0 peer (major 3, minor 0) has no PING: once its handshake is done
// nothing times it out, and it may stay.
const zmtp30 = (bytes: Uint8Array) =>
  bytes.length > 11 && bytes[0] === 0xff && bytes[10] === 3 && bytes[11] === 0;

Deno.test(`fuzz: ${BAD_INPUTS} hostile ZMTP 3 and ${BAD_V2_INPUTS} ZMTP/2.0 inputs and a ${BURST}-connection burst: the server closes the bad peers itself, good clients are unharmed`, async () => {
  if (FD_LIMIT < 1200) {
    console.log(
      `fuzz: the open-files limit is ${FD_LIMIT}: ${WORKERS} hostile connections at a time, a burst of ${BURST}`,
    );
  }
  await using ours = await startTarget(SHORT_LIMITS);
  const endpoint = `tcp://127.0.0.1:${ours.port}`;
  const running = stopSwitch();
  const good = runGoodClients(endpoint, 2, 4, running.stopping);

  // The inputs, drawn up front from two seeded generators: every fourth
  // (while both last) a ZMTP/2.0 one.
  const rand3 = random(20261125);
  const rand2 = random(20261126);
  const inputs: {
    family: Outcome["family"];
    kind: string;
    bytes: Uint8Array;
  }[] = [];
  for (let i3 = 0, i2 = 0; i3 < BAD_INPUTS || i2 < BAD_V2_INPUTS;) {
    const v2 = i2 < BAD_V2_INPUTS && (i3 >= BAD_INPUTS || (i3 + i2) % 4 === 3);
    if (v2) {
      i2++;
      inputs.push({ family: "ZMTP/2.0", ...hostileZmtp2Input(rand2) });
    } else {
      i3++;
      inputs.push({ family: "ZMTP 3", ...hostileInput(rand3) });
    }
  }

  const started = Date.now();
  const outcomes: Outcome[] = [];
  let next = 0;
  const workers = Array.from({ length: WORKERS }, async () => {
    while (next < inputs.length) {
      const { family, kind, bytes } = inputs[next++];
      const mayKeep = family === "ZMTP/2.0"
        ? zmtp2InGoodStanding(bytes, TARGET_MAX_MESSAGE_SIZE)
        : zmtp30(bytes);
      const end = await sendAndAwaitClose(
        ours.port,
        bytes,
        mayKeep ? MAY_KEEP_WAIT_MS : CLOSE_WITHIN_MS,
      );
      outcomes.push({ family, kind, mayKeep, end });
    }
  });

  // Peers that complete the handshake and vanish in the middle of a frame:
  // these close themselves, and the server must cope.
  const vanishing = Array.from({ length: 50 }, (_, i) => {
    const message = encodeMessage([new Uint8Array(0), new Uint8Array(300 + i)]);
    return sendAndDrop(
      ours.port,
      concat(
        encodeGreeting(),
        readyCommand("REQ"),
        message.subarray(0, 100 + i),
      ),
      5,
    );
  });

  await Promise.all([...workers, ...vanishing]);
  const hostileMs = Date.now() - started;

  // A thousand connections opened at once, then all dropped.
  const burst = await Promise.allSettled(
    Array.from(
      { length: BURST },
      () => Deno.connect({ hostname: "127.0.0.1", port: ours.port }),
    ),
  );
  const opened = burst.filter((r) => r.status === "fulfilled").length;
  for (const result of burst) {
    if (result.status === "fulfilled") result.value.close();
  }

  await sleep(500);
  running.stop();
  const load = await good;

  const mustClose = outcomes.filter((o) => !o.mayKeep);
  const notClosed = mustClose.filter((o) => !o.end.closedByServer);
  const byKind = new Map<string, { n: number; closed: number; ms: number }>();
  for (const o of outcomes) {
    const key = `${o.family} ${o.kind}`;
    const k = byKind.get(key) ?? { n: 0, closed: 0, ms: 0 };
    k.n++;
    if (o.end.closedByServer) {
      k.closed++;
      k.ms = Math.max(k.ms, o.end.ms);
    }
    byKind.set(key, k);
  }
  const mayKeep = outcomes.filter((o) => o.mayKeep);
  console.log(
    `fuzz: ${outcomes.length} hostile connections in ${hostileMs} ms (${WORKERS} at a time), ` +
      `${
        outcomes.filter((o) => o.end.closedByServer).length
      } closed by the server: ` +
      `${
        mustClose.length - notClosed.length
      } of the ${mustClose.length} it must close; ` +
      `${
        mayKeep.filter((o) => o.end.closedByServer).length
      } of ${mayKeep.length} ` +
      `peers in good standing it may keep (ZMTP/2.0 and 3.0 have no heartbeats). By kind ` +
      `(closed by the server / tried, slowest close): ${
        [...byKind].map(([kind, k]) => `${kind} ${k.closed}/${k.n} ${k.ms} ms`)
          .join(", ")
      }. Also 50 vanishing mid-frame, ${opened} burst connections; ` +
      `good clients: ${load.sent} requests, ${load.correct} correct replies, ${load.timeouts} timeouts`,
  );
  assert.deepEqual(
    notClosed.slice(0, 5).map((o) =>
      `${o.family} ${o.kind} after ${o.end.ms} ms`
    ),
    [],
    `${notClosed.length} bad peers were not closed by the server within ${CLOSE_WITHIN_MS} ms`,
  );
  assert.equal(outcomes.length, BAD_INPUTS + BAD_V2_INPUTS);
  assert.equal(
    opened,
    BURST,
    "every burst connection was accepted by the kernel",
  );
  assert.deepEqual(load.wrong, []);
  assert.equal(load.timeouts, 0, "no good request went unanswered");
  assert.equal(load.correct, load.sent);
  assert.ok(load.sent > 100, `good clients kept going: ${load.sent}`);
  assert.ok(ours.server.running, "the server is still up");
  assert.equal(
    ours.server.stdout.split("\n").length,
    2,
    "nothing but the Waiting line on stdout",
  );
});

Deno.test(`handshake timeout: unfinished greetings and handshakes are closed by the server after ${HANDSHAKE_TIMEOUT_MS} ms, not before`, async () => {
  await using ours = await startTarget(SHORT_LIMITS);
  const greeting = encodeGreeting();
  const peers: [string, Uint8Array][] = [
    ["nothing at all", new Uint8Array(0)],
    ["half a greeting", greeting.subarray(0, 32)],
    ["a greeting and no READY", greeting],
    ["half a ZMTP/2.0 greeting", greetingV2().subarray(0, 6)],
    ["a ZMTP/2.0 greeting without its identity", greetingV2().subarray(0, 12)],
  ];
  const ends = await Promise.all(
    peers.map(([, bytes]) => sendAndAwaitClose(ours.port, bytes, 5000)),
  );
  // And a greeting trickled an octet every 100 ms: the clock runs from the
  // connection, not from the last octet.
  const trickled = await within(
    (async () => {
      const start = performance.now();
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: ours.port,
      });
      try {
        for (const octet of greeting) {
          await conn.write(Uint8Array.of(octet));
          await sleep(100);
        }
        return { closedByServer: false, ms: performance.now() - start };
      } catch {
        return { closedByServer: true, ms: performance.now() - start };
      } finally {
        conn.close();
      }
    })(),
    15_000,
    "the trickled greeting",
  );
  peers.push(["a greeting trickled an octet every 100 ms", greeting]);
  ends.push(trickled);
  console.log(
    `handshake timeout: ${
      peers.map(([what], i) =>
        `${what}: ${
          ends[i].closedByServer ? "closed by the server" : "still open"
        } after ${Math.round(ends[i].ms)} ms`
      ).join("; ")
    }`,
  );
  for (const [i, [what]] of peers.entries()) {
    const { closedByServer, ms } = ends[i];
    assert.ok(closedByServer, `${what}: closed by the server`);
    // The server's clock starts when it accepts, after ours; Date.now()
    // there may round a millisecond down.
    assert.ok(
      ms >= HANDSHAKE_TIMEOUT_MS - 2,
      `${what}: closed at ${ms} ms, before the timeout`,
    );
    // A tick is 75 ms; the rest is a loaded machine's slack.
    assert.ok(
      ms < HANDSHAKE_TIMEOUT_MS + 2000,
      `${what}: closed only at ${ms} ms`,
    );
  }
});

Deno.test({
  name:
    "heartbeats close a silent ZMTP 3.1 peer about 600 ms after it falls silent",
  async fn() {
    await using ours = await startTarget(SHORT_LIMITS);
    using peer = await RawPeer.connect(ours.port);
    await peer.handshake("REQ");
    const start = performance.now();
    // Read (so that nothing backs up), answer nothing: not even PONG.
    const closed = await peer.closedByPeer(3000);
    const ms = performance.now() - start;
    assert.ok(closed, "the server closed the silent peer within 3 s");
    assert.ok(ms >= 550, `closed at ${ms} ms: before PING and its timeout`);
  },
});
