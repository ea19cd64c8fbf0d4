/**
 * Hostile input against a real server.ts: thousands of random, truncated
 * and oversized greetings and frames, a greeting one octet a second, peers
 * that vanish mid-frame, and a thousand connections opened and dropped at
 * once, while well-behaved clients on the same server must get every reply,
 * correct. Seeded, bounded, and self-stopping.
 */
import assert from "node:assert/strict";
import { encodeMessage } from "../lib/zmtp/frame.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import { readyCommand } from "./_raw_peer.ts";
import { concat, hostileInput, random, sendAndDrop } from "./_hostile.ts";
import { runGoodClients, startTarget, stopSwitch } from "./_load.ts";
import { sleep } from "./_process.ts";

const BAD_INPUTS = Number(Deno.env.get("FUZZ_INPUTS") ?? 3000);
// A burst needs a file descriptor per connection on both sides; stay under
// the limit where it is low (CI runners with 1024).
const FD_LIMIT = Number(
  new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "ulimit -n"] }).output())
      .stdout,
  ),
) || 1024;
const BURST = Math.min(
  Number(Deno.env.get("FUZZ_BURST") ?? 1000),
  FD_LIMIT - 200,
);

Deno.test(`fuzz: ${BAD_INPUTS} hostile inputs and a ${BURST}-connection burst leave good clients unharmed`, async () => {
  await using ours = await startTarget();
  const endpoint = `tcp://127.0.0.1:${ours.port}`;
  const running = stopSwitch();
  const good = runGoodClients(endpoint, 2, 4, running.stopping);

  const rand = random(20261125);
  const kinds = new Map<string, number>();
  let tried = 0;
  const workers = Array.from({ length: 16 }, async () => {
    while (tried < BAD_INPUTS) {
      tried++;
      const { kind, bytes } = hostileInput(rand);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      await sendAndDrop(ours.port, bytes, rand() < 0.1 ? 20 : 0);
    }
  });

  // A greeting one octet a second, for a few seconds, alongside.
  const slow = (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: ours.port });
    const greeting = encodeGreeting();
    for (let i = 0; i < 4; i++) {
      await conn.write(greeting.subarray(i, i + 1));
      await sleep(1000);
    }
    conn.close();
  })();

  // Peers that complete the handshake and vanish in the middle of a frame.
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

  await slow;
  await sleep(500);
  running.stop();
  const load = await good;
  const total = tried + 50 + 1 + opened;
  console.log(
    `fuzz: ${total} bad inputs tried (${
      [...kinds].map(([k, n]) => `${n} ${k}`).join(", ")
    }, 50 vanishing mid-frame, 1 slow greeting, ${opened} burst connections); ` +
      `good clients: ${load.sent} requests, ${load.correct} correct replies, ${load.timeouts} timeouts`,
  );
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
