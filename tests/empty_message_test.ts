/**
 * Empty messages against RFC 28: "The request and reply messages SHALL have
 * this format on the wire: ... A delimiter, consisting of an empty frame ...
 * One or more data frames, comprising the message visible to the
 * application." A message of no data frames is neither a request nor a
 * reply: we refuse to send one and drop one received. Our REP drops it as
 * libzmq's (pyzmq) does; libzmq's REQ goes further and drops the
 * connection. An empty data frame is a message like any other.
 */
import assert from "node:assert/strict";
import { Request } from "../lib/zmtp/mod.ts";
import { RawListener, RawPeer } from "./_raw_peer.ts";
import {
  freePort,
  type Proc,
  python,
  ROOT,
  startServer,
  startTutorialServer,
} from "./_process.ts";
import { boundReply } from "./_sockets.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/** A REP to test against: its port, and its reply to "1". */
interface Server extends AsyncDisposable {
  port: number;
  one: string;
}

/** Our Reply in this process, echoing each request. */
async function ourReply(): Promise<Server> {
  const bound = await boundReply({}, (request) => request);
  return { ...bound, one: "1" };
}

async function serverTs(): Promise<Server> {
  const running = await startServer(["2", "0", "--quiet"]);
  return {
    port: running.port,
    one: "2.0",
    [Symbol.asyncDispose]: running[Symbol.asyncDispose],
  };
}

async function tutorialServer(): Promise<Server> {
  const port = freePort();
  const proc: Proc = await startTutorialServer(2, port);
  return {
    port,
    one: "2.0",
    [Symbol.asyncDispose]: () => proc[Symbol.asyncDispose](),
  };
}

const servers: [string, () => Promise<Server>][] = [
  ["our Reply (echo)", ourReply],
  ["server.ts", serverTs],
  ["multiply_server.py (pyzmq REP)", tutorialServer],
];

Deno.test("Request.send([]) rejects with TypeError, and sends nothing: a request needs a data frame", async () => {
  using listener = new RawListener();
  await using request = new Request();
  request.connect(listener.endpoint);
  using rep = await listener.accept();
  await rep.handshake("REP");
  await assert.rejects(request.send([]), TypeError);
  await request.send("next");
  assert.deepEqual(await rep.receiveText(), ["", "next"]);
});

Deno.test("Reply.send([]) rejects with TypeError, and the request can still be answered: a reply needs a data frame", async () => {
  await using bound = await boundReply();
  const { reply } = bound;
  using req = await RawPeer.connect(bound.port);
  await req.handshake("REQ");
  await req.send("", "question");
  await reply.receive();
  await assert.rejects(reply.send([]), TypeError);
  await reply.send("answer");
  assert.deepEqual(await req.receiveText(), ["", "answer"]);
});

for (const [name, start] of servers) {
  Deno.test(`${name}: a DEALER's delimiter-only message [""] gets no reply, and its next request ["", "1"] is answered`, async () => {
    await using server = await start();
    using dealer = await RawPeer.connect(server.port);
    await dealer.handshake("DEALER");
    await dealer.send("");
    await dealer.send("", "1");
    // Replies leave in the order of requests: had [""] been answered, its
    // reply would come first.
    assert.deepEqual(await dealer.receiveText(10_000), ["", server.one]);
  });
}

Deno.test('our Request drops a delimiter-only reply [""], keeps waiting, and takes the next good reply', async () => {
  using listener = new RawListener();
  await using request = new Request({ receiveTimeout: 10_000 });
  request.connect(listener.endpoint);
  using rep = await listener.accept();
  await rep.handshake("REP");
  await request.send("q");
  assert.deepEqual(await rep.receiveText(), ["", "q"]);
  await rep.send("");
  await rep.send("", "good");
  assert.deepEqual((await request.receive()).map(decode), ["good"]);
});

// Not the same: libzmq's REQ session (req_session_t::push_msg) takes a
// reply that is not [delimiter, body...] as a protocol error and closes the
// connection, so the request is never answered. Ours drops the message
// and keeps the connection (RFC 28 says nothing of malformed replies).
Deno.test('pyzmq\'s REQ differs: a delimiter-only reply [""] makes it close the connection, and the good reply after it never arrives', async () => {
  using listener = new RawListener();
  await using req = python([
    `${ROOT}tests/peers/req_once.py`,
    listener.endpoint,
    "q",
    "3000",
  ]);
  using rep = await listener.accept(10_000);
  await rep.handshake("REP");
  assert.deepEqual(await rep.receiveText(10_000), ["", "q"]);
  await rep.send("");
  await rep.send("", "good");
  assert.ok(await rep.closedByPeer(10_000), "pyzmq closed the connection");
  const result = await req.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "timeout\n");
});

Deno.test('our Reply hands the body of ["", ""] to its handler as one empty frame', async () => {
  await using bound = await boundReply();
  const { reply } = bound;
  using req = await RawPeer.connect(bound.port);
  await req.handshake("REQ");
  await req.send("", "");
  const request = await reply.receive();
  assert.deepEqual(request.map((part) => part.length), [0]);
  await reply.send("seen");
  assert.deepEqual(await req.receiveText(), ["", "seen"]);
});

for (const [name, start] of servers.slice(1)) {
  Deno.test(`${name}: an empty body ["", ""] is a request, answered "not a 'float'"`, async () => {
    await using server = await start();
    using req = await RawPeer.connect(server.port);
    await req.handshake("REQ");
    await req.send("", "");
    assert.deepEqual(await req.receiveText(10_000), ["", "not a 'float'"]);
  });
}
