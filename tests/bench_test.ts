/**
 * `deno task bench` works from a clone: a quick run (one round, few
 * requests, 200 idle connections) must finish, check every reply and write
 * its results to the untracked bench/out/, leaving the committed
 * bench/results/ as it was. No figure is asserted: speed targets live in the
 * benchmark, never in a test.
 */
import assert from "node:assert/strict";
import { Proc, ROOT } from "./_process.ts";

async function readOrNothing(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

Deno.test("deno task bench runs every server and load, every reply correct, into bench/out/ and not bench/results/", async () => {
  const tracked = await Promise.all(
    ["latest.json", "latest.svg"].map((name) =>
      readOrNothing(`${ROOT}bench/results/${name}`)
    ),
  );
  const started = Date.now();
  const bench = new Proc(Deno.execPath(), [
    "task",
    "--quiet",
    "bench",
    "--quick",
    "--rounds",
    "1",
    "--idle",
    "200",
  ], { cwd: ROOT });
  const result = await bench.finish(240_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const out = `${ROOT}bench/out`;
  assert.ok(
    (await Deno.stat(`${out}/latest.json`)).mtime!.getTime() >= started - 1000,
    "bench/out/latest.json written by this run",
  );
  const results = JSON.parse(await Deno.readTextFile(`${out}/latest.json`));
  const servers = new Set(
    results.summary.map((row: { server: string }) => row.server),
  );
  assert.deepEqual([...servers].sort(), [
    "echo",
    "node",
    "ours",
    "ours-curve",
    "ours-quiet",
    "python",
    "python-curve",
  ]);
  assert.deepEqual(
    results.handshakes.map((h: { server: string }) => h.server).sort(),
    ["ours-curve", "python-curve"],
    "new CURVE connections measured on both CURVE servers",
  );
  for (const row of results.summary) {
    assert.equal(row.errors, 0, `${row.server} at ${row.connections}`);
    assert.ok(
      row.cpuUsPerRequest.median > 0 && row.requestsPerSecond.median > 0,
    );
  }
  assert.equal(results.idle.connections, 200);
  assert.equal(results.idle.answeredWhileHeld, true);
  assert.match(await Deno.readTextFile(`${out}/latest.svg`), /^<svg /);
  assert.match(result.stdout, /\| ours \| 32 \|/);
  assert.match(result.stdout, /\| ours-curve \| 32 \|/);
  assert.match(
    result.stdout,
    /\n(All 9 targets met|\d of 9 targets MISSED) in this run/,
  );
  assert.deepEqual(
    await Promise.all(
      ["latest.json", "latest.svg"].map((name) =>
        readOrNothing(`${ROOT}bench/results/${name}`)
      ),
    ),
    tracked,
    "bench/results/ untouched",
  );
});

Deno.test("deno task bench --servers ours,echo, a partial run without CURVE, prints each server's figures with every reply correct", async () => {
  const bench = new Proc(Deno.execPath(), [
    "task",
    "--quiet",
    "bench",
    "--servers",
    "ours,echo",
    "--loads",
    "1",
    "--requests",
    "300",
    "--rounds",
    "1",
  ], { cwd: ROOT });
  const result = await bench.finish(120_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const server of ["ours", "echo"]) {
    assert.match(
      result.stdout,
      new RegExp(
        `^${server} +1 conns: [\\d.]+ us/req, \\d+ req/s, p50 \\d+ us, errors 0$`,
        "m",
      ),
    );
  }
});
