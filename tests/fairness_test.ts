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
 */
import assert from "node:assert/strict";
import { EXPECTED, LOADGEN, REQUEST, runLoadgen } from "../bench/loadgen.ts";
import { openFilesLimit } from "./_load.ts";
import { startServer } from "./_process.ts";

const CONNECTIONS = 512;

Deno.test("server.ts serves each of 512 connections keeping a request in flight at least a quarter as often as the best served, and answers and logs exactly the requests sent", async () => {
  await Deno.stat(LOADGEN).catch(() => {
    throw new Error("bench/out/loadgen is not built: run tools/setup");
  });
  // The server inherits this process's limit and needs a descriptor per
  // connection (the generator raises its own); .ci/run raises it.
  const limit = await openFilesLimit();
  assert.ok(
    limit >= CONNECTIONS + 200,
    `open files are limited to ${limit}: raise it with ulimit -n`,
  );
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
