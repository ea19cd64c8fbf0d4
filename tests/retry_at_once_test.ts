/**
 * docs/guide.md's promise that a request whose server goes away (its
 * connection closes) is sent again at once to a server that is up, without
 * waiting for --timeout: one server takes each request and closes the
 * connection; the client, with a 20 s timeout, must still be done with four
 * requests in well under that.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RawListener, RawPeer } from "./_raw_peer.ts";
import { runClient, startServer } from "./_process.ts";

Deno.test("client.ts sends a request again at once when its server closes the connection holding it, not after --timeout", async () => {
  await using good = await startServer(["2", "0", "--quiet"]);
  const dropping = new RawListener();
  let dropped = 0;
  // Takes each connection's request and closes the connection unanswered.
  const serving = (async () => {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await dropping.listener.accept();
      } catch {
        return; // the listener is closed
      }
      const peer = new RawPeer(conn);
      try {
        await peer.handshake("REP");
        const request = await peer.next(30_000);
        if (request.kind === "message") dropped++;
      } catch {
        // The client went first; nothing to count.
      } finally {
        peer.close();
      }
    }
  })();
  try {
    const t0 = performance.now();
    const result = await runClient(
      [
        "--connect",
        dropping.endpoint,
        "--connect",
        `tcp://127.0.0.1:${good.port}`,
        "--timeout",
        "20000",
        "--retries",
        "3",
      ],
      "1\n2\n3\n4\n",
      15_000,
    );
    const ms = performance.now() - t0;
    console.log(
      `${dropped} requests dropped with their connection; four answered in ${
        ms.toFixed(0)
      } ms`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "2.0\n4.0\n6.0\n8.0\n");
    assert.ok(dropped >= 1, "the dropping server took a request");
    assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms: waited for --timeout`);
  } finally {
    dropping[Symbol.dispose]();
    await serving;
  }
});
