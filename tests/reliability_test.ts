/**
 * Faults the tutorial's programs do not survive: a server that hangs, dies
 * or is restarted under load, several servers, a broker with a server killed
 * behind it, and a graceful stop under load. Every request must get exactly
 * one correct reply in the client's output, or the client must say clearly
 * that it gave up.
 */
import assert from "node:assert/strict";
import {
  deno,
  denoArgs,
  freePort,
  lines,
  python,
  ROOT,
  runClient,
  sleep,
  startBroker,
  startServer,
} from "./_process.ts";

const numbers = (first: number, count: number) =>
  Array.from({ length: count }, (_, i) => first + i);
const doubled = (values: number[], m = 2) =>
  values.map((v) => `${v * m}.0\n`).join("");

Deno.test("client.ts gives up on a hung server after --retries tries, in one line, exit 1", async () => {
  await using ours = await startServer(["2", "0"]);
  ours.server.kill("SIGSTOP");
  try {
    const t0 = performance.now();
    const result = await runClient([
      String(ours.port),
      "--timeout",
      "300",
      "--retries",
      "3",
    ], "100\n200\n");
    const elapsed = performance.now() - t0;
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `no reply after 3 tries: 127.0.0.1:${ours.port} took the connection but did not greet within 300 ms (a hung server, or not a ZeroMQ one)\n`,
    );
    assert.equal(result.stdout, "");
    assert.ok(elapsed >= 900, `three tries of 300 ms took ${elapsed} ms`);
  } finally {
    ours.server.kill("SIGCONT");
  }
});

Deno.test("client.ts on a terminal returns to the prompt after giving up", async () => {
  await using ours = await startServer(["2", "0"]);
  ours.server.kill("SIGSTOP");
  try {
    const session = python([
      `${ROOT}tests/peers/pty_run.py`,
      "100",
      "--",
      Deno.execPath(),
      ...denoArgs("client.ts", [
        String(ours.port),
        "--timeout",
        "200",
        "--retries",
        "2",
      ]),
    ]);
    const result = await session.finish();
    assert.equal(result.code, 0, result.stdout);
    assert.match(
      result.stdout.replace(/\r\n/g, "\n"),
      new RegExp(
        `give a number to multiply: 100\nno reply after 2 tries: 127\\.0\\.0\\.1:${ours.port} took the connection but did not greet within 200 ms \\(a hung server, or not a ZeroMQ one\\)\n` +
          "give a number to multiply: \n$",
      ),
    );
  } finally {
    ours.server.kill("SIGCONT");
  }
});

Deno.test("a stalled server's late replies are never taken for later requests", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const client = deno("client.ts", [
    String(ours.port),
    "--timeout",
    "300",
    "--retries",
    "20",
  ], {
    interactiveStdin: true,
  });
  await using _client = client;
  await client.write("1\n");
  await client.waitFor(/^2\.0\n$/);
  ours.server.kill("SIGSTOP"); // the requests for 2 queue up in the kernel, unanswered
  await client.write("2\n");
  await sleep(1000); // three timeouts: three copies of "2" wait at the server
  ours.server.kill("SIGCONT");
  await client.waitFor(/^2\.0\n4\.0\n$/);
  await client.write("3\n4\n");
  await client.closeStdin();
  const result = await client.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "2.0\n4.0\n6.0\n8.0\n");
});

Deno.test("client.ts spreads requests round-robin over servers and says which answered", async () => {
  await using two = await startServer(["2", "0", "--quiet"]);
  await using five = await startServer(["5", "0", "--quiet"]);
  const endpoints = {
    [`tcp://127.0.0.1:${two.port}`]: "2.0",
    [`tcp://127.0.0.1:${five.port}`]: "5.0",
  };
  // Both servers must be connected before the first request, for a strict rotation.
  const result = await runClient(
    [
      "--connect",
      `tcp://127.0.0.1:${two.port}`,
      "--connect",
      `tcp://127.0.0.1:${five.port}`,
      "--verbose",
    ],
    "1\n".repeat(20),
  );
  assert.equal(result.code, 0, result.stderr);
  const replies = result.stdout.trimEnd().split("\n");
  const from = result.stderr.trimEnd().split("\n").map((line) =>
    line.replace(/^reply from /, "")
  );
  assert.equal(replies.length, 20);
  assert.equal(from.length, 20, result.stderr);
  replies.forEach((reply, i) =>
    assert.equal(reply, endpoints[from[i]], `request ${i} from ${from[i]}`)
  );
  const fromFive = replies.filter((r) => r === "5.0").length;
  assert.ok(
    fromFive >= 8 && fromFive <= 12,
    `both servers answered: ${fromFive} of 20 from the 5x one`,
  );
});

Deno.test("a request whose server dies is retried on another; every reply matches its server", async () => {
  await using two = await startServer(["2", "0", "--quiet"]);
  await using five = await startServer(["5", "0", "--quiet"]);
  const a = `tcp://127.0.0.1:${two.port}`;
  const b = `tcp://127.0.0.1:${five.port}`;
  const count = 400;
  const client = deno("client.ts", [
    "--connect",
    a,
    "--connect",
    b,
    "--verbose",
    "--timeout",
    "2000",
    "--retries",
    "5",
  ], {
    input: "1\n".repeat(count),
  });
  await using _client = client;
  await client.waitFor(/^(?:[^\n]*\n){50}/);
  two.server.kill("SIGKILL");
  const result = await client.finish();
  assert.equal(result.code, 0, result.stderr);
  const replies = result.stdout.trimEnd().split("\n");
  const answered = result.stderr.split("\n").filter((l) =>
    l.startsWith("reply from ")
  ).map((l) => l.slice(11));
  assert.equal(replies.length, count);
  assert.equal(answered.length, count);
  replies.forEach((reply, i) =>
    assert.equal(reply, answered[i] === a ? "2.0" : "5.0", `request ${i}`)
  );
  assert.ok(
    answered.slice(-100).every((endpoint) => endpoint === b),
    "after the kill only the 5x server answers",
  );
  assert.ok(answered.includes(a), "the 2x server answered before it died");
});

Deno.test("servers behind a libzmq broker (zmq.proxy): kill one, every request still answered", async () => {
  const frontend = freePort();
  const backend = freePort();
  await using _broker = await startBroker(frontend, backend);
  const servers = [
    deno("server.ts", ["2", "--connect", `tcp://127.0.0.1:${backend}`]),
    deno("server.ts", ["2", "--connect", `tcp://127.0.0.1:${backend}`]),
  ];
  await using _a = servers[0];
  await using _b = servers[1];
  await Promise.all(
    servers.map((s) =>
      s.waitFor(/Taking requests from 'tcp:\/\/127\.0\.0\.1:\d+'\./)
    ),
  );
  await sleep(300); // both connected to the broker's backend
  const work = [0, 1, 2].map((c) => numbers(c * 10_000, 200));
  const clients = work.map((values) =>
    deno("client.ts", [
      String(frontend),
      "--timeout",
      "1000",
      "--retries",
      "10",
    ], { input: lines(values) })
  );
  await Promise.all(servers.map((s) => s.waitFor(/received: /)));
  servers[0].kill("SIGKILL");
  const results = await Promise.all(
    clients.map((client) => client.finish(60_000)),
  );
  results.forEach((result, c) => {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, doubled(work[c]), `client ${c}`);
  });
  assert.match(servers[1].stdout, /received: \d+ sending: \d+\.0/);
});

Deno.test("SIGKILL under load, then a restart: clients with retries lose and repeat nothing", async () => {
  const port = freePort();
  let server = await startServer(["2", String(port), "--quiet"]);
  try {
    const work = [0, 1, 2, 3].map((c) => numbers(c * 100_000 + 1, 300));
    const clients = work.map((values) =>
      deno(
        "client.ts",
        [String(port), "--timeout", "1000", "--retries", "20"],
        { input: lines(values) },
      )
    );
    await clients[0].waitFor(/^(?:[^\n]*\n){40}/);
    server.server.kill("SIGKILL");
    await server.server.finish();
    await sleep(500);
    server = await startServer(["2", String(port), "--quiet"]);
    const results = await Promise.all(
      clients.map((client) => client.finish(60_000)),
    );
    results.forEach((result, c) => {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        result.stdout,
        doubled(work[c]),
        `client ${c}: none lost, none repeated, all in order`,
      );
    });
  } finally {
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("SIGTERM under load: every request the server received is answered before it exits", async () => {
  await using ours = await startServer(["3", "0"]);
  const work = [0, 1, 2, 3].map((c) => numbers(c * 1_000_000 + 1, 100_000));
  const clients = work.map((values) =>
    deno("client.ts", [
      String(ours.port),
      "--timeout",
      "3000",
      "--retries",
      "1",
    ], { input: lines(values) })
  );
  await ours.server.waitFor(/(?:received: [^\n]*\n){400}/);
  ours.server.kill("SIGTERM");
  const stopped = await ours.server.finish();
  assert.equal(stopped.code, 0, stopped.stderr);
  const received = new Set(
    [...stopped.stdout.matchAll(/^received: (\d+) sending: (\d+)\.0$/gm)].map(
      (m) => {
        assert.equal(Number(m[2]), Number(m[1]) * 3);
        return Number(m[1]);
      },
    ),
  );
  const results = await Promise.all(
    clients.map((client) => client.finish(30_000)),
  );
  let answered = 0;
  results.forEach((result, c) => {
    const replies = result.stdout.trimEnd().split("\n").filter(Boolean);
    answered += replies.length;
    // Each client printed correct replies for a prefix of its requests...
    assert.deepEqual(
      replies,
      work[c].slice(0, replies.length).map((v) => `${v * 3}.0`),
    );
    // ...and exactly the ones the server logged as received.
    const logged = work[c].filter((v) => received.has(v)).length;
    assert.equal(
      replies.length,
      logged,
      `client ${c}: received ${logged}, answered ${replies.length}`,
    );
    assert.equal(result.code, replies.length === work[c].length ? 0 : 1);
  });
  assert.equal(answered, received.size);
  assert.ok(answered >= 400);
});

Deno.test("server.ts --bind listens on several endpoints at once, IPv4 and IPv6", async () => {
  await using ours = await startServer([
    "2",
    "--bind",
    "tcp://127.0.0.1:0",
    "--bind",
    "tcp://[::1]:0",
    "--quiet",
  ]);
  await ours.server.waitFor(/on host '::1'\.\n/);
  const ports = [
    ...ours.server.stdout.matchAll(/port '(\d+)' on host '([^']+)'/g),
  ].map((m) => ({
    port: m[1],
    host: m[2],
  }));
  assert.deepEqual(ports.map((p) => p.host), ["127.0.0.1", "::1"]);
  const [v4, v6] = await Promise.all(
    ports.map(({ port, host }) => runClient([port, host], "4\n")),
  );
  assert.equal(v4.stdout, "8.0\n");
  assert.equal(v6.stdout, "8.0\n");
});
