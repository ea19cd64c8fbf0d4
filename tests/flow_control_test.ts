/**
 * Flow control: a DEALER may pipeline requests and never read a reply. The
 * server must then hold it back (a full queue either way stops reading that
 * peer, and TCP does the rest) instead of queueing without bound, whichever
 * way the application takes requests: server.ts's synchronous serve(), and
 * tests/peers/rep_styles.ts's receive()/send() lockstep, for await, and an
 * async serve() handler. Meanwhile a good client keeps getting every reply.
 *
 * Each run: the server warmed up by the good client, a baseline RSS, then
 * two such DEALERs for six seconds with RSS sampled every 100 ms. The
 * bounds, over the baseline: under 96 MiB at any sample, under 48 MiB on
 * average over the last third of the samples, and the last third flat,
 * within 8 MiB of the middle third. Measured on 2 Dec 2026 (2 cores, under
 * load): peaks of 8 to 18 MiB, last thirds of 8 to 15 MiB.
 *
 * Without the receive mark (removed in a copy, same day), only async-serve
 * fails here (a peak of 162 MiB): the other styles stay within the bounds
 * (lockstep +32 MiB, for-await +37, server.ts +10), held by the send mark
 * (their replies to the DEALERs fill that queue first) and the byte mark.
 * Each mark is proved on its own in tests/pipe_test.ts.
 *
 * The servers run with the V8 flags `deno task server` and server.ts's own
 * #! line give it (a small young generation, slow heap growth): without
 * them V8 sizes its heap for the first second's flood of requests, and
 * keeps it (mostly garbage).
 */
import assert from "node:assert/strict";
import { withholdReads } from "./_hostile.ts";
import { emptyLoad, rssKiB, runGoodClients, stopSwitch } from "./_load.ts";
import {
  deno,
  listening,
  type RunningServer,
  SERVER_V8_FLAGS,
  sleep,
  startServer,
} from "./_process.ts";
import { STYLES } from "./peers/rep_styles.ts";

const HOSTILE_PEERS = 2;
const SECONDS = 6;
const SAMPLE_MS = 100;
const WARM_UP_REQUESTS = 2000;
/** Growth at any sample, from just before the hostile peers start. */
const PEAK_BOUND_KIB = 96 * 1024;
/** Growth on average over the last third of the samples. */
const GROWTH_BOUND_KIB = 48 * 1024;
/** The mean of the last third of the samples over the middle third's. */
const FLAT_BOUND_KIB = 8 * 1024;

const V8_FLAGS = `--v8-flags=${SERVER_V8_FLAGS}`;

function startTarget(style: string): Promise<RunningServer> {
  const flags = [V8_FLAGS];
  if (style === "server.ts") {
    return startServer(["2", "0", "--quiet"], { flags });
  }
  return listening(
    deno("tests/peers/rep_styles.ts", [style, "0"], { flags }),
    /listening on port (\d+)/,
  );
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const mib = (kib: number) => (kib / 1024).toFixed(1);

for (const style of ["server.ts", ...STYLES]) {
  Deno.test(`flow control (${style}): ${HOSTILE_PEERS} DEALERs that never read their replies: memory bounded, a good client served`, async () => {
    await using target = await startTarget(style);
    const { server: proc, port } = target;
    const endpoint = `tcp://127.0.0.1:${port}`;
    const running = stopSwitch();
    const live = emptyLoad();
    const good = runGoodClients(endpoint, 2, 1, running.stopping, 3000, live);
    let hostile: ReturnType<typeof withholdReads>[] = [];
    try {
      // The baseline: the server warmed up serving the good client, before
      // any hostile peer connects.
      const warm = Date.now();
      while (live.correct < WARM_UP_REQUESTS) {
        assert.ok(
          Date.now() - warm < 15_000,
          `the good client got ${live.correct} replies in 15 s`,
        );
        await sleep(SAMPLE_MS);
      }
      let baseline = 0;
      for (let i = 0; i < 5; i++) {
        await sleep(SAMPLE_MS);
        baseline = Math.max(baseline, await rssKiB(proc.pid));
      }
      const t0 = Date.now();
      hostile = Array.from(
        { length: HOSTILE_PEERS },
        () => withholdReads(port, running.stopping),
      );
      const samples: number[] = [];
      while (Date.now() - t0 < SECONDS * 1000) {
        await sleep(SAMPLE_MS);
        samples.push(await rssKiB(proc.pid));
      }
      running.stop();
      const [load, withheld] = await Promise.all([
        good,
        Promise.all(hostile.map((h) => h.done)),
      ]);

      const third = Math.floor(samples.length / 3);
      const middle = mean(samples.slice(third, 2 * third));
      const last = mean(samples.slice(2 * third));
      const peak = Math.max(...samples);
      console.log(
        `flow control (${style}): RSS ${mib(baseline)} MiB before; over it, ` +
          `peak +${mib(peak - baseline)} MiB (bound +${
            mib(PEAK_BOUND_KIB)
          }), ` +
          `middle third +${mib(middle - baseline)}, last third +${
            mib(last - baseline)
          } (bound +${mib(GROWTH_BOUND_KIB)}, and +${
            mib(FLAT_BOUND_KIB)
          } over the middle); the hostile peers wrote ${
            withheld.map((w) => `${(w.written / 1048576).toFixed(1)} MiB`)
              .join(" and ")
          } (the last of it at ${
            withheld.map((w) => `${w.lastProgress - t0} ms`).join(" and ")
          }); good client: ${load.sent} requests, ${load.correct} correct, ${load.timeouts} timeouts`,
      );
      assert.ok(proc.running, "the server is still up");
      assert.ok(
        peak - baseline < PEAK_BOUND_KIB,
        `RSS peaked ${mib(peak - baseline)} MiB over the baseline, over the ${
          mib(PEAK_BOUND_KIB)
        } MiB bound`,
      );
      assert.ok(
        last - baseline < GROWTH_BOUND_KIB,
        `RSS stayed ${mib(last - baseline)} MiB over the baseline, over the ${
          mib(GROWTH_BOUND_KIB)
        } MiB bound`,
      );
      assert.ok(
        last - middle < FLAT_BOUND_KIB,
        `RSS still growing: middle third ${mib(middle)} MiB, last third ${
          mib(last)
        } MiB`,
      );
      for (const w of withheld) {
        assert.equal(
          w.failed,
          false,
          "a legal DEALER is held back, not dropped",
        );
      }
      assert.deepEqual(load.wrong, []);
      assert.equal(load.timeouts, 0, "no good request went unanswered");
      assert.equal(load.correct, load.sent);
    } finally {
      running.stop();
      await Promise.allSettled([good, ...hostile.map((h) => h.done)]);
    }
  });
}
