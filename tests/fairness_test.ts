/**
 * No connection starves: 512 connections to the real server.ts, each
 * keeping one request in flight for a few seconds (bench/loadgen, the C
 * closed-loop generator that tools/setup builds), all get replies, none
 * gets fewer than a quarter of the replies of the best served, and the
 * totals are exact. Not a timing test: nothing is asserted about how fast
 * or how long, only who was served and how many times. A server that takes
 * turns (libzmq's fair queue does) gives each connection nearly the same
 * count whatever the machine's speed; one that serves the connections that
 * answer fastest again and again, as Deno.Conn's reads do at this load,
 * leaves others with a few replies or none.
 *
 * The second test starts from idle: 2,048 connections handshake, then all
 * send at once, so each of the server's reads had been pending, idle, when
 * its request came. Without lib/zmtp/read_turns.ts's hold, the connections
 * served first read again and overtook the rest: when the last had its
 * first reply, one had had 8-16. The least served then gets at least half
 * the most served's replies (0.79-0.99 of them, measured).
 */
import assert from "node:assert/strict";
import { EXPECTED, LOADGEN, REQUEST, runLoadgen } from "../bench/loadgen.ts";
import { openFilesLimit } from "./_load.ts";
import { startServer } from "./_process.ts";

const CONNECTIONS = 512;
const BURST = 2048;

// bench/loadgen is built, and the server, which inherits this process's
// limit and needs a descriptor per connection (the generator raises its
// own), may open them; .ci/run raises the limit.
async function checkCanRun(connections: number): Promise<void> {
  await Deno.stat(LOADGEN).catch(() => {
    throw new Error("bench/out/loadgen is not built: run tools/setup");
  });
  const limit = await openFilesLimit();
  assert.ok(
    limit >= connections + 200,
    `open files are limited to ${limit}: raise it with ulimit -n`,
  );
}

Deno.test("server.ts serves each of 512 connections keeping a request in flight at least a quarter as often as the best served, and answers and logs exactly the requests sent", async () => {
  await checkCanRun(CONNECTIONS);
  // Logging on: one line per request the server answered, read to the end.
  await using running = await startServer(["2", "0"]);
  const result = await runLoadgen({
    port: running.port,
    connections: CONNECTIONS,
    warmupMs: 500,
    durationMs: 3000,
    mode: "zmtp",
  });
  running.server.kill("SIGTERM");
  const { code, stdout } = await running.server.finish(30_000);
  assert.equal(code, 0, "server.ts stopped cleanly on SIGTERM");

  assert.equal(result.connections, CONNECTIONS);
  assert.equal(result.errors, 0, "no connection lost or refused");
  assert.equal(result.mismatches, 0, `every reply is ${EXPECTED}`);
  assert.equal(
    result.per_connection.zero,
    0,
    `connections with no reply in the window (least ${result.per_connection.min}, most ${result.per_connection.max})`,
  );
  assert.ok(result.per_connection.min > 0);
  assert.ok(
    result.per_connection.min * 4 >= result.per_connection.max,
    `the least served connection got ${result.per_connection.min} replies, under a quarter of the most served's ${result.per_connection.max}`,
  );
  assert.ok(result.requests >= CONNECTIONS * result.per_connection.min);
  assert.ok(result.requests <= CONNECTIONS * result.per_connection.max);

  // Exact totals: the generator waited for every reply still due after its
  // window, so each request it sent was answered once; and the server's log
  // holds one line per request, no more and no fewer.
  assert.ok(
    result.sent !== undefined && result.replies !== undefined,
    "bench/loadgen reports sent and replies over the whole run",
  );
  assert.equal(result.replies, result.sent, "every request answered");
  const [banner, ...log] = stdout.trimEnd().split("\n");
  assert.match(banner, /^Waiting for clients on port '\d+'/);
  const line = `received: ${REQUEST} sending: ${EXPECTED}`;
  const other = log.find((l) => l !== line);
  assert.equal(other, undefined, `every log line is "${line}"`);
  assert.equal(log.length, result.sent, "one log line per request sent");
  assert.ok(result.requests <= result.replies!);
});

Deno.test("server.ts answers the first wave from 2,048 idle connections nearly in turn (each has its first reply before any has its seventh) and serves each at least half as often as the best served", async () => {
  await checkCanRun(BURST);
  await using running = await startServer(["2", "0", "--quiet"]);
  // The generator connects and handshakes every connection, then sends on
  // all at once: each server-side read had been pending, idle, until then.
  // Not a timing test: only the order of replies is asserted.
  for (let wave = 1; wave <= 2; wave++) {
    const result = await runLoadgen({
      port: running.port,
      connections: BURST,
      warmupMs: 0,
      durationMs: 1000,
      mode: "zmtp",
    });
    assert.equal(result.errors, 0, "no connection lost or refused");
    assert.ok(
      result.per_connection.min * 2 >= result.per_connection.max,
      `run ${wave}: the least served connection got ${result.per_connection.min} replies, under half the most served's ${result.per_connection.max}`,
    );
    assert.equal(result.mismatches, 0, `every reply is ${EXPECTED}`);
    assert.ok(
      result.first_round_max !== undefined,
      "bench/loadgen reports first_round_max: rebuild it (tools/setup)",
    );
    assert.ok(
      result.first_round_max <= 6,
      `run ${wave}: when the last of ${BURST} connections had its first reply, one had ${result.first_round_max}`,
    );
  }
  running.server.kill("SIGTERM");
  const { code } = await running.server.finish(30_000);
  assert.equal(code, 0, "server.ts stopped cleanly on SIGTERM");
});
