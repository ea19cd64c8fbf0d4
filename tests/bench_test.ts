/**
 * `deno task bench` works from a clone: a quick run (one round, few
 * requests, 200 idle connections) must finish, check every reply and write
 * its results. No figure is asserted: speed targets live in the benchmark,
 * never in a test.
 */
import assert from "node:assert/strict";
import { Proc, ROOT } from "./_process.ts";

Deno.test("deno task bench runs every server and load, every reply correct", async () => {
  const out = await Deno.makeTempDir({ prefix: "multiply-bench-" });
  try {
    const bench = new Proc(Deno.execPath(), [
      "task",
      "--quiet",
      "bench",
      "--quick",
      "--rounds",
      "1",
      "--idle",
      "200",
      "--out",
      out,
    ], { cwd: ROOT });
    const result = await bench.finish(240_000);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const results = JSON.parse(await Deno.readTextFile(`${out}/latest.json`));
    const servers = new Set(
      results.summary.map((row: { server: string }) => row.server),
    );
    assert.deepEqual([...servers].sort(), [
      "echo",
      "node",
      "ours",
      "ours-quiet",
      "python",
    ]);
    for (const row of results.summary) {
      assert.equal(row.errors, 0, `${row.server} at ${row.connections}`);
      assert.ok(row.cpuUsPerRequest > 0 && row.requestsPerSecond > 0);
    }
    assert.equal(results.idle.connections, 200);
    assert.equal(results.idle.answeredWhileHeld, true);
    assert.match(await Deno.readTextFile(`${out}/latest.svg`), /^<svg /);
    assert.match(result.stdout, /\| ours \| 32 \|/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
