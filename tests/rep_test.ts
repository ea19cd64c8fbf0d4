/**
 * The REP socket against RFC 28, clause by clause, with hand-driven peers on
 * loopback; and the lockstep and serve() behaviour of our API.
 */
import assert from "node:assert/strict";
import { Reply, SocketError } from "../lib/zmtp/mod.ts";
import { takeEnvelope } from "../lib/zmtp/rep.ts";
import { RawPeer } from "./_raw_peer.ts";
import { sleep, within } from "./_process.ts";
import { boundReply } from "./_sockets.ts";

const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("REP: SHALL receive incoming messages from its peers using a fair-queuing strategy", async () => {
  const { reply, port } = await boundReply();
  using a = await RawPeer.connect(port);
  using b = await RawPeer.connect(port);
  await a.handshake("DEALER");
  await b.handshake("DEALER");
  // DEALER peers may pipeline: a sends three, b sends three.
  for (const i of [0, 1, 2]) await a.send("", `a${i}`);
  for (const i of [0, 1, 2]) await b.send("", `b${i}`);
  await sleep(100);
  const order: string[] = [];
  for (let i = 0; i < 6; i++) {
    const [body] = await reply.receive();
    order.push(decode(body));
    await reply.send("ok");
  }
  assert.deepEqual(order.map((s) => s[0]), ["a", "b", "a", "b", "a", "b"]);
  await reply.close();
});

Deno.test("REP: SHALL remove the envelope and prepend it to the reply, back to the originating peer", async () => {
  const { reply, port } = await boundReply();
  using dealer = await RawPeer.connect(port);
  await dealer.handshake("DEALER");
  await dealer.send("hop1", "hop2", "", "question", "second part");
  const request = await reply.receive();
  assert.deepEqual(request.map(decode), ["question", "second part"]);
  await reply.send(["answer", "two"]);
  assert.deepEqual(await dealer.receiveText(), [
    "hop1",
    "hop2",
    "",
    "answer",
    "two",
  ]);
  await reply.close();
});

Deno.test("REP: SHALL silently discard the reply when the requester no longer exists", async () => {
  const { reply, port } = await boundReply();
  const gone = await RawPeer.connect(port);
  await gone.handshake("REQ");
  await gone.send("", "1");
  await reply.receive();
  gone.close();
  await sleep(50);
  await reply.send("nobody hears this");
  using next = await RawPeer.connect(port);
  await next.handshake("REQ");
  await next.send("", "2");
  assert.deepEqual((await reply.receive()).map(decode), ["2"]);
  await reply.send("heard");
  assert.deepEqual(await next.receiveText(), ["", "heard"]);
  await reply.close();
});

Deno.test("REP: a request without a delimiter is dropped, the next one served", async () => {
  const { reply, port } = await boundReply();
  using dealer = await RawPeer.connect(port);
  await dealer.handshake("DEALER");
  await dealer.send("no delimiter here");
  await dealer.send("", "fine");
  assert.deepEqual((await reply.receive()).map(decode), ["fine"]);
  await reply.close();
});

Deno.test("Reply: lockstep misuse rejects with EFSM and EBUSY", async () => {
  const { reply, port } = await boundReply({ receiveTimeout: 2000 });
  await assert.rejects(
    reply.send("x"),
    (e) => e instanceof SocketError && e.code === "EFSM",
  );
  using peer = await RawPeer.connect(port);
  await peer.handshake("REQ");
  const first = reply.receive();
  await assert.rejects(
    reply.receive(),
    (e) => e instanceof SocketError && e.code === "EBUSY",
  );
  await peer.send("", "1");
  await first;
  await assert.rejects(
    reply.receive(),
    (e) => e instanceof SocketError && e.code === "EFSM",
  );
  await reply.send("done");
  await reply.close();
});

Deno.test("Reply.receive() rejects with EAGAIN after receiveTimeout, ETERM on close", async () => {
  const { reply } = await boundReply({ receiveTimeout: 50 });
  await assert.rejects(
    reply.receive(),
    (e) => e instanceof SocketError && e.code === "EAGAIN",
  );
  const { reply: other } = await boundReply();
  const pending = assert.rejects(
    other.receive(),
    (e) => e instanceof SocketError && e.code === "ETERM",
  );
  await other.close();
  await pending;
  await assert.rejects(
    other.receive(),
    (e) => e instanceof SocketError && e.code === "ETERM",
  );
  await reply.close();
});

Deno.test("Reply: for await ends when the socket closes", async () => {
  const { reply, port } = await boundReply();
  using peer = await RawPeer.connect(port);
  await peer.handshake("REQ");
  const served: string[] = [];
  const loop = (async () => {
    for await (const [body] of reply) {
      served.push(decode(body));
      await reply.send(body);
      if (served.length === 2) void reply.close();
    }
  })();
  for (const n of ["1", "2"]) {
    await peer.send("", n);
    assert.deepEqual(await peer.receiveText(), ["", n]);
  }
  await within(loop, 2000, "iteration ending");
  assert.deepEqual(served, ["1", "2"]);
});

Deno.test("Reply.serve() answers peers concurrently, each peer in order", async () => {
  const { reply, port } = await boundReply();
  const started: string[] = [];
  const serving = reply.serve(async ([body]) => {
    const name = decode(body);
    started.push(name);
    await sleep(name.startsWith("slow") ? 300 : 10);
    return text(`done ${name}`);
  });
  using slow = await RawPeer.connect(port);
  using fast = await RawPeer.connect(port);
  await slow.handshake("DEALER");
  await fast.handshake("DEALER");
  await slow.send("", "slow1");
  await slow.send("", "slow2");
  await fast.send("", "fast");
  const t0 = performance.now();
  assert.deepEqual(await fast.receiveText(), ["", "done fast"]);
  assert.ok(
    performance.now() - t0 < 250,
    "the fast peer did not wait for the slow one",
  );
  assert.deepEqual(await slow.receiveText(), ["", "done slow1"]);
  assert.deepEqual(await slow.receiveText(), ["", "done slow2"]);
  assert.deepEqual(started.filter((s) => s.startsWith("slow")), [
    "slow1",
    "slow2",
  ]);
  await reply.close();
  await serving;
});

Deno.test("Reply.serve() reports a throwing handler and keeps serving", async () => {
  const errors: string[] = [];
  const { reply, port } = await boundReply({
    onEvent: (event: { type: string; error?: Error }) => {
      if (event.type === "error") errors.push(event.error!.message);
    },
  });
  const serving = reply.serve(([body]) => {
    if (decode(body) === "boom") throw new Error("boom");
    return body;
  });
  using peer = await RawPeer.connect(port);
  await peer.handshake("DEALER");
  await peer.send("", "boom");
  await peer.send("", "fine");
  assert.deepEqual(await peer.receiveText(), ["", "fine"]);
  assert.deepEqual(errors, ["boom"]);
  await reply.close();
  await serving;
});

Deno.test("REP: a PING gets a PONG echoing its context", async () => {
  const { reply, port } = await boundReply();
  using peer = await RawPeer.connect(port);
  await peer.handshake("REQ");
  const { encodeCommand } = await import("../lib/zmtp/frame.ts");
  await peer.write(
    encodeCommand("PING", new Uint8Array([0, 50, ...text("ctx-42")])),
  );
  const pong = await peer.next();
  assert.equal(pong.kind, "command");
  assert.ok(
    pong.kind === "command" && pong.name === "PONG" &&
      decode(pong.data) === "ctx-42",
  );
  await reply.close();
});

Deno.test("Reply: bind reports a port in use with EADDRINUSE", async () => {
  const { reply, endpoint } = await boundReply();
  const other = new Reply();
  await assert.rejects(
    other.bind(endpoint),
    (e) => e instanceof SocketError && e.code === "EADDRINUSE",
  );
  await assert.rejects(other.bind("tcp://nonsense"), SyntaxError);
  await other.close();
  await reply.close();
});

Deno.test("Reply: a peer that keeps its queue from ever emptying is served in order", async () => {
  const { reply, port } = await boundReply();
  using dealer = await RawPeer.connect(port);
  await dealer.handshake("DEALER");
  // 3,000 requests in flight at once while the lockstep receive()/send()
  // loop takes them one by one: the queue never empties for long.
  const total = 3000;
  const sending = (async () => {
    for (let i = 0; i < total; i++) await dealer.send("", String(i));
  })();
  const seen: string[] = [];
  for (let i = 0; i < total; i++) {
    const [body] = await reply.receive();
    seen.push(decode(body));
    await reply.send(body);
  }
  await sending;
  assert.deepEqual(seen, Array.from({ length: total }, (_, i) => String(i)));
  for (let i = 0; i < total; i++) {
    assert.deepEqual(await dealer.receiveText(), ["", String(i)]);
  }
  await reply.close();
});

Deno.test("takeEnvelope() cuts the envelope off in place, up to the first empty frame", () => {
  const message = ["id", "", "body", "more"].map((s) =>
    new TextEncoder().encode(s)
  );
  const envelope = takeEnvelope(message)!;
  assert.deepEqual(envelope.map(decode), ["id", ""]);
  assert.deepEqual(message.map(decode), ["body", "more"]);
  const plain = [new Uint8Array(0), new TextEncoder().encode("x")];
  assert.deepEqual(takeEnvelope(plain)!.map(decode), [""]);
  assert.deepEqual(plain.map(decode), ["x"]);
  assert.equal(
    takeEnvelope([new TextEncoder().encode("no delimiter")]),
    undefined,
  );
});

Deno.test("Reply hands out requests in memory of their own: no other peer's bytes in their buffer, and transferring one leaves the rest", async () => {
  const { reply, port } = await boundReply();
  using a = await RawPeer.connect(port);
  using b = await RawPeer.connect(port);
  await a.handshake("REQ");
  await b.handshake("REQ");
  await a.send("", "secret-of-a");
  const [first] = await reply.receive();
  await reply.send("ok");
  await b.send("", "from-b");
  const [second] = await reply.receive();
  await reply.send("ok");
  // Small bodies are decoded into slabs shared by every connection; what
  // the application gets is a copy: its buffer holds its request alone.
  for (const body of [first, second]) {
    assert.equal(body.byteOffset, 0);
    assert.equal(body.buffer.byteLength, body.byteLength);
  }
  assert.doesNotMatch(decode(new Uint8Array(second.buffer)), /secret-of-a/);
  // Transferring one request's buffer (to a worker, say) detaches it alone.
  structuredClone(second, { transfer: [second.buffer as ArrayBuffer] });
  assert.equal(second.byteLength, 0, "the transferred one is detached");
  assert.equal(decode(first), "secret-of-a", "the other is intact");
  const [after] = await Promise.all([
    reply.receive(),
    a.send("", "again"),
  ]);
  assert.equal(decode(after[0]), "again", "later requests are intact too");
  await reply.send("ok");
  await reply.close();
});
