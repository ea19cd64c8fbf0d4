/**
 * server.ts and client.ts with CURVE, as programs, against libzmq (pyzmq,
 * zeromq.js) in every direction, behind a CURVE broker, refusing what they
 * must while serving good clients, re-reading the allow-list on SIGHUP,
 * never sending a request or reply in clear, and surviving hostile CURVE
 * handshakes. Every process runs with `--allow-read` on its key directory
 * alone, on loopback, bounded in time, and is disposed.
 */
import assert from "node:assert/strict";
import { replyFor } from "../lib/protocol.ts";
import { Request } from "../lib/zmtp/mod.ts";
import {
  type CurveKeyPair,
  decodeZ85Key,
  generateKeyPair,
  readCertificate,
} from "../lib/zmtp/curve_keys.ts";
import { HandshakeRefusedError } from "../lib/zmtp/mechanism.ts";
import { CurveDriver } from "./_curve_driver.ts";
import {
  type Cert,
  CertDir,
  count,
  type CurveServer,
  HeldClient,
  holds,
  program,
  RecordingProxy,
  runCurveClient,
  startCurveServer,
} from "./_curve_programs.ts";
import {
  captureGoodStream,
  clientMechanism,
  type CurveTarget,
  hostileCurveInput,
  type Outcome,
  playAndDrop,
} from "./_hostile_curve.ts";
import { random } from "./_hostile.ts";
import { jeromqReq, requireJeromq } from "./_jeromq.ts";
import {
  lines,
  node,
  python,
  ROOT,
  sleep,
  TUTORIAL_CLIENT,
  within,
} from "./_process.ts";

const REP_PEER = `${ROOT}tests/peers/curve_rep.py`;
const REQ_PEER = `${ROOT}tests/peers/curve_req.py`;
const BROKER = `${ROOT}tests/peers/curve_broker.py`;

// Numbers every peer multiplies alike (Python's float and str).
const NUMBERS = ["100", "31415926535", "-0.5", "1e300"];
const REPLIES = NUMBERS.map((n) => replyFor(n, 2));

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
 * A client.ts held open, admitted by the server: asks one number and checks
 * the reply.
 */
async function goodClient(
  certs: CertDir,
  ours: CurveServer,
  server: Cert,
  good: Cert,
): Promise<HeldClient> {
  const client = new HeldClient(
    certs.path,
    clientArgs(ours.port, server, good),
  );
  assert.equal(await client.ask("100"), "200.0");
  return client;
}

/** What {@link refusalScene} sets up. */
interface RefusalScene extends AsyncDisposable {
  certs: CertDir;
  server: Cert;
  good: Cert;
  ours: CurveServer;
  held: HeldClient;
}

/**
 * The refusal tests' scene: a CURVE server.ts admitting only the client
 * "good", and that client held open and answered once, so that a test can
 * show that a refusal affects nobody else.
 */
async function refusalScene(): Promise<RefusalScene> {
  await using stack = new AsyncDisposableStack();
  const certs = stack.use(await CertDir.create());
  const server = await certs.make("server");
  const good = await certs.make("good", { allow: true });
  const ours = stack.use(
    await startCurveServer(certs.path, curveArgs(certs, server)),
  );
  const held = stack.use(await goodClient(certs, ours, server, good));
  const owned = stack.move();
  return {
    certs,
    server,
    good,
    ours,
    held,
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}

/**
 * Has `good` ask numbers, one after the other, until `done` settles, and
 * checks every reply; returns how many it asked (at least one).
 */
async function askUntil(
  good: HeldClient,
  done: Promise<unknown>,
): Promise<number> {
  let settled = false;
  done.then(() => settled = true, () => settled = true);
  let asked = 0;
  while (!settled && asked < 5000) {
    const request = `${asked + 1}.25`;
    assert.equal(await good.ask(request), replyFor(request, 2), request);
    asked++;
  }
  return asked;
}

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
  // A Z85 key may hold a '/': see the test for it below.
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
    `127.0.0.1:${broker.frontend} closed the connection during the CURVE handshake: its public key is not ${back.z85} (--curve-server-key)\n`,
  );
});

Deno.test({
  name:
    'server.ts --connect says on stderr that the broker refused its CURVE key with ERROR "400", and with nothing else to serve exits 1',
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
    const done = await server.finish(5_000);
    assert.equal(done.code, 1, done.stderr);
  },
});

Deno.test({
  name:
    "server.ts --connect says on stderr that its broker closes the CURVE handshake (a wrong --curve-server-key)",
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

// --- 2. Refusals, each while a good CURVE client is served -------------------

Deno.test("client.ts keys not in --curve-allow get ERROR 400 and exit 1 at once; server.ts names each key once; an admitted client.ts is served meanwhile", async () => {
  await using scene = await refusalScene();
  const { certs, server, ours, held } = scene;
  const stranger = await certs.make("stranger");
  const refuse = (own?: Cert) =>
    runCurveClient(
      certs.path,
      [...clientArgs(ours.port, server, own), "--timeout", "10000"],
      "100\n",
    );
  // The same unlisted key twice, and a fresh key (no --curve-key).
  const runs = Promise.all([refuse(stranger), refuse(stranger), refuse()]);
  const asked = await askUntil(held, runs);
  for (const run of await runs) {
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.equal(
      run.stderr,
      `127.0.0.1:${ours.port} refused the handshake with ERROR "400" (this client's CURVE key is not on its allow-list)\n`,
    );
    assert.ok(run.ms < 8_000, `exited after ${Math.round(run.ms)} ms`);
  }
  assert.equal(await held.ask("7"), "14.0");
  const stderr = await stderrSettled(ours);
  assert.equal(
    count(
      stderr,
      `server: refused the client key ${stranger.z85}: not in ${certs.allow} (said once per key)\n`,
    ),
    1,
    stderr,
  );
  assert.equal(count(stderr, "server: refused the client key "), 2, stderr);
  assert.ok(asked >= 1);
});

Deno.test("client.ts without CURVE (NULL) is refused by a CURVE server.ts, said once, and exits 1 naming CURVE; an admitted client.ts is served meanwhile", async () => {
  await using scene = await refusalScene();
  const { certs, ours, held } = scene;
  // Through a proxy that counts the plain client's connections.
  await using proxy = new RecordingProxy(ours.port);
  const plain = runCurveClient(
    certs.path,
    [String(proxy.port), "--timeout", "1000", "--retries", "2"],
    "100\n",
  );
  await askUntil(held, plain);
  const run = await plain;
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  // Which side sees the mismatch first is a race: the client reads the
  // server's greeting, or the server's close comes first.
  assert.match(
    run.stderr,
    new RegExp(
      `^127\\.0\\.0\\.1:${proxy.port} (requires CURVE \\(give its public key with --curve-server-key\\)|closed the connection during the ZMTP greeting \\(does it require CURVE\\? see --curve-server-key\\))\n$`,
    ),
  );
  assert.equal(proxy.connections, 1, "not dialed again: waiting cannot help");
  assert.equal(await held.ask("7"), "14.0");
  const stderr = await stderrSettled(ours);
  assert.equal(
    count(
      stderr,
      /that asks for NULL; this server requires CURVE \(said once\)\n/,
    ),
    1,
    stderr,
  );
});

Deno.test("the tutorial's multiply_client.py (NULL) is refused by a CURVE server.ts, said once, and libzmq does not come back; an admitted client.ts is served meanwhile", async () => {
  await using scene = await refusalScene();
  const { ours, held } = scene;
  await using proxy = new RecordingProxy(ours.port);
  await using tutorial = python(["-u", TUTORIAL_CLIENT, String(proxy.port)], {
    input: "100\n",
  });
  await askUntil(held, proxy.waitForConnections(1, 20_000));
  await ours.server.waitFor(
    /that asks for NULL; this server requires CURVE \(said once\)\n/,
    10_000,
    "stderr",
  );
  // Our whole greeting reaches it (RFC 37), so libzmq sees a mechanism it
  // cannot use, a protocol error, and does not reconnect; a hang-up would
  // have had it reconnect every 100 ms. Ten of those intervals, then count.
  for (let i = 0; i < 10; i++) assert.equal(await held.ask("3"), "6.0");
  await sleep(1000);
  assert.equal(proxy.connections, 1, "one connection, not retried");
  assert.ok(tutorial.running, "the tutorial's client waits for ever");
  assert.ok(!tutorial.stdout.includes("200.0"), tutorial.stdout);
  assert.equal(await held.ask("7"), "14.0");
});

Deno.test("client.ts with the wrong --curve-server-key says the server closed the CURVE handshake, names the key, and exits 1 at once", async () => {
  await using scene = await refusalScene();
  const { certs, good, ours, held } = scene;
  const impostor = await certs.make("impostor");
  const wrong = runCurveClient(
    certs.path,
    [
      ...clientArgs(ours.port, impostor, good),
      "--timeout",
      "30000",
    ],
    "100\n",
  );
  await askUntil(held, wrong);
  const run = await wrong;
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    `127.0.0.1:${ours.port} closed the connection during the CURVE handshake: its public key is not ${impostor.z85} (--curve-server-key)\n`,
  );
  // Well before one try of 30 s.
  assert.ok(run.ms < 15_000, `exited after ${Math.round(run.ms)} ms`);
  assert.equal(await held.ask("7"), "14.0");
});

Deno.test("client.ts --curve-server-key against a NULL server.ts says the server offers NULL, not CURVE; the server says once that it requires NULL", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  await using plain = await startCurveServer(certs.path, []);
  const run = await runCurveClient(
    certs.path,
    [...clientArgs(plain.port, server), "--timeout", "1000", "--retries", "2"],
    "100\n",
  );
  assert.equal(run.code, 1);
  assert.equal(run.stdout, "");
  // As with NULL against CURVE, the close may come before the greeting.
  assert.match(
    run.stderr,
    new RegExp(
      `^127\\.0\\.0\\.1:${plain.port} (offers NULL, not CURVE \\(is --curve-server-key meant for this server\\?\\)|closed the connection during the ZMTP greeting \\(does it use CURVE\\?\\))\n$`,
    ),
  );
  // The client's connections were refused over its two seconds, each
  // refusal's line (were there more than one) written at once; a plain
  // server has no SIGHUP handler to order stderr with.
  await plain.server.waitFor(/asks for CURVE/, 10_000, "stderr");
  assert.equal(
    count(
      plain.server.stderr,
      /that asks for CURVE; this server requires NULL \(said once\)\n/,
    ),
    1,
    plain.server.stderr,
  );
});

Deno.test("a JeroMQ 0.3.6 REQ (ZMTP/2.0) is refused by a CURVE server.ts on each reconnect, said once; an admitted client.ts is served meanwhile", async () => {
  requireJeromq();
  await using scene = await refusalScene();
  const { ours, held } = scene;
  await using proxy = new RecordingProxy(ours.port);
  await using jeromq = jeromqReq(`tcp://127.0.0.1:${proxy.port}`, ["100"], {
    timeoutMs: 10_000,
  });
  await askUntil(held, proxy.waitForConnections(3, 20_000));
  await proxy.waitForConnections(3);
  const stderr = await stderrSettled(ours);
  assert.equal(
    count(
      stderr,
      /: refused a ZMTP\/2\.0 peer from [^\n]*: ZMTP\/2\.0 cannot carry CURVE \(said once\)\n/,
    ),
    1,
    stderr,
  );
  assert.equal(jeromq.stdout, "", "no reply reached the ZMTP/2.0 peer");
  assert.equal(await held.ask("7"), "14.0");
});

Deno.test("server.ts names at most 100 refused client keys, the hundredth saying no more will be named", async () => {
  await using scene = await refusalScene();
  const { server, ours, held } = scene;
  const serverKey = decodeZ85Key(server.z85);
  const refused = async () => {
    const mechanism = await clientMechanism(await generateKeyPair(), serverKey);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: ours.port });
    try {
      await assert.rejects(
        () => CurveDriver.open(conn, mechanism),
        (error: Error) =>
          error instanceof HandshakeRefusedError && error.reason === "400",
      );
    } finally {
      conn.close();
    }
  };
  const strangers = (async () => {
    for (let i = 0; i < 12; i++) {
      await Promise.all(Array.from({ length: 10 }, refused));
    }
  })();
  await askUntil(held, strangers);
  await strangers;
  const named = (await stderrSettled(ours)).split("\n").filter((line) =>
    line.startsWith("server: refused the client key ")
  );
  assert.equal(named.length, 100);
  assert.equal(
    named.filter((line) => line.endsWith(" (said once per key)")).length,
    99,
  );
  assert.ok(
    named[99].endsWith(
      " (said once per key; no more keys will be named)",
    ),
    named[99],
  );
});

// --- 3. SIGHUP re-reads --curve-allow ----------------------------------------

Deno.test("SIGHUP makes server.ts re-read --curve-allow: a refused client.ts is served once its .key is copied in, and refused again once it is removed", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  await certs.make("first", { allow: true });
  const late = await certs.make("late");
  await using ours = await startCurveServer(
    certs.path,
    curveArgs(certs, server),
  );
  const ask = () =>
    runCurveClient(certs.path, clientArgs(ours.port, server, late), "100\n");
  const refusedLine =
    `127.0.0.1:${ours.port} refused the handshake with ERROR "400" (this client's CURVE key is not on its allow-list)\n`;

  const before = await ask();
  assert.equal(before.code, 1);
  assert.equal(before.stderr, refusedLine);

  await certs.admit(late);
  ours.server.child.kill("SIGHUP");
  await ours.server.waitFor(
    new RegExp(
      `^server: re-read ${escape(certs.allow)}: 2 client keys admitted$`,
      "m",
    ),
    10_000,
    "stderr",
  );
  const after = await ask();
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout, "200.0\n");

  await Deno.remove(`${certs.allow}/late.key`);
  ours.server.child.kill("SIGHUP");
  await ours.server.waitFor(
    new RegExp(
      `^server: re-read ${escape(certs.allow)}: 1 client keys admitted$`,
      "m",
    ),
    10_000,
    "stderr",
  );
  const again = await ask();
  assert.equal(again.code, 1);
  assert.equal(again.stderr, refusedLine);
  assert.ok(ours.server.running);
});

Deno.test("SIGHUP with the --curve-allow directory gone keeps the keys admitted before, and says so", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const client = await certs.make("client", { allow: true });
  await using ours = await startCurveServer(
    certs.path,
    curveArgs(certs, server),
  );
  await Deno.rename(certs.allow, `${certs.path}/moved`);
  ours.server.child.kill("SIGHUP");
  await ours.server.waitFor(
    new RegExp(
      `^server: --curve-allow ${
        escape(certs.allow)
      }: no such file or directory; the previous 1 keys stay admitted$`,
      "m",
    ),
    10_000,
    "stderr",
  );
  const run = await runCurveClient(
    certs.path,
    clientArgs(ours.port, server, client),
    "100\n",
  );
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "200.0\n");
});

// --- 4. Nothing in clear -----------------------------------------------------

Deno.test("a recording proxy sees no request or reply text between client.ts and server.ts with CURVE, and sees both with NULL", async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const client = await certs.make("client", { allow: true });
  const requests = ["31415926535", "27182818284.5"];
  const replies = requests.map((r) => replyFor(r, 2)); // 62831853070.0 ...
  const texts = [...requests, ...replies.map((r) => r.replace(/\.0$/, ""))];

  const recorded = async (curve: boolean) => {
    await using ours = await startCurveServer(
      certs.path,
      curve ? curveArgs(certs, server) : [],
    );
    await using proxy = new RecordingProxy(ours.port);
    const run = await runCurveClient(
      certs.path,
      curve ? clientArgs(proxy.port, server, client) : [String(proxy.port)],
      lines(requests),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, lines(replies));
    await ours.server.waitForLines(requests.length + 1);
    return { toServer: proxy.toServer, toClient: proxy.toClient };
  };

  const curve = await recorded(true);
  // The greetings went through the proxy, naming CURVE in clear.
  assert.ok(holds(curve.toServer, "CURVE") && holds(curve.toClient, "CURVE"));
  for (const text of texts) {
    assert.ok(!holds(curve.toServer, text), `${text} went to the server`);
    assert.ok(!holds(curve.toClient, text), `${text} came to the client`);
  }

  const plain = await recorded(false);
  for (const request of requests) {
    assert.ok(holds(plain.toServer, request), `${request} not seen in clear`);
  }
  for (const reply of replies) {
    assert.ok(holds(plain.toClient, reply), `${reply} not seen in clear`);
  }
});

// --- 5. Hostile CURVE handshakes ---------------------------------------------

const CURVE_INPUTS = Number(Deno.env.get("CURVE_FUZZ_INPUTS") ?? 500);
// Replies the good sockets must have had (and client.ts a tenth of that)
// before the hostile run may end.
const GOOD_DURING = 100;

Deno.test(`fuzz: ${CURVE_INPUTS} hostile CURVE inputs leave server.ts --curve-key serving good CURVE clients every reply`, async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const good = await certs.make("good", { allow: true });
  const held = await certs.make("held", { allow: true });
  await using ours = await startCurveServer(certs.path, [
    ...curveArgs(certs, server),
    "--quiet",
    "--max-message-size",
    "65536",
  ]);
  const serverKey = decodeZ85Key(server.z85);
  const goodKeys = await readCertificate(good.secretFile);
  const admitted: CurveKeyPair = {
    publicKey: goodKeys.publicKey,
    secretKey: goodKeys.secretKey!,
  };
  const target: CurveTarget = {
    port: ours.port,
    serverKey,
    admitted,
    captured: await captureGoodStream(ours.port, serverKey, admitted),
  };

  // Good clients all along: two CURVE Request sockets in this process, and
  // a client.ts held open. The hostile run ends once both kinds have had
  // replies while it went on.
  let stopped = false;
  const load = { sent: 0, correct: 0, wrong: [] as string[], timeouts: 0 };
  let programAsked = 0;
  let enough!: () => void;
  const servedEnough = new Promise<void>((resolve) => enough = resolve);
  const checkEnough = () => {
    if (load.correct >= GOOD_DURING && programAsked >= GOOD_DURING / 10) {
      enough();
    }
  };
  const decoder = new TextDecoder();
  const sockets = Array.from({ length: 2 }, async (_, c) => {
    const open = () => {
      const socket = new Request({
        receiveTimeout: 5000,
        linger: 0,
        curveServerKey: serverKey,
        curvePublicKey: admitted.publicKey,
        curveSecretKey: admitted.secretKey,
      });
      socket.connect(`tcp://127.0.0.1:${ours.port}`);
      return socket;
    };
    let socket = open();
    for (let i = 0; !stopped; i++) {
      const request = `${c}${i}.${i % 7}`;
      load.sent++;
      await socket.send(request);
      try {
        const [reply] = await socket.receive();
        const text = decoder.decode(reply);
        if (text === replyFor(request, 2)) load.correct++;
        else load.wrong.push(`${request} -> ${text}`);
        checkEnough();
      } catch {
        load.timeouts++;
        await socket.close();
        socket = open();
      }
    }
    await socket.close();
  });
  await using client = new HeldClient(
    certs.path,
    clientArgs(ours.port, server, held),
  );
  const programLoop = (async () => {
    while (!stopped) {
      const request = `${programAsked}.5`;
      assert.equal(await client.ask(request), replyFor(request, 2));
      programAsked++;
      checkEnough();
    }
  })();

  const rand = random(20261126);
  const kinds = new Map<string, number>();
  const outcomes = new Map<Outcome, number>();
  const answered: string[] = [];
  const stillOpen: string[] = [];
  let tried = 0;
  const workers = Array.from({ length: 12 }, async () => {
    while (tried < CURVE_INPUTS) {
      tried++;
      const input = hostileCurveInput(rand);
      kinds.set(input.kind, (kinds.get(input.kind) ?? 0) + 1);
      const outcome = await playAndDrop(input, target);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome === "answered") answered.push(input.kind);
      if (outcome === "still open") stillOpen.push(input.kind);
    }
  });
  await Promise.all(workers);
  await within(servedEnough, 30_000, "good clients served during the run");
  stopped = true;
  await Promise.all([...sockets, programLoop]);

  // And afterwards, a fresh client.ts gets its replies.
  const after = await runCurveClient(
    certs.path,
    clientArgs(ours.port, server, good),
    lines(NUMBERS),
  );
  console.log(
    `curve fuzz: ${tried} hostile inputs (${
      [...kinds].map(([k, n]) => `${n} ${k}`).join(", ")
    }); outcomes: ${
      [...outcomes].map(([k, n]) => `${n} ${k}`).join(", ")
    }; good sockets: ${load.sent} requests, ${load.correct} correct, ${load.timeouts} timeouts; client.ts: ${programAsked} correct`,
  );
  assert.deepEqual(answered, [], "no forged or replayed request answered");
  assert.deepEqual(stillOpen, [], "every bad command closed at once");
  assert.deepEqual(load.wrong, []);
  assert.equal(load.timeouts, 0, "no good request went unanswered");
  assert.equal(load.correct, load.sent);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout, lines(REPLIES));
  assert.ok(ours.server.running, "the server is still up");
  assert.equal(
    ours.server.stdout.split("\n").length,
    2,
    "nothing but the Waiting line on stdout",
  );
  // On stderr: its key, each refused key once, and nothing else.
  const stderr = await stderrSettled(ours);
  const refusedKeys = outcomes.get("refused 400") ?? 0;
  const said = stderr.split("\n").filter((line) => line !== "");
  assert.equal(
    said.filter((line) => line.startsWith("server: refused the client key "))
      .length,
    Math.min(refusedKeys, 100),
    stderr,
  );
  assert.deepEqual(
    said.filter((line) =>
      !/^server: (CURVE public key |refused the client key |re-read |refused a CURVE client from \S+: it has another public key for this server \(said once\))/
        .test(line)
    ),
    [],
  );
});
