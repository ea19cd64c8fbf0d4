/**
 * The network-namespace lab of tests/_netns.ts, proved with real processes:
 * our programs answer each other across it, a cut link drops everything
 * silently until restored, its blackholes keep a connect pending, and it
 * leaves nothing behind. Each test that needs namespaces is skipped, with
 * the reason in its name, where they cannot be made (not root, no `ip`).
 *
 * `NETNS_MEASURE=1` adds a measurement that takes about 16 minutes: how long
 * the kernel itself takes to give up a connect and a write.
 */

import assert from "node:assert/strict";
import {
  blackholeEndpoint,
  command,
  CommandError,
  greetedAt,
  Lab,
  labTest,
  listNamespaces,
  netnsAvailable,
  ourNamespaces,
  PREFIX,
  tcpSockets,
  waitForSockets,
} from "./_netns.ts";
import { lines, type Proc } from "./_process.ts";

const reason = await netnsAvailable();

const PORT = 5555;
const PROBE = "tests/_tcp_probe.ts";

/**
 * The kernel-timing scene: a probe listening in server1, one in client
 * connected to it and one connecting to an address nobody has; then the
 * link of server1 is cut and the connected probe writes into it.
 */
async function probesAcrossCut(lab: Lab) {
  await using stack = new AsyncDisposableStack();
  const options = { interactiveStdin: true };
  const server = stack.use(
    lab.deno("server1", PROBE, [
      "listen",
      lab.address("server1"),
      String(PORT),
    ], options),
  );
  await server.waitFor(/^listening /m);
  const talker = stack.use(
    lab.deno("client", PROBE, [
      "connect",
      lab.address("server1"),
      String(PORT),
    ], options),
  );
  await talker.waitFor(/^connected 0/m);
  const toVoid = stack.use(
    lab.deno("client", PROBE, [
      "connect",
      lab.blackholeAddress,
      String(PORT),
    ]),
  );
  await lab.cut("server1");
  await talker.write("send 0 lost\n");
  const owned = stack.move();
  return {
    talker,
    toVoid,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

labTest(
  reason,
  "netns lab: client.ts in 'client' is answered by server.ts in 'server1'",
  async () => {
    await using lab = await Lab.create();
    const host = lab.address("server1");
    await using server = lab.deno("server1", "server.ts", [
      "2",
      String(PORT),
      host,
    ]);
    await server.waitFor(new RegExp(`Waiting for clients on port '${PORT}'`));
    const client = lab.deno("client", "client.ts", [String(PORT), host], {
      input: "3\n21\n",
    });
    const result = await client.finish(15_000);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "6.0\n42.0\n");
    await server.waitFor(/received: 21 sending: 42\.0/);
  },
);

labTest(
  reason,
  "netns lab: broker.py in 'broker' shares a client's requests between both servers",
  async () => {
    await using lab = await Lab.create();
    const broker = lab.address("broker");
    await using _proxy = await lab.broker("broker", PORT);
    const backend = lab.endpoint("broker", PORT + 1);
    await using _two = lab.deno("server1", "server.ts", [
      "2",
      "--connect",
      backend,
    ]);
    await using _three = lab.deno("server2", "server.ts", [
      "3",
      "--connect",
      backend,
    ]);
    // Both servers are connected to the backend and have sent their ZMTP
    // greeting (64 octets) and more (READY), as the broker's stack sees it.
    await lab.waitForSockets(
      "broker",
      (s) => greetedAt(s, `${broker}:${PORT + 1}`),
      { count: 2, what: "greeted by the servers" },
    );
    const numbers = Array.from({ length: 10 }, (_, i) => i + 1);
    const client = lab.deno("client", "client.ts", [String(PORT), broker], {
      input: lines(numbers),
    });
    const result = await client.finish(15_000);
    assert.equal(result.code, 0, result.stderr);
    const replies = result.stdout.trim().split("\n").map(Number);
    assert.equal(replies.length, numbers.length);
    replies.forEach((reply, i) =>
      assert.ok([2, 3].map((m) => m * numbers[i]).includes(reply), `${reply}`)
    );
    assert.ok(replies.some((reply, i) => reply === 2 * numbers[i]), "2x");
    assert.ok(replies.some((reply, i) => reply === 3 * numbers[i]), "3x");
  },
);

labTest(
  reason,
  "netns lab: a cut link passes no data, FIN or RST until restored, then traffic flows",
  async () => {
    await using lab = await Lab.create({ hosts: ["server1", "client"] });
    const server1 = lab.address("server1");
    const options = { interactiveStdin: true };
    await using server = lab.deno("server1", PROBE, [
      "listen",
      server1,
      String(PORT),
    ], options);
    await server.waitFor(/^listening /m);
    await using talker = lab.deno("client", PROBE, [
      "connect",
      server1,
      String(PORT),
    ], options);
    await server.waitFor(/^accepted 0$/m);
    await using closed = lab.deno("client", PROBE, [
      "connect",
      server1,
      String(PORT),
    ], options);
    await server.waitFor(/^accepted 1$/m);
    await talker.write("send 0 before\n");
    await server.waitFor(/^data 0 before$/m);

    await lab.cut("server1");
    await talker.write("send 0 from-client\n"); // data one way
    await server.write("send 0 from-server\n"); // data the other way
    await server.write("close 1\n"); // a FIN
    await server.waitFor(/^closed 1$/m);
    // Both stacks send again and again: their segments are being lost.
    await lab.waitForRetransmits("client", `${server1}:${PORT}`, 2);
    await lab.waitForRetransmits("server1", lab.address("client"), 2);
    assert.doesNotMatch(server.stdout, /from-client|^eof|^error/m);
    assert.doesNotMatch(talker.stdout, /from-server|^eof|^error/m);
    assert.doesNotMatch(closed.stdout, /^eof|^error/m, "no FIN, no RST");
    const states = (await lab.sockets("client")).map((s) => s.state);
    assert.deepEqual(states, ["ESTAB", "ESTAB"], "the client knows of nothing");
    const link = await lab.exec("server1", "ip", ["link", "show", "eth0"]);
    assert.match(link, /LOWER_UP/, "the host itself sees no carrier loss");

    await lab.restore("server1");
    // What was lost is sent again, and arrives, once: after the next timeout.
    await server.waitFor(/^data 0 from-client$/m, 10_000);
    await talker.waitFor(/^data 0 from-server$/m, 10_000);
    await closed.waitFor(/^eof 0$/m, 10_000);
    await talker.write("send 0 after\n");
    await server.waitFor(/^data 0 after$/m, 5_000);
    assert.doesNotMatch(server.stdout + talker.stdout, /^error/m);
  },
);

labTest(
  reason,
  "netns lab: connects to the void address and to a cut host stay pending until aborted",
  async () => {
    await using lab = await Lab.create({ hosts: ["server1", "client"] });
    await using hole = await blackholeEndpoint({ lab });
    assert.equal(hole.technique, "lab-void");
    await using server = lab.deno("server1", PROBE, [
      "listen",
      lab.address("server1"),
      String(PORT),
    ]);
    await server.waitFor(/^listening /m);
    await lab.cut("server1");
    // 3.5 s: longer than ARP would take to fail (3 s, then EHOSTUNREACH) if
    // the lab had not made every neighbour entry permanent.
    const abortAfter = 3_500;
    await using toVoid = lab.deno("client", PROBE, [
      "connect",
      hole.hostname,
      String(hole.port),
      String(abortAfter),
    ]);
    await using toCut = lab.deno("client", PROBE, [
      "connect",
      lab.address("server1"),
      String(PORT),
      String(abortAfter),
    ]);
    const pending = await lab.waitForSockets(
      "client",
      (s) => s.state === "SYN-SENT" && s.retransmits >= 1,
      { count: 2, what: "sending their SYN again" },
    );
    assert.deepEqual(
      pending.map((s) => s.peer.split(":")[0]).sort(),
      [lab.address("server1"), hole.hostname].sort(),
    );
    for (const probe of [toVoid, toCut]) {
      const [, total, after] = await probe.waitFor(
        /^connect-aborted ([\d.]+) ([\d.]+)$/m,
        10_000,
      );
      assert.ok(Number(total) >= abortAfter, total);
      assert.ok(Number(after) < 100, `abort took ${after} ms`);
    }
    assert.equal(server.stdout.match(/^accepted/m), null);
    // An aborted connect leaves no socket behind.
    assert.deepEqual(await lab.sockets("client"), []);
  },
);

Deno.test("blackholeEndpoint() on loopback: Deno.connect stays pending, and its AbortSignal ends it at once", async () => {
  await using hole = await blackholeEndpoint();
  assert.equal(hole.technique, "full-backlog");
  assert.match(hole.endpoint, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  const peer = `${hole.hostname}:${hole.port}`;
  const controller = new AbortController();
  let settled = false;
  const connecting = Deno.connect({
    hostname: hole.hostname,
    port: hole.port,
    signal: controller.signal,
  }).finally(() => settled = true);
  // The SYN is sent again after 1 s: nothing answered it.
  await waitForSockets(
    (s) => s.state === "SYN-SENT" && s.peer === peer && s.retransmits >= 1,
    { ms: 5_000, what: `sending a SYN to ${peer} again` },
  );
  assert.equal(settled, false);
  const start = performance.now();
  controller.abort();
  await assert.rejects(connecting, { name: "AbortError" });
  const ms = performance.now() - start;
  assert.ok(ms < 100, `abort took ${ms.toFixed(1)} ms`);
  assert.deepEqual(
    (await tcpSockets()).filter((s) => s.peer === peer && s.state !== "ESTAB"),
    [],
    "the aborted connect's socket is closed",
  );
});

labTest(
  reason,
  "netns lab: the kernel gives up a connect and a write on its own only when its retries run out",
  async () => {
    // Shortened in 'client' alone (defaults 6 and 15: see the measurement).
    await using lab = await Lab.create({
      hosts: ["server1", "client"],
      setup: async (lab) => {
        await lab.sysctl("client", "net.ipv4.tcp_syn_retries", 2);
        await lab.sysctl("client", "net.ipv4.tcp_retries2", 3);
      },
    });
    await using probes = await probesAcrossCut(lab);
    const { talker, toVoid } = probes;
    const [, name, ms] = await toVoid.waitFor(
      /^connect-failed (\S+) ([\d.]+)$/m,
      15_000,
    );
    assert.equal(name, "TimedOut");
    assert.ok(Number(ms) >= 3_000, `connect failed after ${ms} ms`);
    const [, error, seconds] = await talker.waitFor(
      /^error 0 (\S+) ([\d.]+)$/m,
      15_000,
    );
    assert.equal(error, "TimedOut");
    assert.ok(Number(seconds) >= 1, `write failed after ${seconds} s`);
  },
);

labTest(
  reason,
  "netns lab: dispose removes every namespace and interface, after a failed set-up too, and sweeps stale ones",
  async () => {
    const links = () => command("ip", ["-o", "link", "show"]);
    const before = await links();
    // A namespace left by a run that was killed: its pid is no more.
    const ended = new Deno.Command("true").spawn();
    await ended.status;
    const stale = `${PREFIX}-${ended.pid}-0-client`;
    await command("ip", ["netns", "add", stale]);
    let id: string;
    let sleeper: Proc;
    {
      await using lab = await Lab.create();
      id = lab.id;
      assert.ok(!(await listNamespaces()).includes(stale), "stale swept");
      const ours = (await ourNamespaces()).filter((n) =>
        n.startsWith(`${id}-`)
      );
      assert.equal(ours.length, 5, `${ours}`);
      sleeper = lab.run("server2", "sleep", ["60"]);
      assert.ok(sleeper.running);
    }
    assert.equal(sleeper.running, false, "what ran in the lab is stopped");
    assert.deepEqual(
      (await listNamespaces()).filter((n) => n.startsWith(`${id}-`)),
      [],
    );
    let failed = "";
    await assert.rejects(
      Lab.create({
        setup: async (lab) => {
          failed = lab.id;
          await lab.exec("client", "false", []);
        },
      }),
      CommandError,
    );
    assert.notEqual(failed, "");
    assert.deepEqual(
      (await listNamespaces()).filter((n) => n.startsWith(`${failed}-`)),
      [],
    );
    // Lab interfaces live in lab namespaces only: the machine's are as before.
    const names = (text: string) =>
      text.split("\n").map((line) => line.split(":")[1]?.trim()).filter(Boolean)
        .sort();
    assert.deepEqual(names(await links()), names(before));
  },
);

Deno.test({
  name:
    "netns lab: measure how long the kernel takes to give up a connect and a write (NETNS_MEASURE=1, ~16 min)",
  ignore: reason !== undefined || Deno.env.get("NETNS_MEASURE") !== "1",
  fn: async () => {
    await using lab = await Lab.create({ hosts: ["server1", "client"] });
    const sysctl = (key: string) =>
      lab.exec("client", "cat", [`/proc/sys/net/ipv4/${key}`]);
    console.log(
      `client: tcp_syn_retries ${(await sysctl("tcp_syn_retries")).trim()}`,
      `tcp_retries2 ${(await sysctl("tcp_retries2")).trim()}`,
    );
    await using probes = await probesAcrossCut(lab);
    const { talker, toVoid } = probes;
    const [connect] = await toVoid.waitFor(/^connect-failed .*$/m, 300_000);
    console.log(`connect to the void: ${connect}`);
    const [write] = await talker.waitFor(/^error 0 .*$/m, 1_800_000);
    console.log(`write behind a cut link: ${write}`);
  },
});
