/**
 * server.ts and client.ts with CURVE, as programs, against libzmq (pyzmq,
 * zeromq.js) in every direction and behind a CURVE broker. Every process
 * runs with `--allow-read` on its key directory alone, on loopback, bounded
 * in time, and is disposed.
 */
import assert from "node:assert/strict";
import { replyFor } from "../lib/protocol.ts";
import {
  type Cert,
  CertDir,
  count,
  type CurveServer,
  program,
  runCurveClient,
  startCurveServer,
} from "./_curve_programs.ts";
import { node, python, ROOT } from "./_process.ts";

const REP_PEER = `${ROOT}tests/peers/curve_rep.py`;
const REQ_PEER = `${ROOT}tests/peers/curve_req.py`;
const BROKER = `${ROOT}tests/peers/curve_broker.py`;

// Numbers every peer multiplies alike (Python's float and str).
const NUMBERS = ["100", "31415926535", "-0.5", "1e300"];
const REPLIES = NUMBERS.map((n) => replyFor(n, 2));
const lines = (items: string[]) => items.map((item) => `${item}\n`).join("");

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// The options of a CURVE server.ts that admits the clients in certs.allow.
const curveArgs = (certs: CertDir, server: Cert) => [
  "--curve-key",
  server.secretFile,
  "--curve-allow",
  certs.allow,
];

// client.ts options to reach `server` with `own`'s certificate.
const clientArgs = (port: number, server: Cert, own?: Cert) => [
  String(port),
  "--curve-server-key",
  server.keyFile,
  ...(own === undefined ? [] : ["--curve-key", own.secretFile]),
];

/**
 * Makes sure every line server.ts has said on stderr so far is there to
 * read: SIGHUP (with --curve-allow) is answered by one more line, which its
 * ordered stderr writes after all the others.
 */
async function stderrSettled(ours: CurveServer): Promise<string> {
  const before = count(ours.server.stderr, "server: re-read ");
  ours.server.child.kill("SIGHUP");
  await ours.server.waitFor(
    new RegExp(`(server: re-read [^\\n]*\\n[^]*){${before + 1}}`),
    10_000,
    "stderr",
  );
  return ours.server.stderr;
}

// --- 1. Interop with libzmq in every direction -------------------------------

Deno.test("pyzmq CURVE REQs with zmq.auth certificates get server.ts's exact replies through --curve-allow; an unlisted one gets ERROR 400", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const [alice, bob, carol, mallory] = await certs.makeWithPyzmq(
    "alice",
    "bob",
    "carol",
    "mallory",
  );
  for (const cert of [alice, bob, carol]) await certs.admit(cert);
  await using ours = await startCurveServer(
    certs.path,
    curveArgs(certs, server),
  );
  const ask = (cert: Cert, request: string) =>
    python([REQ_PEER, ours.endpoint, server.z85, cert.secretFile, request]);
  await using a = ask(alice, NUMBERS[0]);
  await using b = ask(bob, NUMBERS[1]);
  await using c = ask(carol, NUMBERS[2]);
  await using m = ask(mallory, NUMBERS[0]);
  const [ra, rb, rc, rm] = await Promise.all(
    [a, b, c, m].map((peer) => peer.finish()),
  );
  assert.equal(ra.stdout, `reply ${REPLIES[0]}\n`, ra.stderr);
  assert.equal(rb.stdout, `reply ${REPLIES[1]}\n`, rb.stderr);
  assert.equal(rc.stdout, `reply ${REPLIES[2]}\n`, rc.stderr);
  assert.equal(rm.stdout, "event HANDSHAKE_FAILED_AUTH 400\n", rm.stderr);
  for (const i of [0, 1, 2]) {
    await ours.server.waitFor(
      new RegExp(
        `^received: ${escape(NUMBERS[i])} sending: ${escape(REPLIES[i])}$`,
        "m",
      ),
    );
  }
  const stderr = await stderrSettled(ours);
  assert.equal(
    count(
      stderr,
      `server: refused the client key ${mallory.z85}: not in ${certs.allow} (said once per key)\n`,
    ),
    1,
    stderr,
  );
});

Deno.test("client.ts --curve-server-key (Z85 or NAME.key) --curve-key gets exact replies from a pyzmq CURVE REP behind zmq.auth's allow-list", async () => {
  await using certs = await CertDir.create();
  // A Z85 key with a '/' is taken for a path (see the ignored test below).
  const server = await certs.make("server", {
    where: (z85) => !z85.includes("/"),
  });
  const client = await certs.make("client", { allow: true });
  await using peer = python([REP_PEER, server.secretFile, certs.allow]);
  const port = Number((await peer.waitFor(/port (\d+)/))[1]);
  for (const key of [server.keyFile, server.z85]) {
    const run = await runCurveClient(
      certs.path,
      [
        String(port),
        "--curve-server-key",
        key,
        "--curve-key",
        client.secretFile,
      ],
      lines(NUMBERS),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, lines(REPLIES));
    assert.equal(run.stderr, "");
  }
  await peer.waitFor(/(event HANDSHAKE_SUCCEEDED 0\n[^]*){2}/);
});

Deno.test({
  name:
    "client.ts and server.ts --connect take a --curve-server-key in Z85 that holds a '/' (about 38% of keys do)",
  // Bug: lib/security.ts readPublicKey takes any text with a '/' for a path, though '/' is a Z85 digit.
  ignore: true,
  async fn() {
    await using certs = await CertDir.create();
    const slash = { where: (z85: string) => z85.includes("/") };
    const front = await certs.make("frontend", slash);
    const back = await certs.make("backend", slash);
    await using broker = await startBroker(front, back);
    await using _server = program("server.ts", certs.path, [
      "2",
      "--connect",
      `tcp://127.0.0.1:${broker.backend}`,
      "--curve-server-key",
      back.z85,
    ]);
    await broker.broker.waitFor(/event HANDSHAKE_SUCCEEDED/);
    const run = await runCurveClient(
      certs.path,
      [String(broker.frontend), "--curve-server-key", front.z85],
      "100\n",
    );
    assert.equal(run.stderr, "");
    assert.equal(run.stdout, "200.0\n");
    assert.equal(run.code, 0);
  },
});

Deno.test('client.ts refused by zmq.auth\'s allow-list says ERROR "400" in one line and exits 1 at once, not after its timeout', async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const client = await certs.make("client", { allow: true });
  const stranger = await certs.make("stranger");
  await using peer = python([REP_PEER, server.secretFile, certs.allow]);
  const port = Number((await peer.waitFor(/port (\d+)/))[1]);
  // A key not in the directory, and a fresh key per run (no --curve-key).
  for (const own of [stranger, undefined]) {
    const run = await runCurveClient(
      certs.path,
      [...clientArgs(port, server, own), "--timeout", "10000"],
      "100\n",
    );
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr,
      `127.0.0.1:${port} refused the handshake with ERROR "400" (this client's CURVE key is not on its allow-list)\n`,
    );
    // Three tries of 10 s each would take 30 s.
    assert.ok(run.ms < 8_000, `exited after ${Math.round(run.ms)} ms`);
  }
  await peer.waitFor(/(event HANDSHAKE_FAILED_AUTH 400\n[^]*){2}/);
  // The same peer serves the admitted key meanwhile.
  const run = await runCurveClient(
    certs.path,
    clientArgs(port, server, client),
    "100\n",
  );
  assert.equal(run.stdout, "200.0\n", run.stderr);
});

Deno.test("a zeromq.js CURVE REQ under Node gets server.ts's exact replies, with an admitted certificate or, without --curve-allow, a fresh key", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const client = await certs.make("client", { allow: true });
  await using listed = await startCurveServer(
    certs.path,
    curveArgs(certs, server),
  );
  await using open = await startCurveServer(certs.path, [
    "--curve-key",
    server.secretFile,
  ]);
  await using withCert = node("zeromq_curve_req.mjs", [
    listed.endpoint,
    server.z85,
    client.secretFile,
    ...NUMBERS,
  ]);
  await using fresh = node("zeromq_curve_req.mjs", [
    open.endpoint,
    server.z85,
    "-",
    ...NUMBERS,
  ]);
  for (const peer of [withCert, fresh]) {
    const result = await peer.finish();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, lines(REPLIES));
  }
  for (const ours of [listed, open]) {
    await ours.server.waitForLines(NUMBERS.length + 1);
  }
});

Deno.test("client.ts --curve-server-key gets exact replies from a zeromq.js CURVE REP under Node", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const client = await certs.make("client");
  await using rep = node("zeromq_curve_rep.mjs", ["2", server.secretFile]);
  const [, endpoint] = await rep.waitFor(/bound (tcp:\/\/\S+)/);
  for (const own of [undefined, client]) {
    const run = await runCurveClient(
      certs.path,
      [
        "--connect",
        endpoint,
        "--curve-server-key",
        server.keyFile,
        ...(own === undefined ? [] : ["--curve-key", own.secretFile]),
      ],
      lines(NUMBERS),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, lines(REPLIES));
  }
  await rep.waitFor(
    new RegExp(
      `^received: ${escape(NUMBERS[3])} sending: ${escape(REPLIES[3])}\n[^]*${
        escape(NUMBERS[3])
      }`,
      "m",
    ),
  );
});

/** A CURVE broker (curve_broker.py), started; its ports. */
async function startBroker(
  front: Cert,
  back: Cert,
  allow?: string,
) {
  const broker = python([
    BROKER,
    front.secretFile,
    back.secretFile,
    ...(allow === undefined ? [] : [allow]),
  ]);
  try {
    const [, frontend, backend] = await broker.waitFor(
      /broker frontend (\d+) backend (\d+)/,
    );
    return {
      broker,
      frontend: Number(frontend),
      backend: Number(backend),
      [Symbol.asyncDispose]: () => broker[Symbol.asyncDispose](),
    };
  } catch (error) {
    await broker[Symbol.asyncDispose]();
    throw error;
  }
}

Deno.test("server.ts --connect --curve-server-key --curve-key behind pyzmq's zmq.proxy with CURVE on both hops answers client.ts exactly", async () => {
  await using certs = await CertDir.create();
  const front = await certs.make("frontend");
  const back = await certs.make("backend");
  const worker = await certs.make("worker", { allow: true });
  await using broker = await startBroker(front, back, certs.allow);
  await using server = program("server.ts", certs.path, [
    "2",
    "--connect",
    `tcp://127.0.0.1:${broker.backend}`,
    "--curve-server-key",
    back.keyFile,
    "--curve-key",
    worker.secretFile,
  ]);
  await server.waitFor(/^Taking requests from /m);
  await broker.broker.waitFor(/event HANDSHAKE_SUCCEEDED/);
  const run = await runCurveClient(
    certs.path,
    [String(broker.frontend), "--curve-server-key", front.keyFile],
    lines(NUMBERS),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, lines(REPLIES));
  for (const [i, number] of NUMBERS.entries()) {
    await server.waitFor(
      new RegExp(
        `^received: ${escape(number)} sending: ${escape(REPLIES[i])}$`,
        "m",
      ),
    );
  }
  // The backend's key is not the frontend's: libzmq closes the handshake.
  const wrong = await runCurveClient(
    certs.path,
    [
      String(broker.frontend),
      "--curve-server-key",
      back.keyFile,
      "--timeout",
      "500",
      "--retries",
      "1",
    ],
    "100\n",
  );
  assert.equal(wrong.code, 1);
  assert.equal(
    wrong.stderr,
    `no reply after 1 try: 127.0.0.1:${broker.frontend} closed the connection during the CURVE handshake (is --curve-server-key its public key?)\n`,
  );
});

Deno.test({
  name:
    'server.ts --connect says on stderr that the broker refused its CURVE key with ERROR "400"',
  // Bug: server.ts ignores its dialer's "stopped" event: refused, it says nothing and serves nothing for ever.
  ignore: true,
  async fn() {
    await using certs = await CertDir.create();
    const front = await certs.make("frontend");
    const back = await certs.make("backend");
    const worker = await certs.make("worker"); // not in certs.allow
    await using broker = await startBroker(front, back, certs.allow);
    await using server = program("server.ts", certs.path, [
      "2",
      "--connect",
      `tcp://127.0.0.1:${broker.backend}`,
      "--curve-server-key",
      back.keyFile,
      "--curve-key",
      worker.secretFile,
    ]);
    await broker.broker.waitFor(/event HANDSHAKE_FAILED_AUTH 400/);
    await server.waitFor(/"400"/, 5_000, "stderr");
  },
});

Deno.test({
  name:
    "server.ts --connect says on stderr that its broker closes the CURVE handshake (a wrong --curve-server-key)",
  // Bug: server.ts says nothing when its broker closes every CURVE handshake; it retries silently for ever.
  ignore: true,
  async fn() {
    await using certs = await CertDir.create();
    const front = await certs.make("frontend");
    const back = await certs.make("backend");
    await using broker = await startBroker(front, back);
    await using server = program("server.ts", certs.path, [
      "2",
      "--connect",
      `tcp://127.0.0.1:${broker.backend}`,
      "--curve-server-key",
      front.keyFile,
    ]);
    await broker.broker.waitFor(/event HANDSHAKE_FAILED_PROTOCOL/);
    await server.waitFor(/CURVE handshake/, 5_000, "stderr");
  },
});
