/**
 * ZMTP/2.0 interop, with Debian's JeroMQ 0.3.6 (tests/peers/jeromq/) as a
 * real ZMTP/2.0 peer: against libzmq (the tutorial's Python programs,
 * pyzmq's proxy), and against our server.ts and client.ts.
 *
 * libzmq downgrades to ZMTP/2.0 (RFC 15) for such a peer, and so does our
 * engine (lib/zmtp/handshake.ts). Each test that pits JeroMQ against
 * server.ts or client.ts runs a scenario that is also run here with libzmq
 * in our place, so that the scenario itself is known to be right. Such a
 * peer cannot be pinged: lib/zmtp/liveness.ts gives it no timeout of its own.
 * Without the jar or a JDK every test fails with one line: run tools/setup.
 */
import assert from "node:assert/strict";
import {
  deno,
  freePort,
  INTEROP_REQUESTS,
  type Proc,
  python,
  ROOT,
  runClient,
  sleep,
  startServer,
  startTutorialServer,
  TUTORIAL_CLIENT,
  within,
} from "./_process.ts";
import {
  jeromqReq,
  requireJeromq,
  runJeromqReq,
  startJeromqProxy,
  startJeromqRep,
} from "./_jeromq.ts";
import { SIGNATURE_V2, SOCKET_TYPE } from "./_hostile_zmtp2.ts";
import { RawListener, writeAll } from "./_raw_peer.ts";
import { logLine, PROMPT, replyFor } from "../lib/protocol.ts";

const REQUESTS = INTEROP_REQUESTS;
const REPLIES_2X =
  "200.0\n2000.0\nnot a 'float'\n-0.0\n2e+16\n5.0\ninf\nnan\n2000.0\nnot a 'float'\n6.0\n";

const tcp = (port: number) => `tcp://127.0.0.1:${port}`;
const lines = (values: readonly string[]) =>
  values.map((v) => `${v}\n`).join("");
const replies = (values: readonly string[], multiplier: number) =>
  lines(values.map((v) => replyFor(v, multiplier)));

/** The replies multiply_client.py printed after its prompts. */
function tutorialClientReplies(stdout: string): string[] {
  const [, ...afterPrompts] = stdout.split(PROMPT);
  return afterPrompts.slice(0, -1).map((chunk) => chunk.replace(/\n$/, ""));
}

/** The log lines ("received: ...") a multiply server printed. */
function logLines(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line.startsWith("received: "));
}

// --- What JeroMQ 0.3.6 puts on the wire --------------------------------------

const { REQ, REP } = SOCKET_TYPE;
const bytes = (...parts: (readonly number[] | string)[]) =>
  Uint8Array.from(
    parts.flatMap((p) =>
      typeof p === "string" ? [...new TextEncoder().encode(p)] : p
    ),
  );

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  await within(
    (async () => {
      while (at < n) {
        const got = await conn.read(out.subarray(at));
        if (got === null) throw new Error(`closed after ${at} of ${n} octets`);
        at += got;
      }
    })(),
    10_000,
    `reading ${n} octets`,
  );
  return out;
}

Deno.test("JeroMQ 0.3.6's REQ speaks ZMTP/2.0: signature, then revision 1 and type REQ, then identity and request", async () => {
  requireJeromq();
  using listener = new RawListener();
  await using client = jeromqReq(listener.endpoint, ["100"], {
    timeoutMs: 10_000,
  });
  const peer = await listener.accept(15_000);
  using _conn = peer;
  const conn = peer.conn;
  // Octets 1-8: the identity's length plus one (0 + 1), as a ZMTP/1.0 peer
  // would read it; the low bit of octet 9 (0x7F) says "versioned".
  assert.deepEqual(await readExactly(conn, 10), bytes(SIGNATURE_V2));
  // It sends its revision and socket type only once it has our signature.
  await writeAll(conn, bytes(SIGNATURE_V2));
  assert.deepEqual(await readExactly(conn, 2), bytes([0x01, REQ]));
  // Once it has our revision and socket type, it sends its identity (an
  // empty final short frame) and the request: an empty delimiter with MORE,
  // then the body; it does not wait for our identity.
  await writeAll(conn, bytes([0x01, REP]));
  assert.deepEqual(
    await readExactly(conn, 9),
    bytes([0x00, 0x00], [0x01, 0x00], [0x00, 0x03], "100"),
  );
  await writeAll(
    conn,
    bytes([0x00, 0x00], [0x01, 0x00], [0x00, 0x05], "200.0"),
  );
  const result = await client.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "200.0\n");
});

Deno.test("JeroMQ 0.3.6's REP speaks ZMTP/2.0, and takes revision 3 for 2.0", async () => {
  requireJeromq();
  await using rep = await startJeromqRep(2);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: rep.port });
  try {
    assert.deepEqual(await readExactly(conn, 10), bytes(SIGNATURE_V2));
    // Revision 3 where 2.0 has 1: JeroMQ 0.3.6 reads any nonzero revision
    // as ZMTP/2.0 and goes on, taking the next octet for the socket type.
    await writeAll(
      conn,
      bytes(SIGNATURE_V2, [0x03, REQ], [0x00, 0x00], [0x01, 0x00], [
        0x00,
        0x03,
      ], "100"),
    );
    assert.deepEqual(
      await readExactly(conn, 4 + 9),
      bytes([0x01, REP], [0x00, 0x00], [0x01, 0x00], [0x00, 0x05], "200.0"),
    );
  } finally {
    conn.close();
  }
  await rep.server.waitFor(/received: 100 sending: 200\.0/);
});

// --- (a) JeroMQ against libzmq: the peers work, and libzmq downgrades -------

Deno.test("a JeroMQ REQ (ZMTP/2.0) gets multiply_server.py's exact replies: libzmq downgrades", async () => {
  requireJeromq();
  const port = freePort();
  await using tutorial = await startTutorialServer(2, port);
  const result = await runJeromqReq(tcp(port), REQUESTS);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, REPLIES_2X);
  assert.equal(result.stdout, replies(REQUESTS, 2));
  assert.deepEqual(
    logLines((await tutorial.waitForLines(REQUESTS.length + 1)).join("\n")),
    REQUESTS.map((r) => logLine(r, replyFor(r, 2))),
  );
});

// --- (b) JeroMQ REQ against server.ts ----------------------------------------

Deno.test({
  name:
    "a JeroMQ REQ (ZMTP/2.0) gets server.ts's exact replies, logged as multiply_server.py logs them",
  async fn() {
    requireJeromq();
    const port = freePort();
    await using tutorial = await startTutorialServer(2, port);
    await using ours = await startServer(["2", "0"]);
    const [theirs, mine] = await Promise.all([
      runJeromqReq(tcp(port), REQUESTS),
      runJeromqReq(tcp(ours.port), REQUESTS, { timeoutMs: 5_000 }),
    ]);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(theirs.stdout, REPLIES_2X);
    assert.equal(mine.code, 0, mine.stderr);
    assert.equal(mine.stdout, theirs.stdout);
    const expectedLog = await tutorial.waitForLines(REQUESTS.length + 1);
    const ourLog = await ours.server.waitForLines(REQUESTS.length + 1);
    assert.deepEqual(ourLog.slice(1), expectedLog.slice(1));
  },
});

// --- (c) client.ts against a JeroMQ REP --------------------------------------

Deno.test("multiply_client.py gets a JeroMQ REP's replies, the same as multiply_server.py's", async () => {
  requireJeromq();
  const port = freePort();
  await using tutorial = await startTutorialServer(3, port);
  await using rep = await startJeromqRep(3);
  const tutorialClient = (to: number) =>
    python(["-u", TUTORIAL_CLIENT, String(to)], {
      input: lines(REQUESTS),
    });
  await using theirs = tutorialClient(port);
  await using mine = tutorialClient(rep.port);
  const [expected, actual] = await Promise.all([
    theirs.finish(),
    mine.finish(),
  ]);
  // The tutorial's client ends with an EOFError traceback at end of input.
  assert.deepEqual(
    tutorialClientReplies(actual.stdout),
    tutorialClientReplies(expected.stdout),
  );
  assert.equal(
    lines(tutorialClientReplies(actual.stdout)),
    replies(REQUESTS, 3),
  );
  const expectedLog = await tutorial.waitForLines(REQUESTS.length + 1);
  const jeromqLog = await rep.server.waitForLines(REQUESTS.length + 1);
  assert.deepEqual(jeromqLog.slice(1), expectedLog.slice(1));
  assert.equal(
    jeromqLog[0],
    `Waiting for clients on port '${rep.port}' on host '127.0.0.1'.`,
  );
});

Deno.test({
  name: "client.ts gets a JeroMQ REP's exact replies (ZMTP/2.0)",
  async fn() {
    requireJeromq();
    await using rep = await startJeromqRep(2);
    const result = await runClient(
      [String(rep.port), "--timeout", "5000", "--retries", "1"],
      lines(REQUESTS),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, REPLIES_2X);
    assert.deepEqual(
      (await rep.server.waitForLines(REQUESTS.length + 1)).slice(1),
      REQUESTS.map((r) => logLine(r, replyFor(r, 2))),
    );
  },
});

// --- (d) ZMTP/2.0 and 3.x clients at once on one server ----------------------

/**
 * Six clients on the server at `port`, JeroMQ REQs (ZMTP/2.0) and client.ts
 * (3.1) in turn, all connected at once: each sends one request and has its
 * reply before any sends the rest. Every reply must be its own.
 */
async function mixedClientsAtOnce(
  port: number,
  multiplier: number,
): Promise<void> {
  const work = Array.from(
    { length: 6 },
    (_, c) => Array.from({ length: 25 }, (_, i) => String(c * 1000 + i + 1)),
  );
  const clients = work.map((_, c) =>
    c % 2 === 0
      ? jeromqReq(tcp(port), [], { interactiveStdin: true, timeoutMs: 5_000 })
      : deno("client.ts", [
        String(port),
        "--timeout",
        "5000",
        "--retries",
        "1",
      ], { interactiveStdin: true })
  );
  try {
    await Promise.all(clients.map(async (client, c) => {
      await client.write(`${work[c][0]}\n`);
      await client.waitForLines(1, 20_000);
    }));
    await Promise.all(clients.map(async (client, c) => {
      await client.write(lines(work[c].slice(1)));
      await client.closeStdin();
    }));
    const results = await Promise.all(clients.map((c) => c.finish(30_000)));
    results.forEach((result, c) => {
      assert.equal(result.code, 0, `${clients[c].name}: ${result.stderr}`);
      assert.equal(
        result.stdout,
        replies(work[c], multiplier),
        clients[c].name,
      );
    });
  } finally {
    await Promise.all(clients.map((c) => c[Symbol.asyncDispose]()));
  }
}

Deno.test("JeroMQ REQs (ZMTP/2.0) and client.ts (3.1) at once on one multiply_server.py", async () => {
  requireJeromq();
  const port = freePort();
  await using tutorial = await startTutorialServer(3, port);
  await mixedClientsAtOnce(port, 3);
  await tutorial.waitForLines(1 + 6 * 25);
});

Deno.test({
  name: "JeroMQ REQs (ZMTP/2.0) and client.ts (3.1) at once on one server.ts",
  async fn() {
    requireJeromq();
    await using ours = await startServer(["3", "0"]);
    await mixedClientsAtOnce(ours.port, 3);
    assert.equal(
      logLines((await ours.server.waitForLines(1 + 6 * 25)).join("\n")).length,
      6 * 25,
    );
  },
});

// --- (e) servers behind a ROUTER/DEALER proxy --------------------------------

type Front = "client.ts" | "jeromq" | "multiply_client.py";

/**
 * Two workers (multiplier 3) connected to the backend of a proxy, and one
 * client of each kind in `fronts` on its frontend, sending at once. Every
 * client gets its own exact replies; between them the workers log every
 * request, and both take a share.
 */
async function behindAProxy(
  startProxy: (frontend: number, backend: number) => Promise<Proc>,
  worker: "server.ts" | "pyzmq",
  fronts: Front[],
): Promise<void> {
  const frontend = freePort();
  const backend = freePort();
  await using _proxy = await startProxy(frontend, backend);
  const workers = [0, 1].map(() =>
    worker === "server.ts"
      ? deno("server.ts", ["3", "--connect", tcp(backend)])
      : python([
        "-u",
        `${ROOT}tests/peers/connect_rep.py`,
        "3",
        tcp(backend),
      ])
  );
  try {
    await Promise.all(
      workers.map((w) => w.waitFor(/^(Taking requests from|connected) /m)),
    );
    await sleep(500); // both connected to the proxy's backend
    const work = fronts.map((_, c) =>
      Array.from({ length: 20 }, (_, i) => String(c * 1000 + i + 1))
    );
    const results = await Promise.all(fronts.map(async (front, c) => {
      const input = lines(work[c]);
      if (front === "client.ts") {
        const result = await runClient(
          [String(frontend), "--timeout", "5000", "--retries", "1"],
          input,
          40_000,
        );
        assert.equal(result.code, 0, `client.ts: ${result.stderr}`);
        return result.stdout;
      }
      if (front === "jeromq") {
        const result = await runJeromqReq(tcp(frontend), [], {
          input,
          timeoutMs: 5_000,
        });
        assert.equal(result.code, 0, `JeroMQ REQ: ${result.stderr}`);
        return result.stdout;
      }
      await using client = python(["-u", TUTORIAL_CLIENT, String(frontend)], {
        input,
      });
      const result = await client.finish(40_000);
      return lines(tutorialClientReplies(result.stdout));
    }));
    results.forEach((stdout, c) =>
      assert.equal(stdout, replies(work[c], 3), fronts[c])
    );
    // The workers' logs are complete once they have stopped: server.ts
    // writes its log lines in batches, and on SIGTERM writes the last.
    const stopped = await Promise.all(workers.map((w) => {
      w.kill("SIGTERM");
      return w.finish();
    }));
    const logs = stopped.map((w) => logLines(w.stdout));
    assert.equal(logs[0].length + logs[1].length, 20 * fronts.length);
    assert.ok(
      logs.every((log) => log.length > 0),
      `both workers answered (${logs[0].length} and ${logs[1].length})`,
    );
  } finally {
    await Promise.all(workers.map((w) => w[Symbol.asyncDispose]()));
  }
}

async function startPyzmqBroker(
  frontend: number,
  backend: number,
): Promise<Proc> {
  const broker = python([
    "-u",
    `${ROOT}tests/peers/broker.py`,
    String(frontend),
    String(backend),
  ]);
  await broker.waitFor(/broker ready/);
  return broker;
}

Deno.test("server.ts behind pyzmq's ROUTER/DEALER proxy answers client.ts and a JeroMQ REQ (ZMTP/2.0)", async () => {
  requireJeromq();
  await behindAProxy(startPyzmqBroker, "server.ts", ["client.ts", "jeromq"]);
});

Deno.test("pyzmq REPs behind a JeroMQ ROUTER/DEALER proxy answer a JeroMQ REQ and multiply_client.py", async () => {
  requireJeromq();
  await behindAProxy(startJeromqProxy, "pyzmq", [
    "jeromq",
    "multiply_client.py",
  ]);
});

Deno.test({
  name:
    "server.ts behind a JeroMQ ROUTER/DEALER proxy (ZMTP/2.0) answers client.ts and a JeroMQ REQ",
  async fn() {
    requireJeromq();
    await behindAProxy(startJeromqProxy, "server.ts", ["client.ts", "jeromq"]);
  },
});
