/**
 * Liveness, the state machine alone: every rule with a fake clock and a
 * fake I/O state, no sockets and no sleeps. The same rules with real
 * processes are in tests/liveness_test.ts.
 */
import assert from "node:assert/strict";
import {
  type CloseReason,
  type Heartbeat,
  Liveness,
  type LivenessAction,
  WRITE_STALL_PERIODS,
} from "../lib/zmtp/liveness.ts";
import { PeerTimeoutError, ProtocolError } from "../lib/zmtp/errors.ts";

/** What the connection's I/O is doing; the tests flip it. */
interface FakeIo {
  writing: boolean;
  readerWaitsOnWrite: boolean;
  readerPaused: boolean;
}

/** A Liveness opened at time 0, with a clock the test moves. */
class Rig {
  readonly io: FakeIo = {
    writing: false,
    readerWaitsOnWrite: false,
    readerPaused: false,
  };
  readonly liveness: Liveness;
  now = 0;

  constructor(
    heartbeat: Partial<Heartbeat> = {},
    handshakeTimeout = 0,
  ) {
    this.liveness = new Liveness(
      {
        handshakeTimeout,
        heartbeat: { interval: 1000, timeout: 1000, ttl: 2000, ...heartbeat },
      },
      0,
      this.io,
    );
  }

  /** A rig past its handshake, with a peer that answers PING or not. */
  static ready(heartbeat: Partial<Heartbeat> = {}, pingable = true): Rig {
    const rig = new Rig(heartbeat);
    rig.liveness.handshakeDone(pingable);
    return rig;
  }

  /** Ticks at `at` ms after the start. */
  tick(at: number): LivenessAction | undefined {
    this.now = at;
    return this.liveness.tick(at);
  }

  /**
   * Ticks every `step` ms from the last tick up to `until`; returns the
   * first action and when it came.
   */
  run(until: number, step = 10): { at: number; action: LivenessAction } | {
    at: undefined;
    action: undefined;
  } {
    for (let at = this.now + step; at <= until; at += step) {
      const action = this.tick(at);
      if (action !== undefined) return { at, action };
    }
    return { at: undefined, action: undefined };
  }
}

function closeReason(action: LivenessAction | undefined): CloseReason {
  assert.equal(action?.type, "close", `expected a close, got ${action?.type}`);
  return (action as Extract<LivenessAction, { type: "close" }>).reason;
}

function pingTtl(action: LivenessAction | undefined): number {
  assert.equal(action?.type, "ping", `expected a ping, got ${action?.type}`);
  const { data } = action as Extract<LivenessAction, { type: "ping" }>;
  assert.equal(data.length, 2);
  return data[0] << 8 | data[1];
}

// --- the handshake deadline -------------------------------------------------

Deno.test("Liveness.tick() closes a connection whose handshake is not done within handshakeTimeout, not before", () => {
  const rig = new Rig({}, 500);
  const { at, action } = rig.run(2000);
  assert.equal(at, 500);
  assert.equal(closeReason(action), "handshake-timeout");
  const { error } = action as Extract<LivenessAction, { type: "close" }>;
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.message, "Handshake took over 500 ms");
  assert.equal(rig.tick(3000), undefined, "nothing after the close");
});

Deno.test("Liveness.tick() runs the handshake clock from the connection: octets trickled in do not extend it", () => {
  const rig = new Rig({}, 500);
  for (let at = 10; at < 500; at += 10) {
    rig.liveness.read();
    assert.equal(rig.tick(at), undefined, `at ${at} ms`);
  }
  rig.liveness.read();
  assert.equal(closeReason(rig.tick(500)), "handshake-timeout");
});

Deno.test("Liveness.tick() leaves a done handshake alone, and a handshakeTimeout of 0 means no limit", () => {
  const done = new Rig({ interval: 0 }, 500);
  done.tick(400);
  done.liveness.handshakeDone(false);
  assert.deepEqual(done.run(60_000, 100), { at: undefined, action: undefined });
  const unlimited = new Rig({ interval: 0 }, 0);
  assert.deepEqual(unlimited.run(60_000, 100), {
    at: undefined,
    action: undefined,
  });
});

// --- heartbeats: PING after `interval` of silence, close `timeout` later ----

Deno.test("Liveness.tick() sends a PING after interval ms of silence, once, then closes timeout ms later", () => {
  const rig = Rig.ready({ interval: 1000, timeout: 300 });
  const ping = rig.run(5000);
  assert.equal(ping.at, 1000);
  assert.equal(ping.action?.type, "ping");
  const close = rig.run(5000);
  assert.equal(close.at, 1300, "no second PING: the close comes next");
  assert.equal(closeReason(close.action), "heartbeat-timeout");
  const { error } = close.action as Extract<LivenessAction, { type: "close" }>;
  assert.ok(error instanceof PeerTimeoutError);
  assert.equal(
    error.message,
    "No traffic from the peer within 300 ms of a heartbeat",
  );
});

Deno.test("Liveness.tick() takes any traffic after a PING as an answer: no close, and the next PING an interval later", () => {
  const rig = Rig.ready({ interval: 1000, timeout: 300 });
  assert.equal(rig.run(5000).at, 1000);
  rig.tick(1200);
  rig.liveness.read(); // a PONG, or anything else
  assert.equal(rig.tick(1250), undefined);
  const next = rig.run(5000);
  assert.equal(next.at, 2250);
  assert.equal(next.action?.type, "ping");
});

Deno.test("Liveness.tick() sends no PING while the peer keeps talking", () => {
  const rig = Rig.ready({ interval: 1000, timeout: 300 });
  for (let at = 100; at <= 10_000; at += 100) {
    rig.liveness.read();
    assert.equal(rig.tick(at), undefined, `at ${at} ms`);
  }
});

Deno.test("Liveness.tick() sends no PING with an interval of 0", () => {
  const rig = Rig.ready({ interval: 0, timeout: 300 });
  assert.deepEqual(rig.run(60_000, 100), { at: undefined, action: undefined });
});

Deno.test("Liveness.tick() takes a read loop we paused, with no write stuck, for a slow application, not a silent peer", () => {
  const rig = Rig.ready({ interval: 1000, timeout: 300 });
  rig.io.readerPaused = true;
  assert.deepEqual(rig.run(10_000), { at: undefined, action: undefined });
  assert.equal(rig.liveness.silentFor(rig.now), 0);
  rig.io.readerPaused = false;
  assert.equal(rig.run(20_000).at, 11_000, "silence counts from the resume");
});

// --- the TTL our PING carries -----------------------------------------------

Deno.test("Liveness: our PING carries heartbeat.ttl in tenths of a second, rounded up", () => {
  for (
    const [ttl, carried] of [
      [2000, 20],
      [250, 3],
      [201, 3],
      [100, 1],
      [
        1,
        1,
      ],
      [0, 0],
      [6_553_500, 0xffff],
    ]
  ) {
    const rig = Rig.ready({ interval: 1000, ttl });
    assert.equal(pingTtl(rig.tick(1000)), carried, `ttl ${ttl} ms`);
  }
});

Deno.test("Liveness: our PING's TTL stops at 0xffff tenths of a second (16 bits)", () => {
  const rig = Rig.ready({ interval: 1000, ttl: 10_000_000 });
  assert.equal(pingTtl(rig.tick(1000)), 0xffff);
});

// --- the peer's TTL -----------------------------------------------------------

Deno.test("Liveness.tick() closes when nothing follows the peer's PING within its TTL, even with our heartbeats off", () => {
  const rig = Rig.ready({ interval: 0 });
  rig.tick(100);
  rig.liveness.read();
  rig.liveness.pinged(Uint8Array.of(0, 5, 1, 2, 3), 130); // 500 ms
  const { at, action } = rig.run(5000);
  assert.equal(at, 630);
  assert.equal(closeReason(action), "peer-ttl-expired");
  const { error } = action as Extract<LivenessAction, { type: "close" }>;
  assert.ok(error instanceof PeerTimeoutError);
});

Deno.test("Liveness.tick() reads the peer's TTL as 16 bits of tenths of a second", () => {
  const rig = Rig.ready({ interval: 0 });
  rig.liveness.read();
  rig.liveness.pinged(Uint8Array.of(0x01, 0x02), 0); // 258: 25.8 s
  assert.equal(rig.run(100_000, 100).at, 25_800);
});

Deno.test("Liveness.tick() forgets the peer's TTL once more traffic comes", () => {
  const rig = Rig.ready({ interval: 0 });
  rig.liveness.read();
  rig.liveness.pinged(Uint8Array.of(0, 5), 0);
  rig.tick(200);
  rig.liveness.read();
  assert.deepEqual(rig.run(60_000, 100), { at: undefined, action: undefined });
});

Deno.test("Liveness.tick() ignores a TTL of 0 and a PING too short to carry one", () => {
  for (const data of [Uint8Array.of(0, 0, 9), Uint8Array.of(5)]) {
    const rig = Rig.ready({ interval: 0 });
    rig.liveness.read();
    rig.liveness.pinged(data, 0);
    assert.deepEqual(rig.run(60_000, 100), {
      at: undefined,
      action: undefined,
    });
  }
});

Deno.test("Liveness.tick() is not fooled by our PONG: a write, even one the read loop waits on, does not answer the peer's TTL", () => {
  const rig = Rig.ready({ interval: 0 });
  rig.liveness.read();
  rig.liveness.pinged(Uint8Array.of(0, 5), 0);
  // The read loop writes the PONG and waits for it, as connection.ts does.
  rig.io.writing = true;
  rig.io.readerWaitsOnWrite = true;
  rig.liveness.wrote();
  rig.io.writing = false;
  rig.io.readerWaitsOnWrite = false;
  const { at, action } = rig.run(5000);
  assert.equal(at, 500);
  assert.equal(closeReason(action), "peer-ttl-expired");
});

Deno.test("Liveness.tick() stops the peer's TTL clock while we do not read (paused by us, or waiting on a stuck write), and restarts it after", () => {
  for (const stuck of ["paused", "write"] as const) {
    const rig = Rig.ready({ interval: 0 });
    rig.liveness.read();
    rig.liveness.pinged(Uint8Array.of(0, 5), 0);
    if (stuck === "paused") rig.io.readerPaused = true;
    else rig.io.writing = rig.io.readerWaitsOnWrite = true;
    assert.deepEqual(rig.run(3000), { at: undefined, action: undefined });
    rig.io.readerPaused = rig.io.writing = rig.io.readerWaitsOnWrite = false;
    const { at, action } = rig.run(10_000);
    assert.equal(at, 3500, stuck);
    assert.equal(closeReason(action), "peer-ttl-expired");
  }
});

// --- the write-stall rule -----------------------------------------------------

Deno.test(`Liveness.tick() closes a peer whose stuck write makes no progress for ${WRITE_STALL_PERIODS} heartbeat periods, not before`, () => {
  const rig = Rig.ready({ interval: 100, timeout: 50 });
  rig.io.writing = true;
  rig.io.readerWaitsOnWrite = true;
  const { at, action } = rig.run(10_000);
  // Six periods of 150 ms; heartbeats wait meanwhile (the reader reads
  // nothing, so silence proves nothing).
  assert.equal(at, 900);
  assert.equal(closeReason(action), "write-stalled");
  const { error } = action as Extract<LivenessAction, { type: "close" }>;
  assert.ok(error instanceof PeerTimeoutError);
  assert.equal(
    error.message,
    "No write to the peer went through within 900 ms",
  );
});

Deno.test("Liveness.tick() applies the write-stall rule to a read loop paused for room, too", () => {
  const rig = Rig.ready({ interval: 100, timeout: 50 });
  rig.io.writing = true;
  rig.io.readerPaused = true;
  const { at, action } = rig.run(10_000);
  assert.equal(at, 900);
  assert.equal(closeReason(action), "write-stalled");
});

Deno.test("Liveness.tick() keeps a peer whose stuck writes keep moving, however long it sends nothing we read", () => {
  const rig = Rig.ready({ interval: 100, timeout: 50 });
  rig.io.writing = true;
  rig.io.readerWaitsOnWrite = true;
  for (let at = 50; at <= 20_000; at += 50) {
    rig.liveness.wrote();
    assert.equal(rig.tick(at), undefined, `at ${at} ms`);
  }
});

Deno.test("Liveness.wrote() proves nothing while the read loop reads: a write into our own buffer is no answer to a PING", () => {
  const rig = Rig.ready({ interval: 100, timeout: 50 });
  rig.io.writing = true;
  const { at, action } = rig.run(10_000, 10);
  assert.equal(at, 100);
  assert.equal(action?.type, "ping");
  rig.liveness.wrote();
  const close = rig.run(10_000, 10);
  assert.equal(close.at, 150);
  assert.equal(closeReason(close.action), "heartbeat-timeout");
});

Deno.test("Liveness.tick() has no write-stall rule with heartbeats off", () => {
  const rig = Rig.ready({ interval: 0, timeout: 50 });
  rig.io.writing = true;
  rig.io.readerWaitsOnWrite = true;
  assert.deepEqual(rig.run(60_000, 100), { at: undefined, action: undefined });
});

// --- peers that cannot be pinged ----------------------------------------------

Deno.test("Liveness: a peer that cannot be pinged (ZMTP 3.0, 2.0) gets no PING and no timeout of its own, however long it idles", () => {
  const rig = Rig.ready({ interval: 100, timeout: 100 }, false);
  assert.equal(rig.liveness.pingable, false);
  assert.equal(rig.liveness.heartbeats, false);
  assert.deepEqual(rig.run(3_600_000, 1000), {
    at: undefined,
    action: undefined,
  });
});

Deno.test("Liveness.silentFor() counts from the last traffic, and is 0 while traffic comes", () => {
  const rig = Rig.ready({ interval: 0 }, false);
  assert.equal(rig.liveness.silentFor(0), 0);
  rig.tick(1000);
  assert.equal(rig.liveness.silentFor(1000), 1000, "silent since it opened");
  rig.liveness.read();
  assert.equal(rig.liveness.silentFor(1500), 0, "a read since the last tick");
  rig.tick(2000);
  assert.equal(rig.liveness.silentFor(2000), 0);
  assert.equal(rig.liveness.silentFor(9000), 7000);
});

Deno.test("Liveness.silentFor() orders peers by their silence: the one silent longest is found", () => {
  const peers = [0, 1, 2].map(() => Rig.ready({ interval: 0 }, false));
  // Peer i last spoke at i seconds.
  for (let at = 0; at <= 5000; at += 1000) {
    for (const [i, rig] of peers.entries()) {
      if (at <= i * 1000) rig.liveness.read();
      rig.tick(at);
    }
  }
  const silences = peers.map((rig) => rig.liveness.silentFor(5000));
  assert.deepEqual(silences, [5000, 4000, 3000]);
});

Deno.test("Liveness: pingable and heartbeats say whether heartbeats watch the peer", () => {
  const rig = new Rig({ interval: 1000 });
  assert.equal(rig.liveness.pingable, false, "not before the handshake");
  rig.liveness.handshakeDone(true);
  assert.equal(rig.liveness.pingable, true);
  assert.equal(rig.liveness.heartbeats, true);
  const off = Rig.ready({ interval: 0 }, true);
  assert.equal(off.liveness.pingable, true);
  assert.equal(off.liveness.heartbeats, false);
});
