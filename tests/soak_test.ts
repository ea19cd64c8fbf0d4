/**
 * A soak run: good clients and hostile peers on one server.ts for
 * SOAK_SECONDS (5 in the test suite, 60 with `deno task soak`). At the end,
 * requests sent must equal correct replies, and the server's memory must
 * have levelled off rather than grown with the run.
 */
import assert from "node:assert/strict";
import { hostileInput, random, sendAndDrop } from "./_hostile.ts";
import { rssKiB, runGoodClients, startTarget, stopSwitch } from "./_load.ts";
import { sleep } from "./_process.ts";

const SECONDS = Number(Deno.env.get("SOAK_SECONDS") ?? 5);

Deno.test(`soak: ${SECONDS} s of good clients and hostile peers, nothing lost, memory bounded`, async () => {
  await using ours = await startTarget();
  const endpoint = `tcp://127.0.0.1:${ours.port}`;
  const running = stopSwitch();
  const good = runGoodClients(endpoint, 2, 4, running.stopping);
  const rand = random(SECONDS);
  let bad = 0;
  const hostile = Array.from({ length: 4 }, async () => {
    while (!running.stopped) {
      bad++;
      await sendAndDrop(
        ours.port,
        hostileInput(rand).bytes,
        rand() < 0.05 ? 50 : 0,
      );
    }
  });
  const samples: number[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(250);
    samples.push(await rssKiB(ours.server.pid));
  }
  running.stop();
  const load = await good;
  await Promise.all(hostile);

  const half = Math.floor(samples.length / 2);
  const firstHalf = Math.max(...samples.slice(0, half));
  const secondHalf = Math.max(...samples.slice(half));
  console.log(
    `soak: ${SECONDS} s, ${load.sent} good requests, ${load.correct} correct replies, ` +
      `${bad} hostile connections; server RSS peak ${
        (firstHalf / 1024).toFixed(1)
      } MiB in the first half, ` +
      `${(secondHalf / 1024).toFixed(1)} MiB in the second`,
  );
  assert.deepEqual(load.wrong, []);
  assert.equal(load.timeouts, 0);
  assert.equal(load.correct, load.sent);
  assert.ok(bad > 0 && load.sent > 0);
  assert.ok(
    secondHalf <= firstHalf * 1.25 + 16 * 1024,
    `RSS kept growing: ${firstHalf} KiB, then ${secondHalf} KiB`,
  );
});
