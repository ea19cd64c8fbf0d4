/**
 * Liveness across real, separate network stacks (tests/_netns.ts): a
 * broker, two servers and a client each in a network namespace of their
 * own, and one server's link cut silently (no FIN, no RST, no carrier loss):
 * only heartbeats can tell. Skipped, with the reason in the name, where
 * namespaces cannot be made (not root, no `ip`).
 */
import assert from "node:assert/strict";
import {
  greetedAt,
  Lab,
  labTest,
  netnsAvailable,
  type TcpSocket,
} from "./_netns.ts";
import { lines } from "./_process.ts";

const reason = await netnsAvailable();
const PORT = 5555;
const HEARTBEAT = 500;

labTest(
  reason,
  "netns: a server whose link to the broker is cut silently finds out within its heartbeat; the client's retries are all answered, during the cut and after it",
  async () => {
    await using lab = await Lab.create();
    const broker = lab.address("broker");
    await using _proxy = await lab.broker("broker", PORT);
    const backend = lab.endpoint("broker", PORT + 1);
    const serverArgs = (m: string) => [
      m,
      "--connect",
      backend,
      "--heartbeat",
      String(HEARTBEAT),
    ];
    await using doubler = lab.deno("server1", "server.ts", serverArgs("2"));
    await using _tripler = lab.deno("server2", "server.ts", serverArgs("3"));
    // Both servers have greeted the broker's backend.
    const greeted = (server: string) => (s: TcpSocket) =>
      greetedAt(s, `${broker}:${PORT + 1}`, lab.address(server));
    await lab.waitForSockets("broker", greeted("server1"), {
      what: "from server1",
    });
    await lab.waitForSockets("broker", greeted("server2"), {
      what: "from server2",
    });

    const ask = async (numbers: number[]) => {
      const client = lab.deno("client", "client.ts", [
        String(PORT),
        broker,
        "--timeout",
        "1500",
        "--retries",
        "6",
      ], { input: lines(numbers) });
      const result = await client.finish(60_000);
      assert.equal(result.code, 0, result.stderr);
      const replies = result.stdout.trim().split("\n").map(Number);
      assert.equal(replies.length, numbers.length, result.stdout);
      replies.forEach((reply, i) =>
        assert.ok(
          reply === 2 * numbers[i] || reply === 3 * numbers[i],
          `${numbers[i]} gave ${reply}`,
        )
      );
      return replies.map((reply, i) => reply / numbers[i]);
    };

    await lab.cut("server1");
    const t0 = performance.now();
    await doubler.waitFor(/dropped a silent peer/, 10_000, "stderr");
    const detected = performance.now() - t0;
    console.log(
      `server1 found its link cut ${
        detected.toFixed(0)
      } ms after (--heartbeat ${HEARTBEAT})`,
    );
    // A PING after HEARTBEAT ms of silence, then HEARTBEAT ms for an
    // answer, seen by a tick a quarter-heartbeat late at most; margin for a
    // loaded machine.
    assert.ok(
      detected < 2 * HEARTBEAT + HEARTBEAT / 4 + 1000,
      `found the cut after ${detected.toFixed(0)} ms`,
    );

    // During the cut, the broker still counts server1 in: what it sends
    // there is lost, and the client's retries reach server2.
    const during = await ask([1, 2, 3, 4, 5, 6]);
    assert.ok(during.every((m) => m === 3), `multipliers ${during}`);

    await lab.restore("server1");
    // server1 reconnects (its dialer's next attempt after the link is back).
    await lab.waitForSockets("broker", greeted("server1"), {
      ms: 20_000,
      what: "from server1 again",
    });
    const after = await ask([7, 8, 9, 10, 11, 12, 13, 14]);
    assert.ok(after.includes(2), `server1 serves again: multipliers ${after}`);
    await doubler.waitFor(/received: \d+ sending: /);
  },
);
