/**
 * Bounds that hold whatever peers do (issue 15): idle peers that cannot be
 * pinged (ZMTP 3.0 and 2.0 peers that greet, send READY and go silent)
 * never lock out a peer that can be pinged, whether the server is at
 * `--max-connections` or out of file descriptors; a full server whose
 * peers are all busy refuses with ERROR "Server-full", which the client
 * side reads as a `ServerFullError`; and `send()` owns what it is given.
 */
import assert from "node:assert/strict";
import { encodeCommand } from "../lib/zmtp/frame.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import {
  PeerEvictedError,
  Reply,
  Request,
  SERVER_FULL,
  ServerFullError,
  type SocketEvent,
} from "../lib/zmtp/mod.ts";
import { concat } from "./_hostile.ts";
import { greetingV2 } from "./_hostile_zmtp2.ts";
import {
  denoArgs,
  listening,
  Proc,
  type RunningServer,
  startServer,
  within,
} from "./_process.ts";
import { RawPeer, readyCommand } from "./_raw_peer.ts";

const text = new TextEncoder();

// server.ts under `ulimit -n 100`, on a free port.
function serverWithFewDescriptors(options: readonly string[]): Proc {
  return new Proc("sh", [
    "-c",
    `ulimit -n 100; exec "$0" "$@"`,
    Deno.execPath(),
    ...denoArgs("server.ts", ["2", "0", ...options]),
  ]);
}

// A ZMTP 3.0 REQ that greets, sends READY, and says nothing more: it
// cannot be pinged. Or a ZMTP 2.0 one: greeting and identity, then silence.
function silentHello(version: "3.0" | "2.0"): Uint8Array {
  if (version === "2.0") return greetingV2();
  const greeting = encodeGreeting();
  greeting[11] = 0;
  return concat(greeting, readyCommand("REQ"));
}

async function silentPeers(
  port: number,
  count: number,
  version: (i: number) => "3.0" | "2.0",
): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(conn);
    // Not awaited: a peer whose connection waits in the backlog still
    // greets once accepted; a refused one fails quietly.
    conn.write(silentHello(version(i))).catch(() => {});
  }
  return conns;
}

function closeAll(conns: Deno.Conn[]): void {
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // Closed by the server already.
    }
  }
}

// A ZMTP 3.1 REQ asks for 21 times 2; its connection waits its turn.
async function pingableClientServed(port: number, ms: number): Promise<void> {
  await within(
    (async () => {
      using peer = await RawPeer.connect(port);
      await peer.handshake("REQ");
      await peer.send("", "21");
      assert.deepEqual(await peer.receiveText(), ["", "42.0"]);
    })(),
    ms,
    "a ZMTP 3.1 client's reply",
  );
}

Deno.test("server.ts under ulimit -n 100 serves a 3.1 client past 150 silent ZMTP 3.0 peers, and names ulimit -n once", async () => {
  const server = serverWithFewDescriptors(["--heartbeat", "1000", "--quiet"]);
  await using running: RunningServer = await listening(server);
  const silent = await silentPeers(running.port, 150, () => "3.0");
  try {
    await pingableClientServed(running.port, 10_000);
    await pingableClientServed(running.port, 10_000);
  } finally {
    closeAll(silent);
  }
  const said = server.stderr.match(
    /out of file descriptors \(raise ulimit -n\)/g,
  );
  assert.equal(said?.length, 1, server.stderr);
});

// The text of an ERROR command's reason.
function reasonOf(data: Uint8Array): string {
  return new TextDecoder().decode(data.subarray(1, 1 + data[0]));
}

Deno.test("server.ts under ulimit -n 100 with every peer busy refuses a newcomer with ERROR Server-full, says so once, and takes one as a peer leaves", async () => {
  const server = serverWithFewDescriptors(["--quiet"]);
  await using running: RunningServer = await listening(server);
  // Peers one by one, each busy (mid-request) before the next comes, until
  // one is refused: descriptors ran out, and no busy peer that can be
  // pinged is closed for another.
  const busy: RawPeer[] = [];
  const ping = Uint8Array.of(0, 0);
  try {
    while (true) {
      assert.ok(busy.length < 100, "descriptors never ran out");
      const peer = await RawPeer.connect(running.port);
      await peer.write(concat(encodeGreeting(), readyCommand("REQ")));
      const answer = await peer.next();
      assert.equal(answer.kind, "command");
      if (answer.kind === "command" && answer.name === "ERROR") {
        assert.equal(reasonOf(answer.data), SERVER_FULL);
        assert.ok(await peer.closedByPeer(), "closed after ERROR");
        peer.close();
        break;
      }
      // The delimiter, then a PING: its PONG shows the server read both.
      await peer.write(
        concat(Uint8Array.of(0x01, 0x00), encodeCommand("PING", ping)),
      );
      const pong = await peer.next();
      assert.ok(pong.kind === "command" && pong.name === "PONG");
      busy.push(peer);
    }
    assert.ok(busy.length > 50, `${busy.length} peers got in`);
    await server.waitFor(
      /refusing connections: out of file descriptors with every peer busy \(raise ulimit -n\)/,
      5000,
      "stderr",
    );
    // The busy peers were kept; one finishes and leaves, and a newcomer
    // gets in.
    for (const [i, peer] of busy.slice(0, 2).entries()) {
      await peer.send(String(i + 4));
      assert.deepEqual(await peer.receiveText(), ["", `${2 * (i + 4)}.0`]);
    }
    busy.shift()!.close();
    await pingableClientServed(running.port, 10_000);
  } finally {
    for (const peer of busy) peer.close();
  }
  assert.equal(
    server.stderr.match(/refusing connections/g)?.length,
    1,
    server.stderr,
  );
});

Deno.test("server.ts --max-connections 20 serves a 3.1 client past 30 silent ZMTP 3.0 and 2.0 peers, and says so once", async () => {
  await using running = await startServer([
    "2",
    "0",
    "--heartbeat",
    "1000",
    "--quiet",
    "--max-connections",
    "20",
  ]);
  const silent = await silentPeers(
    running.port,
    30,
    (i) => i % 2 ? "2.0" : "3.0",
  );
  try {
    await pingableClientServed(running.port, 10_000);
    await pingableClientServed(running.port, 10_000);
  } finally {
    closeAll(silent);
  }
  const { stderr } = running.server;
  assert.equal(
    stderr.match(/at --max-connections: closing the peer silent longest/g)
      ?.length,
    1,
    stderr,
  );
});

// Sends a request's delimiter and holds its body back: mid-request.
async function busyPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  await peer.handshake("REQ");
  await peer.write(Uint8Array.of(0x01, 0x00)); // "" with MORE
  return peer;
}

Deno.test("server.ts --max-connections 2 whose peers are busy and pingable refuses with ERROR Server-full, says so once, and serves on", async () => {
  await using running = await startServer([
    "2",
    "0",
    "--quiet",
    "--max-connections",
    "2",
  ]);
  using a = await busyPeer(running.port);
  using b = await busyPeer(running.port);
  for (let i = 0; i < 3; i++) {
    using extra = await RawPeer.connect(running.port);
    await extra.write(concat(encodeGreeting(), readyCommand("REQ")));
    const answer = await extra.next();
    assert.ok(
      answer.kind === "command" && answer.name === "ERROR",
      JSON.stringify(answer),
    );
    assert.equal(
      new TextDecoder().decode(answer.data.subarray(1, 1 + answer.data[0])),
      SERVER_FULL,
    );
    assert.ok(await extra.closedByPeer(), "closed after ERROR");
  }
  const { stderr } = running.server;
  assert.equal(stderr.match(/refusing connections/g)?.length, 1, stderr);
  // The busy peers finish their requests and are answered.
  await a.send("4");
  assert.deepEqual(await a.receiveText(), ["", "8.0"]);
  await b.send("5");
  assert.deepEqual(await b.receiveText(), ["", "10.0"]);
});

Deno.test("Request reads a full server's ERROR Server-full as ServerFullError and tries again, and the Reply evicts an idle peer rather than refuse", async () => {
  const events: SocketEvent[] = [];
  await using reply = new Reply({
    maxConnections: 1,
    onEvent: (event) => events.push(event),
  });
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  const port = Number(endpoint.split(":").at(-1));
  reply.serve(([request]) => request);
  // Busy: refused.
  {
    using busy = await busyPeer(port);
    const refused = Promise.withResolvers<Error | undefined>();
    const retried = Promise.withResolvers<void>();
    let stopped = false;
    await using request = new Request({
      reconnectInterval: 50,
      onEvent: (event) => {
        if (event.type === "disconnected") refused.resolve(event.error);
        if (event.type === "retrying") retried.resolve();
        if (event.type === "stopped") stopped = true;
      },
    });
    request.connect(endpoint);
    const error = await within(refused.promise, 5000, "the refusal");
    assert.ok(error instanceof ServerFullError, String(error));
    assert.equal(error.reason, SERVER_FULL);
    // Room may come later: unlike other ERRORs (RFC 37), it is tried again.
    await within(retried.promise, 5000, "a retry after Server-full");
    assert.equal(stopped, false, "the dialer stopped on Server-full");
    busy.close();
  }
  // Idle: closed to make room, with the reason in its event.
  using idle = await RawPeer.connect(port);
  await idle.handshake("REQ");
  await using request = new Request({ receiveTimeout: 5000 });
  request.connect(endpoint);
  await request.send("hello");
  assert.equal(new TextDecoder().decode((await request.receive())[0]), "hello");
  assert.ok(await idle.closedByPeer(), "the idle peer was closed");
  const evicted = events.find((event) =>
    event.type === "disconnected" && event.error instanceof PeerEvictedError
  );
  assert.ok(evicted, JSON.stringify(events.map((event) => event.type)));
});

Deno.test("send() copies the bytes it is given: changing them after send() changes nothing on the wire", async () => {
  await using reply = new Reply();
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  await using request = new Request({ receiveTimeout: 5000 });
  request.connect(endpoint);
  const body = text.encode("request");
  const parts = [text.encode("one"), text.encode("two")];
  // Changed in the same task as send(), before anything is written.
  let sent = request.send(body);
  body.fill(0x78);
  await sent;
  assert.equal(new TextDecoder().decode((await reply.receive())[0]), "request");
  sent = reply.send(parts);
  parts[0].fill(0x78);
  parts[1].fill(0x78);
  await sent;
  const answer = await request.receive();
  assert.deepEqual(answer.map((p) => new TextDecoder().decode(p)), [
    "one",
    "two",
  ]);
  // Twice more, single parts both ways.
  const again = text.encode("again");
  sent = request.send([again]);
  again.fill(0x78);
  await sent;
  assert.equal(new TextDecoder().decode((await reply.receive())[0]), "again");
  const single = text.encode("single");
  sent = reply.send(single);
  single.fill(0x78);
  await sent;
  assert.equal(
    new TextDecoder().decode((await request.receive())[0]),
    "single",
  );
});
