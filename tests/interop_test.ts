/**
 * Wire compatibility with libzmq: the tutorial's own Python programs and
 * zeromq.js under Node, against our server and our client, over loopback.
 */
import assert from "node:assert/strict";
import {
  deno,
  freePort,
  INTEROP_REQUESTS,
  node,
  portIsFree,
  python,
  runClient,
  sleep,
  startServer,
  startTutorialServer,
  TUTORIAL_CLIENT,
} from "./_process.ts";
import { replyFor } from "../lib/protocol.ts";

const REQUESTS = INTEROP_REQUESTS;

Deno.test("client.ts gets multiply_server.py's exact replies", async () => {
  const port = freePort();
  await using python = await startTutorialServer(2, port);
  const result = await runClient([String(port)], REQUESTS.join("\n") + "\n");
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.stdout.split("\n").slice(0, -1),
    REQUESTS.map((r) => replyFor(r, 2)),
  );
  assert.equal(
    result.stdout,
    "200.0\n2000.0\nnot a 'float'\n-0.0\n2e+16\n5.0\ninf\nnan\n2000.0\nnot a 'float'\n6.0\n",
  );
  await python.waitFor(/received: 1_000 sending: 2000\.0/);
});

Deno.test("multiply_client.py gets server.ts's replies, and server.ts logs as Python does", async () => {
  await using ours = await startServer(["5", "0"]);
  const client = python(["-u", TUTORIAL_CLIENT, String(ours.port)], {
    input: "100\n1000\n",
  });
  const result = await client.finish();
  // The tutorial's client ends with an EOFError traceback at end of input.
  assert.equal(
    result.stdout,
    `Connecting to port '${ours.port}' of host '127.0.0.1'.\n` +
      "give a number to multiply: 500.0\ngive a number to multiply: 5000.0\n" +
      "give a number to multiply: ",
  );
  const lines = await ours.server.waitForLines(3);
  assert.deepEqual(lines, [
    `Waiting for clients on port '${ours.port}' on host '127.0.0.1'.`,
    "received: 100 sending: 500.0",
    "received: 1000 sending: 5000.0",
  ]);
});

// What client.ts mirrors when it refuses such a line.
Deno.test("multiply_client.py stops with an error at a line that is not UTF-8, and never sends it", async () => {
  await using ours = await startServer(["2", "0"]);
  const client = python(["-u", TUTORIAL_CLIENT, String(ours.port)], {
    input: new Uint8Array([0x31, 0x0a, 0xff, 0xfe, 0x32, 0x0a, 0x33, 0x0a]),
  });
  const result = await client.finish();
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Unicode(En|De)codeError/);
  assert.match(result.stdout, /multiply: 2\.0\ngive a number to multiply: $/);
  ours.server.kill("SIGTERM");
  const log = await ours.server.finish();
  assert.deepEqual(log.stdout.split("\n").slice(1), [
    "received: 1 sending: 2.0",
    "",
  ]);
});

Deno.test("server.ts and multiply_server.py send the same bytes for every request", async () => {
  const port = freePort();
  await using python = await startTutorialServer(3, port);
  await using ours = await startServer(["3", "0"]);
  const input = REQUESTS.join("\n") + "\n";
  const [theirs, mine] = await Promise.all([
    runClient([String(port)], input),
    runClient([String(ours.port)], input),
  ]);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal(mine.stdout, theirs.stdout);
  // The logs match too, line for line (Python's print of the same values).
  const expectedLog = await python.waitForLines(REQUESTS.length + 1);
  const ourLog = await ours.server.waitForLines(REQUESTS.length + 1);
  assert.deepEqual(ourLog.slice(1), expectedLog.slice(1));
});

Deno.test("a zeromq.js REQ under Node gets server.ts's replies", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const client = node("zeromq_req.mjs", [
    `tcp://127.0.0.1:${ours.port}`,
    "100",
    "1000",
    "x",
    "0.1",
  ]);
  const result = await client.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "200.0\n2000.0\nnot a 'float'\n0.2\n");
});

Deno.test("client.ts gets a zeromq.js REP's replies under Node", async () => {
  await using rep = node("zeromq_rep.mjs", ["2", "0"]);
  const [, endpoint] = await rep.waitFor(/bound (tcp:\S+)/);
  const result = await runClient(["--connect", endpoint], "100\n1000\n");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "200.0\n2000.0\n");
});

Deno.test("one server answers many clients at the same time", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const clients = 8;
  const perClient = 50;
  const results = await Promise.all(
    Array.from({ length: clients }, (_, c) => {
      const numbers = Array.from({ length: perClient }, (_, i) => c * 1000 + i);
      return runClient([String(ours.port)], numbers.join("\n") + "\n").then((
        result,
      ) => ({ numbers, result }));
    }),
  );
  for (const { numbers, result } of results) {
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      result.stdout.trimEnd().split("\n"),
      numbers.map((n) => `${n * 2}.0`),
    );
  }
});

Deno.test("many tutorial clients at once on one server.ts", async () => {
  await using ours = await startServer(["7", "0", "--quiet"]);
  const clients = Array.from(
    { length: 5 },
    (_, c) =>
      python(["-u", TUTORIAL_CLIENT, String(ours.port)], {
        input: `${c}\n${c + 10}\n`,
      }),
  );
  const results = await Promise.all(clients.map((client) => client.finish()));
  results.forEach((result, c) => {
    assert.match(
      result.stdout,
      new RegExp(
        `multiply: ${c * 7}\\.0\\n.*multiply: ${(c + 10) * 7}\\.0\\n`,
        "s",
      ),
    );
  });
});

Deno.test("two servers side by side: 2x on 2345 and 5x on 2500, each client its own", async () => {
  // The tutorial's ports when they are free here, others when they are not.
  const [portA, portB] = portIsFree(2345) && portIsFree(2500)
    ? [2345, 2500]
    : [freePort(), freePort()];
  await using two = await startServer(
    portA === 2345 ? [] : ["2", String(portA)],
  );
  await using five = await startServer(["5", String(portB)]);
  assert.equal(two.port, portA);
  const [a, b] = await Promise.all([
    runClient(portA === 2345 ? [] : [String(portA)], "100\n1000\n"),
    runClient([String(portB)], "100\n1000\n"),
  ]);
  assert.equal(a.stdout, "200.0\n2000.0\n");
  assert.equal(b.stdout, "500.0\n5000.0\n");
  assert.deepEqual((await five.server.waitForLines(3)).slice(1), [
    "received: 100 sending: 500.0",
    "received: 1000 sending: 5000.0",
  ]);
});

Deno.test("server.ts and client.ts talk over IPv6 loopback", async () => {
  await using ours = await startServer(["2", "0", "::1"]);
  assert.match(ours.server.stdout, /on host '::1'\./);
  const result = await runClient([String(ours.port), "::1"], "21\n");
  assert.equal(result.stdout, "42.0\n");
});

Deno.test("client.ts started before its server waits for it (reconnect)", async () => {
  const port = freePort();
  const client = deno("client.ts", [
    String(port),
    "--timeout",
    "8000",
    "--retries",
    "1",
  ], { input: "100\n" });
  await using _client = client;
  await sleep(700);
  await using _python = await startTutorialServer(2, port);
  const result = await client.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "200.0\n");
});
