/**
 * A stdout nobody reads: server.ts logs every request, to a pipe that fills
 * (64 KiB) and is never drained, then to its own log buffer (1 MiB), and
 * then drops log lines. Replies must go on throughout; stderr says once that
 * lines are being dropped; SIGTERM still ends the server within a second,
 * and its stderr names how many lines were dropped.
 */
import assert from "node:assert/strict";
import { Request } from "../lib/zmtp/mod.ts";
import { emptyLoad, runGoodClients, stopSwitch } from "./_load.ts";
import { deno, freePort, sleep, within } from "./_process.ts";

const CLIENTS = 4;
/** Requests answered after the first dropped line, before SIGTERM. */
const AFTER_DROPPING = 20_000;
const DROPPING = /stdout is not being read: dropping log lines/;

Deno.test("stdout not read: replies go on, log lines are dropped and counted, SIGTERM ends the server within a second", async () => {
  const port = freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  // server.ts with stdout on a pipe that is never read; stderr collected.
  await using server = deno("server.ts", ["2", String(port)], {
    unreadStdout: true,
  });

  // Up and answering: one request, with time for the server to start.
  const probe = new Request({ receiveTimeout: 15_000, linger: 0 });
  try {
    probe.connect(endpoint);
    await probe.send("1");
    const [reply] = await probe.receive();
    assert.equal(new TextDecoder().decode(reply), "2.0");
  } finally {
    await probe.close();
  }

  const running = stopSwitch();
  const live = emptyLoad();
  const good = runGoodClients(
    endpoint,
    2,
    CLIENTS,
    running.stopping,
    3000,
    live,
  );
  let atFirstDrop = 0;
  try {
    await server.waitFor(DROPPING, 60_000, "stderr");
    atFirstDrop = live.correct;
    await within(
      (async () => {
        while (live.correct < atFirstDrop + AFTER_DROPPING) {
          await sleep(50);
        }
      })(),
      60_000,
      `${AFTER_DROPPING} more replies while dropping`,
    );
  } finally {
    running.stop();
  }
  const load = await good;

  const t0 = performance.now();
  server.child.kill("SIGTERM");
  const status = await within(server.child.status, 10_000, "server exiting");
  const exitMs = performance.now() - t0;
  // stderr ends with the process.
  await server.waitFor(/log lines were dropped/, 5_000, "stderr")
    .catch(() => {});
  const dropped = Number(
    /server: (\d+) log lines were dropped while stdout was not read/.exec(
      server.stderr,
    )?.[1],
  );
  console.log(
    `stdout blocked: ${load.sent + 1} requests, ${
      load.correct + 1
    } correct replies (${atFirstDrop} before the first dropped line, ${
      load.correct - atFirstDrop
    } after), ${load.timeouts} timeouts; ${dropped} log lines dropped; ` +
      `exit ${status.code} ${exitMs.toFixed(0)} ms after SIGTERM`,
  );
  assert.deepEqual(load.wrong, []);
  assert.equal(load.timeouts, 0, "no request went unanswered");
  assert.equal(load.correct, load.sent);
  assert.equal(
    server.stderr.match(new RegExp(DROPPING, "g"))?.length,
    1,
    `the drop is said once:\n${server.stderr}`,
  );
  // Nothing drains the pipe: every line after the first dropped one is
  // dropped too.
  assert.ok(
    dropped >= load.correct - atFirstDrop && dropped <= load.sent + 1,
    `stderr names the lines dropped (${
      load.correct - atFirstDrop
    } at least):\n${server.stderr}`,
  );
  assert.equal(status.code, 0, `exit status:\n${server.stderr}`);
  assert.ok(exitMs < 1000, `SIGTERM took ${exitMs.toFixed(0)} ms`);
});
