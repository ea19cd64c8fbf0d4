/**
 * The REQ socket against RFC 28, clause by clause, with hand-driven REP and
 * ROUTER peers on loopback; and the lockstep rules of our API.
 */
import assert from "node:assert/strict";
import {
  Reply,
  Request,
  type RequestOptions,
  SocketError,
} from "../lib/zmtp/mod.ts";
import { RawListener, type RawPeer } from "./_raw_peer.ts";
import { sleep } from "./_process.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const code = (name: string) => (e: unknown) =>
  e instanceof SocketError && e.code === name;

Deno.test("REQ: SHALL prefix the outgoing message with an empty delimiter frame", async () => {
  using listener = new RawListener();
  const request = new Request();
  request.connect(listener.endpoint);
  using rep = await listener.accept();
  await rep.handshake("REP");
  await request.send(["a", "b"]);
  assert.deepEqual(await rep.receiveText(), ["", "a", "b"]);
  await rep.send("", "reply");
  assert.deepEqual((await request.receive()).map(decode), ["reply"]);
  await request.close();
});

Deno.test("REQ: SHALL route outgoing messages to connected peers round-robin", async () => {
  using first = new RawListener();
  using second = new RawListener();
  const request = new Request({ receiveTimeout: 3000 });
  request.connect(first.endpoint);
  request.connect(second.endpoint);
  using a = await first.accept();
  using b = await second.accept();
  await a.handshake("REP");
  await b.handshake("REP");
  await sleep(50);
  // Each raw REP answers every request with its own name.
  const answer = async (peer: RawPeer, name: string) => {
    try {
      while (true) {
        await peer.receiveText(10_000);
        await peer.send("", name);
      }
    } catch {
      // The connection closed: the test is over.
    }
  };
  const answering = [answer(a, "a"), answer(b, "b")];
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) {
    await request.send(String(i));
    const [name] = (await request.receive()).map(decode);
    assert.equal(
      request.lastPeer,
      name === "a" ? first.endpoint : second.endpoint,
    );
    seen.push(name);
  }
  assert.deepEqual(seen.slice(0, 2).sort(), ["a", "b"]);
  for (let i = 2; i < seen.length; i++) {
    assert.equal(seen[i], seen[i - 2], seen.join());
  }
  await request.close();
  a.close();
  b.close();
  await Promise.all(answering);
});

Deno.test("REQ: SHALL accept a reply only from the peer it sent the request to", async () => {
  using first = new RawListener();
  using second = new RawListener();
  const request = new Request({ receiveTimeout: 3000 });
  request.connect(first.endpoint);
  using a = await first.accept();
  await a.handshake("ROUTER");
  await sleep(50);
  request.connect(second.endpoint);
  using b = await second.accept();
  await b.handshake("ROUTER");
  await request.send("q");
  const [holder, other] = await Promise.race([
    a.receiveText().then(() => [a, b]),
    b.receiveText().then(() => [b, a]),
  ]);
  await other.send("", "impostor");
  await sleep(50);
  await holder.send("", "genuine");
  assert.deepEqual((await request.receive()).map(decode), ["genuine"]);
  await request.close();
});

Deno.test("REQ: a reply without the empty delimiter is discarded", async () => {
  using listener = new RawListener();
  const request = new Request({ receiveTimeout: 3000 });
  request.connect(listener.endpoint);
  using rep = await listener.accept();
  await rep.handshake("REP");
  await request.send("q");
  await rep.receiveText();
  await rep.send("no-delimiter");
  await rep.send("", "good");
  assert.deepEqual((await request.receive()).map(decode), ["good"]);
  await request.close();
});

Deno.test("Request: lockstep misuse rejects with EFSM", async () => {
  using listener = new RawListener();
  const request = new Request();
  await assert.rejects(request.receive(), code("EFSM"));
  request.connect(listener.endpoint);
  await request.send("one");
  await assert.rejects(request.send("two"), code("EFSM"));
  await request.close();
  await assert.rejects(request.send("three"), code("ETERM"));
  (await listener.accept()).close();
});

Deno.test("Request: a request sent before any peer is up goes to the first that comes", async () => {
  const port = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  const request = new Request({ receiveTimeout: 5000, reconnectInterval: 50 });
  request.connect(`tcp://127.0.0.1:${port}`);
  await request.send("early");
  await sleep(300);
  const reply = new Reply();
  await reply.bind(`tcp://127.0.0.1:${port}`);
  const serving = reply.serve(([body]) => [`got ${decode(body)}`]);
  assert.deepEqual((await request.receive()).map(decode), ["got early"]);
  await request.close();
  await reply.close();
  await serving;
});

Deno.test("Request.receive() rejects with EHOSTUNREACH when the peer holding the request leaves", async () => {
  using listener = new RawListener();
  const request = new Request({ receiveTimeout: 5000 });
  request.connect(listener.endpoint);
  const rep = await listener.accept();
  await rep.handshake("REP");
  await request.send("q");
  await rep.receiveText();
  rep.close();
  await assert.rejects(request.receive(), code("EHOSTUNREACH"));
  // The socket is usable again: the next request goes to the reconnected peer.
  await request.send("again");
  using back = await listener.accept();
  await back.handshake("REP");
  assert.deepEqual(await back.receiveText(), ["", "again"]);
  await back.send("", "ok");
  assert.deepEqual((await request.receive()).map(decode), ["ok"]);
  await request.close();
});

Deno.test("Request: receiveTimeout rejects with EAGAIN and the request stays pending", async () => {
  using listener = new RawListener();
  const request = new Request({ receiveTimeout: 100 });
  request.connect(listener.endpoint);
  using rep = await listener.accept();
  await rep.handshake("REP");
  await request.send("q");
  await assert.rejects(request.receive(), code("EAGAIN"));
  await rep.receiveText();
  await rep.send("", "late but ours");
  assert.deepEqual((await request.receive()).map(decode), ["late but ours"]);
  await request.close();
});

Deno.test("Request { relaxed, correlate }: a late reply to an abandoned request is never taken", async () => {
  using listener = new RawListener();
  const request = new Request({
    receiveTimeout: 2000,
    relaxed: true,
    correlate: true,
  });
  request.connect(listener.endpoint);
  using router = await listener.accept();
  await router.handshake("ROUTER");
  await request.send("first");
  const first = await router.next();
  await request.send("second"); // allowed: relaxed
  const second = await router.next();
  assert.ok(first.kind === "message" && second.kind === "message");
  assert.equal(first.parts[0].length, 4, "a request id leads");
  assert.equal(decode(first.parts[2]), "first");
  await router.send(first.parts[0], "", "reply to first");
  await router.send(second.parts[0], "", "reply to second");
  assert.deepEqual((await request.receive()).map(decode), ["reply to second"]);
  await request.close();
});

Deno.test("Request and Reply talk to each other in one process", async () => {
  const reply = new Reply();
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  const serving = reply.serve((parts) =>
    parts.map((p) => decode(p).toUpperCase())
  );
  await using request = new Request({ receiveTimeout: 2000 });
  request.connect(endpoint);
  for (const word of ["one", "two", "three"]) {
    await request.send([word, "x"]);
    assert.deepEqual((await request.receive()).map(decode), [
      word.toUpperCase(),
      "X",
    ]);
  }
  await reply.close();
  await serving;
});

Deno.test("Request: peerCount, connectionCount and disconnect() follow the peers", async () => {
  const replies = [new Reply(), new Reply()];
  const endpoints = await Promise.all(
    replies.map((r) => r.bind("tcp://127.0.0.1:0")),
  );
  const serving = replies.map((r, i) => r.serve(() => `from ${i}`));
  const request = new Request({ receiveTimeout: 2000 });
  for (const endpoint of endpoints) request.connect(endpoint);
  for (let i = 0; i < 100 && request.peerCount < 2; i++) await sleep(10);
  assert.equal(request.peerCount, 2);
  assert.equal(request.connectionCount, 2);
  await request.disconnect(endpoints[0]);
  assert.equal(request.peerCount, 1);
  for (let i = 0; i < 4; i++) {
    await request.send("q");
    assert.deepEqual((await request.receive()).map(decode), ["from 1"]);
  }
  await request.close();
  await Promise.all(replies.map((r) => r.close()));
  await Promise.all(serving);
});

Deno.test("Request and Reply refuse unknown and out-of-range options", () => {
  assert.throws(() => new Reply({ maxMessageSize: 0 }), RangeError);
  assert.throws(() => new Reply({ maxConnections: 0 }), RangeError);
  assert.throws(() => new Request({ routingId: "x".repeat(256) }), RangeError);
  assert.throws(
    () => new Request({ recieveTimeout: 5 } as unknown as RequestOptions),
    /no such option/,
  );
  assert.throws(
    () => new Request({ linger: "1" as unknown as number }),
    /not a number/,
  );
});
