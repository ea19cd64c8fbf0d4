/**
 * `deno task compile` builds standalone server and client binaries. Deno
 * downloads its `denort` runtime for that, which this network cannot reach,
 * so the test runs only when DENORT_BIN points at a denort binary.
 */
import assert from "node:assert/strict";
import { freePort, Proc, ROOT } from "./_process.ts";

const denort = Deno.env.get("DENORT_BIN");
const reason =
  "skipped: DENORT_BIN is not set and denort cannot be downloaded here";

Deno.test({
  name: `deno task compile builds server and client binaries that work${
    denort ? "" : ` (${reason})`
  }`,
  ignore: !denort,
  async fn() {
    const build = new Proc(Deno.execPath(), ["task", "compile"], {
      env: { DENORT_BIN: denort! },
    });
    const built = await build.finish(180_000);
    assert.equal(built.code, 0, built.stderr);
    const port = freePort();
    await using server = new Proc(`${ROOT}dist/server`, ["5", String(port)]);
    await server.waitFor(/Waiting for clients on port/);
    const client = new Proc(`${ROOT}dist/client`, [String(port)], {
      input: "100\n1000\n",
    });
    const result = await client.finish();
    assert.equal(result.stdout, "500.0\n5000.0\n", result.stderr);
  },
});
