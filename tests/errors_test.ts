/**
 * Errors go to one place: whatever a request handler or an `onEvent`
 * callback does wrong is reported as an `error` event naming the peer,
 * never as an unhandled rejection or an uncaught error (either would fail
 * the Deno test that caused it), and the socket keeps serving everyone
 * else. rep.ts's policy for the request that failed: a REQ peer's
 * connection is closed (it may send nothing more until it has a reply), a
 * DEALER peer's request is dropped and the peer stays.
 */
import assert from "node:assert/strict";
import {
  type MessageLike,
  type PeerInfo,
  Request,
  type RequestHandler,
  SocketError,
  type SocketEvent,
} from "../lib/zmtp/mod.ts";
import { RawPeer } from "./_raw_peer.ts";
import { deno, within } from "./_process.ts";
import { boundReply } from "./_sockets.ts";

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

type ErrorEvent = Extract<SocketEvent, { type: "error" }>;

/** Every event a socket emits, with a way to await one. */
class Events {
  readonly seen: SocketEvent[] = [];
  #waiters: { match: (e: SocketEvent) => boolean; wake: () => void }[] = [];

  readonly onEvent = (event: SocketEvent): void => {
    this.seen.push(event);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (waiter.match(event)) waiter.wake();
      else this.#waiters.push(waiter);
    }
  };

  /** The first event (seen already or to come) that matches. */
  async waitFor<T extends SocketEvent>(
    match: (event: SocketEvent) => event is T,
    what: string,
    ms = 5000,
  ): Promise<T> {
    const found = () => this.seen.find(match);
    if (found() === undefined) {
      await within(
        new Promise<void>((wake) => this.#waiters.push({ match, wake })),
        ms,
        what,
      );
    }
    return found()!;
  }

  errors(): ErrorEvent[] {
    return this.seen.filter((e): e is ErrorEvent => e.type === "error");
  }
}

const isError = (e: SocketEvent): e is ErrorEvent => e.type === "error";
const isPeerError = (e: SocketEvent): e is ErrorEvent =>
  e.type === "error" && e.peer !== undefined;

/** The address our socket sees for a raw peer's connection. */
function remoteOf(peer: RawPeer): string {
  const { hostname, port } = peer.conn.localAddr as Deno.NetAddr;
  return `${hostname}:${port}`;
}

/** A Reply bound on loopback and serving with `handler`; its events. */
async function serving(
  handler: RequestHandler,
  onEvent?: (event: SocketEvent) => void,
) {
  const events = new Events();
  const bound = await boundReply({
    onEvent: (event) => {
      events.onEvent(event);
      onEvent?.(event);
    },
  }, handler);
  return { ...bound, events };
}

// What a handler may do wrong, for a request whose body is "bad".
const garbage: [string, unknown][] = [
  ["a number", 42],
  ["an object", { reply: "200.0" }],
  ["null", null],
  ["undefined", undefined],
  ["an empty array", []],
];
const failures: [string, () => MessageLike | Promise<MessageLike>][] = [
  ["throws", () => {
    throw new Error("handler broke");
  }],
  ...garbage.map(([name, value]): [string, () => MessageLike] => [
    `returns ${name}`,
    () => value as MessageLike,
  ]),
  ...garbage.map(([name, value]): [string, () => Promise<MessageLike>] => [
    `resolves to ${name}`,
    () => Promise.resolve(value as MessageLike),
  ]),
  ["throws a string", () => {
    throw "handler broke";
  }],
  ["rejects", () => Promise.reject(new Error("handler broke"))],
  ["rejects with a string", () => Promise.reject("handler broke")],
  ["is async and throws", async () => {
    await Promise.resolve();
    throw new Error("handler broke");
  }],
];

/** Echoes every request, except that "bad" gets `fail()`. */
function echoExcept(fail: () => MessageLike | Promise<MessageLike>) {
  return (request: Uint8Array[]) =>
    decode(request[0]) === "bad" ? fail() : request;
}

for (const [name, fail] of failures) {
  Deno.test(`serve(): a handler that ${name}: an error event names the REQ peer, and another peer is still served`, async () => {
    await using rep = await serving(echoExcept(fail));
    using culprit = await RawPeer.connect(rep.port);
    using bystander = await RawPeer.connect(rep.port);
    await culprit.handshake("REQ");
    await bystander.handshake("DEALER");
    await culprit.send("", "bad");
    const { error, peer } = await rep.events.waitFor(
      isPeerError,
      "error event",
    );
    assert.ok(error instanceof Error);
    if (name.startsWith("returns") || name.startsWith("resolves")) {
      assert.ok(error instanceof TypeError, String(error));
    } else {
      assert.equal(error.message, "handler broke");
    }
    assert.deepEqual<PeerInfo | undefined>(peer, {
      endpoint: rep.endpoint,
      remote: remoteOf(culprit),
      socketType: "REQ",
    });
    assert.equal(rep.events.errors().length, 1);
    await bystander.send("", "still served");
    assert.deepEqual(await bystander.receiveText(), ["", "still served"]);
  });
}

Deno.test("serve(): a REQ peer whose request failed is disconnected: its receive() rejects with EHOSTUNREACH at once, not at its timeout", async () => {
  await using rep = await serving(echoExcept(() => {
    throw new Error("handler broke");
  }));
  await using request = new Request({ receiveTimeout: 30_000 });
  request.connect(rep.endpoint);
  await request.send("bad");
  await assert.rejects(
    within(request.receive(), 10_000, "receive() after a failed request"),
    (e) => e instanceof SocketError && e.code === "EHOSTUNREACH",
  );
  const { peer } = await rep.events.waitFor(isPeerError, "error event");
  assert.equal(peer?.socketType, "REQ");
  // The same socket reconnects, and its next request is answered.
  await request.send("good");
  assert.deepEqual((await request.receive()).map(decode), ["good"]);
});

Deno.test("serve(): a DEALER peer whose request failed stays connected, and its next request is answered", async () => {
  await using rep = await serving(echoExcept(() => {
    throw new Error("handler broke");
  }));
  using dealer = await RawPeer.connect(rep.port);
  await dealer.handshake("DEALER");
  await dealer.send("", "bad");
  const { peer } = await rep.events.waitFor(isPeerError, "error event");
  assert.deepEqual(peer, {
    endpoint: rep.endpoint,
    remote: remoteOf(dealer),
    socketType: "DEALER",
  });
  await dealer.send("", "good");
  assert.deepEqual(await dealer.receiveText(), ["", "good"]);
  assert.equal(
    rep.events.seen.filter((e) => e.type === "disconnected").length,
    0,
  );
});

Deno.test("serve(): an async handler's failure for a DEALER keeps that peer's later replies in order", async () => {
  await using rep = await serving(async ([body]) => {
    await Promise.resolve();
    if (decode(body) === "bad") throw new Error("handler broke");
    return body;
  });
  using dealer = await RawPeer.connect(rep.port);
  await dealer.handshake("DEALER");
  for (const body of ["1", "bad", "2", "3"]) await dealer.send("", body);
  for (const body of ["1", "2", "3"]) {
    assert.deepEqual(await dealer.receiveText(), ["", body]);
  }
  assert.equal(rep.events.errors().length, 1);
});

Deno.test("an onEvent callback that throws on every event: the handler's failure still arrives as an error event naming the peer, and peers are served", async () => {
  const calls: SocketEvent[] = [];
  await using rep = await serving(
    echoExcept(() => {
      throw new Error("handler broke");
    }),
    (event) => {
      calls.push(event);
      throw new Error(`callback broke on ${event.type}`);
    },
  );
  using dealer = await RawPeer.connect(rep.port);
  await dealer.handshake("DEALER");
  await dealer.send("", "bad");
  const { peer, error } = await rep.events.waitFor(
    isPeerError,
    "error event",
  );
  assert.equal(error.message, "handler broke");
  assert.equal(peer?.remote, remoteOf(dealer));
  await dealer.send("", "good");
  assert.deepEqual(await dealer.receiveText(), ["", "good"]);
  // The callback's own failures come back to it as error events.
  assert.ok(
    calls.some((e) =>
      isError(e) && e.error.message === "callback broke on ready"
    ),
  );
  // A Request whose callback throws as well sends and receives.
  await using request = new Request({
    receiveTimeout: 10_000,
    onEvent: () => {
      throw new Error("callback broke");
    },
  });
  request.connect(rep.endpoint);
  await request.send("through");
  assert.deepEqual((await request.receive()).map(decode), ["through"]);
});

Deno.test("Reply.send() with a bad reply rejects with TypeError, and a good send() after it still answers that request", async () => {
  await using bound = await boundReply();
  const { reply } = bound;
  using peer = await RawPeer.connect(bound.port);
  await peer.handshake("REQ");
  await peer.send("", "question");
  assert.deepEqual((await reply.receive()).map(decode), ["question"]);
  for (const [, value] of garbage) {
    await assert.rejects(reply.send(value as MessageLike), TypeError);
  }
  await assert.rejects(reply.send([1] as unknown as MessageLike), TypeError);
  await reply.send("answer");
  assert.deepEqual(await peer.receiveText(), ["", "answer"]);
});

Deno.test("tests/peers/rep_garbage.ts: a process whose handler returns garbage for some requests stays up and answers the others", async () => {
  await using server = deno("tests/peers/rep_garbage.ts", []);
  const [, port] = await server.waitFor(/^port (\d+)$/m);
  using dealer = await RawPeer.connect(Number(port));
  await dealer.handshake("DEALER");
  const kinds = [
    "number",
    "object",
    "null",
    "empty",
    "throw",
    "async-number",
    "reject",
  ];
  for (const kind of kinds) {
    await dealer.send("", `garbage ${kind}`);
    await dealer.send("", `valid ${kind}`);
  }
  for (const kind of kinds) {
    assert.deepEqual(await dealer.receiveText(), ["", `valid ${kind}`]);
  }
  // A REQ peer is let go after garbage; a fresh connection is answered.
  await using request = new Request({ receiveTimeout: 10_000 });
  request.connect(`tcp://127.0.0.1:${port}`);
  await request.send("garbage null");
  await assert.rejects(
    request.receive(),
    (e) => e instanceof SocketError && e.code === "EHOSTUNREACH",
  );
  await request.send("valid after");
  assert.deepEqual((await request.receive()).map(decode), ["valid after"]);
  assert.ok(server.running, "the process is still up");
  await server.waitFor(
    new RegExp(`(^error .*\\n){${kinds.length + 1}}`, "m"),
    5000,
    "stderr",
  );
});
