import assert from "node:assert/strict";
import {
  CookieKeys,
  createCurveFactory,
  CurveAuthorizationError,
  CurveClient,
  type CurveMechanism,
  CurveServer,
  MAX_CURVE_METADATA,
} from "../lib/zmtp/curve_mechanism.ts";
import {
  type CurveKeyPair,
  encodeZ85Key,
  generateKeyPair,
} from "../lib/zmtp/curve_keys.ts";
import { box, boxKeyPair, boxOpen, Secret } from "../lib/zmtp/_sodium.ts";
import {
  COMMAND,
  FrameDecoder,
  LONG,
  MORE,
  parseCommand,
  type Part,
  utf8Length,
} from "../lib/zmtp/frame.ts";
import {
  HandshakeRefusedError,
  ourMetadata,
  parseErrorReason,
  type SocketType,
} from "../lib/zmtp/mechanism.ts";
import { ProtocolError } from "../lib/zmtp/errors.ts";
import { sleep } from "./_process.ts";

const serverKeys = await generateKeyPair(); // also loads libsodium
const clientKeys = await generateKeyPair();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

interface Frame {
  flags: number;
  body: Uint8Array;
}

// Decodes whole frames from bytes.
function frames(bytes: Uint8Array): Frame[] {
  const out: Frame[] = [];
  new FrameDecoder({ maxMessageFrame: 1 << 20, maxCommandFrame: 1 << 20 })
    .push(bytes, { frame: (flags, body) => void out.push({ flags, body }) });
  return out;
}

// A command frame's name and data.
function command(frame: Uint8Array | undefined) {
  assert.ok(frame !== undefined, "expected a command");
  const [only, ...more] = frames(frame);
  assert.equal(more.length, 0);
  assert.ok(only.flags & COMMAND);
  return parseCommand(only.body);
}

interface TestOptions {
  socketType?: SocketType;
  identity?: Uint8Array;
  keyPair?: CurveKeyPair;
  serverKey?: Uint8Array;
  authorize?: (publicKey: Uint8Array) => boolean;
  cookieKeys?: CookieKeys;
}

// Each long-term secret on the heap once, as a socket's factory keeps it.
const secrets = new Map<CurveKeyPair, Secret>();
const secretOf = (pair: CurveKeyPair) => {
  let secret = secrets.get(pair);
  if (secret === undefined) {
    secret = Secret.copyOf(pair.secretKey);
    secrets.set(pair, secret);
  }
  return secret;
};

function client(options: TestOptions = {}): CurveClient {
  const keyPair = options.keyPair ?? clientKeys;
  return new CurveClient({
    socketType: options.socketType ?? "REQ",
    identity: options.identity,
    publicKey: keyPair.publicKey,
    secret: secretOf(keyPair),
    serverKey: options.serverKey ?? serverKeys.publicKey,
  });
}

function server(options: TestOptions = {}): CurveServer {
  const keyPair = options.keyPair ?? serverKeys;
  return new CurveServer({
    socketType: options.socketType ?? "REP",
    identity: options.identity,
    publicKey: keyPair.publicKey,
    secret: secretOf(keyPair),
    authorize: options.authorize,
    cookieKeys: options.cookieKeys,
  });
}

// Passes one command from `from` to `to`, returning it.
function pass(from: CurveMechanism, to: CurveMechanism) {
  const { name, data } = command(from.nextCommand());
  const copy = data.slice();
  to.receive(name, data);
  return { name, data: copy };
}

// Runs the four-command handshake, returning what went over the wire.
function handshake(c: CurveMechanism, s: CurveMechanism) {
  const hello = pass(c, s);
  const welcome = pass(s, c);
  const initiate = pass(c, s);
  const ready = pass(s, c);
  return { hello, welcome, initiate, ready };
}

// Encodes parts as the connection would, checking frameSize().
function encode(
  from: CurveMechanism,
  parts: readonly Part[],
  flags: readonly number[] = parts.map((_, i) =>
    i < parts.length - 1 ? MORE : 0
  ),
): Uint8Array {
  const lengths = parts.map((part) =>
    typeof part === "string" ? utf8Length(part) : part.length
  );
  const size = lengths.reduce((sum, n) => sum + from.frameSize(n), 0);
  const target = new Uint8Array(size + 5).fill(0xee);
  let at = 3;
  for (let i = 0; i < parts.length; i++) {
    at = from.encodeFrame(flags[i], parts[i], lengths[i], target, at);
  }
  assert.equal(at, 3 + size, "frameSize() must be exact");
  assert.deepEqual(target.subarray(at), new Uint8Array([0xee, 0xee]));
  return target.subarray(3, at);
}

function decode(to: CurveMechanism, wire: readonly Frame[]): Frame[] {
  const out: Frame[] = [];
  for (const { flags, body } of wire) {
    to.decodeFrame(flags, body, {
      frame: (inner, part) =>
        void out.push({ flags: inner, body: part.slice() }),
    });
  }
  return out;
}

function connected(
  clientOptions: TestOptions = {},
  serverOptions: TestOptions = {},
) {
  const c = client(clientOptions);
  const s = server(serverOptions);
  handshake(c, s);
  assert.ok(c.ready && s.ready);
  return { c, s };
}

const nonce8 = (n: number) => {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(n));
  return bytes;
};
const withPrefix = (prefix: string, rest: Uint8Array) =>
  new Uint8Array([...new TextEncoder().encode(prefix), ...rest]);
const shortNonce = (body: Uint8Array) =>
  Number(new DataView(body.buffer, body.byteOffset).getBigUint64(8));

interface HandOptions {
  keys?: CurveKeyPair;
  socketType?: SocketType;
  vouchedShort?: Uint8Array;
  vouchedServer?: Uint8Array;
  initiateNonce?: number;
}

// Plays the client by hand up to INITIATE, so that the vouch and the
// metadata can be made wrong on purpose. Returns the INITIATE's data.
function handInitiate(s: CurveServer, options: HandOptions = {}) {
  const keys = options.keys ?? clientKeys;
  const short = boxKeyPair();
  const hello = new Uint8Array(194);
  hello[0] = 1;
  hello.set(short.publicKey, 74);
  hello.set(nonce8(1), 106);
  hello.set(
    box(
      new Uint8Array(64),
      withPrefix("CurveZMQHELLO---", nonce8(1)),
      serverKeys.publicKey,
      short.secret,
    ),
    114,
  );
  s.receive("HELLO", hello);
  const welcome = command(s.nextCommand()).data;
  const plain = boxOpen(
    welcome.subarray(16),
    withPrefix("WELCOME-", welcome.subarray(0, 16)),
    serverKeys.publicKey,
    short.secret,
  )!;
  const serverShort = plain.subarray(0, 32);
  const cookie = plain.subarray(32, 128);
  const vouchNonce = crypto.getRandomValues(new Uint8Array(16));
  const vouch = box(
    new Uint8Array([
      ...(options.vouchedShort ?? short.publicKey),
      ...(options.vouchedServer ?? serverKeys.publicKey),
    ]),
    withPrefix("VOUCH---", vouchNonce),
    serverShort,
    secretOf(keys),
  );
  const nonce = nonce8(options.initiateNonce ?? 2);
  const sealed = box(
    new Uint8Array([
      ...keys.publicKey,
      ...vouchNonce,
      ...vouch,
      ...ourMetadata(options.socketType ?? "REQ"),
    ]),
    withPrefix("CurveZMQINITIATE", nonce),
    serverShort,
    short.secret,
  );
  short.secret.dispose();
  return new Uint8Array([...cookie, ...nonce, ...sealed]);
}

Deno.test("CurveMechanism client and server complete the RFC 26 handshake", () => {
  const identity = new TextEncoder().encode("me");
  const c = client({ identity });
  const s = server();
  assert.equal(c.name, "CURVE");
  assert.equal(c.asServer, false);
  assert.equal(s.asServer, true);
  assert.equal(c.transparent, false);
  assert.equal(s.nextCommand(), undefined, "the client speaks first");
  const { hello, welcome, initiate, ready } = handshake(c, s);
  assert.deepEqual(
    [hello.name, welcome.name, initiate.name, ready.name],
    ["HELLO", "WELCOME", "INITIATE", "READY"],
  );
  // RFC 26's sizes: HELLO 200, WELCOME 168, INITIATE 257 + metadata,
  // READY 30 + metadata (each counts the name and its length octet).
  assert.equal(6 + hello.data.length, 200);
  assert.equal(8 + welcome.data.length, 168);
  assert.equal(
    9 + initiate.data.length,
    257 + ourMetadata("REQ", identity).length,
  );
  assert.equal(6 + ready.data.length, 30 + ourMetadata("REP").length);
  assert.ok(c.ready && s.ready);
  assert.equal(c.error, undefined);
  assert.equal(s.error, undefined);
  assert.equal(c.nextCommand(), undefined);
  assert.equal(s.nextCommand(), undefined);
  assert.equal(c.peerSocketType, "REP");
  assert.equal(s.peerSocketType, "REQ");
  assert.deepEqual(s.peerIdentity, identity);
  assert.deepEqual(s.peerKey, clientKeys.publicKey);
});

Deno.test("CurveMechanism HELLO has version 1.0, 72 zero octets, C', nonce 1 and a 80-octet box", () => {
  const { data } = command(client().nextCommand());
  assert.deepEqual([...data.subarray(0, 2)], [1, 0]);
  assert.ok(data.subarray(2, 74).every((octet) => octet === 0));
  assert.deepEqual(data.subarray(106, 114), nonce8(1));
  assert.equal(data.length - 114, 80);
});

Deno.test("CurveMechanism encodeFrame() and decodeFrame() carry frames both ways", () => {
  const { c, s } = connected();
  const parts: Part[] = [
    new Uint8Array(0),
    "100",
    "héllo ✓",
    new Uint8Array(300).fill(7),
    "",
  ];
  for (const [from, to] of [[c, s], [s, c]]) {
    const wire = frames(encode(from, parts));
    // As libzmq: plain message frames, MORE kept inside the box.
    assert.deepEqual(
      wire.map((frame) => frame.flags),
      [0, 0, 0, LONG, 0],
    );
    const got = decode(to, wire);
    assert.deepEqual(got.map((frame) => frame.flags), [
      MORE,
      MORE,
      MORE,
      MORE,
      0,
    ]);
    assert.deepEqual(got[0].body, new Uint8Array(0));
    assert.equal(text(got[1].body), "100");
    assert.equal(text(got[2].body), "héllo ✓");
    assert.deepEqual(got[3].body, new Uint8Array(300).fill(7));
    assert.equal(got[4].body.length, 0);
  }
});

Deno.test("CurveMechanism boxes a frame's COMMAND flag as 0x02 and reads it back", () => {
  const { c, s } = connected();
  const wire = frames(
    encode(c, [new Uint8Array([4, 0x50, 0x49, 0x4e, 0x47])], [COMMAND]),
  );
  assert.equal(wire[0].flags, 0);
  assert.deepEqual(decode(s, wire).map((frame) => frame.flags), [COMMAND]);
});

Deno.test("CurveMechanism decodeFrame() accepts a MESSAGE sent as a command frame", () => {
  const { c, s } = connected();
  const [frame] = frames(encode(c, ["x"]));
  const got = decode(s, [{ flags: COMMAND, body: frame.body }]);
  assert.deepEqual(got.map((f) => [f.flags, text(f.body)]), [[0, "x"]]);
});

Deno.test("CurveMechanism MESSAGE nonces count on from the handshake's, as libzmq's do", () => {
  const { c, s } = connected();
  // Client: HELLO 1, INITIATE 2; server: READY 1.
  assert.deepEqual(
    frames(encode(c, ["a", "b"])).map((f) => shortNonce(f.body)),
    [3, 4],
  );
  assert.deepEqual(
    frames(encode(s, ["a", "b"])).map((f) => shortNonce(f.body)),
    [2, 3],
  );
});

Deno.test("CurveMechanism refuses replayed and reordered MESSAGE nonces", () => {
  const { c, s } = connected();
  const wire = frames(encode(c, ["one", "two", "three"]));
  const copies = wire.map((frame) => ({ ...frame, body: frame.body.slice() }));
  decode(s, [wire[0]]);
  assert.throws(() => decode(s, [copies[0]]), {
    name: "ProtocolError",
    message: "MESSAGE nonce 3 does not follow 3: replayed or reordered",
  });
  decode(s, [wire[2]]);
  assert.throws(
    () => decode(s, [wire[1]]),
    /MESSAGE nonce 4 does not follow 5: replayed or reordered/,
  );
});

Deno.test("CurveMechanism refuses a MESSAGE whose box fails, and leaves its nonce unused", () => {
  const { c, s } = connected();
  const [frame] = frames(encode(c, ["secret"]));
  const forged = frame.body.slice();
  forged[forged.length - 1] ^= 1;
  assert.throws(() => decode(s, [{ flags: 0, body: forged }]), {
    name: "ProtocolError",
    message: "MESSAGE box does not open",
  });
  assert.equal(text(decode(s, [frame])[0].body), "secret");
  // A box from the other direction does not open either (other nonce prefix).
  const [own] = frames(encode(s, ["mine"]));
  assert.throws(() => decode(s, [own]), /does not follow|does not open/);
});

Deno.test("CurveMechanism refuses truncated MESSAGE frames and frames that are no MESSAGE", () => {
  const { c, s } = connected();
  const [frame] = frames(encode(c, [""]));
  assert.equal(frame.body.length, 33);
  assert.throws(
    () => decode(s, [{ flags: 0, body: frame.body.subarray(0, 32) }]),
    /MESSAGE of 32 octets is shorter than the 33 it needs/,
  );
  const renamed = frame.body.slice();
  renamed[1] = 0x58;
  assert.throws(() => decode(s, [{ flags: 0, body: renamed }]), /no MESSAGE/);
});

Deno.test("CurveMechanism frames cannot pass before the handshake is done", () => {
  const c = client();
  assert.throws(
    () => c.encodeFrame(0, "x", 1, new Uint8Array(64), 0),
    /before the CURVE handshake is done/,
  );
  assert.throws(
    () => c.decodeFrame(0, new Uint8Array(40), { frame: () => {} }),
    ProtocolError,
  );
});

Deno.test("CurveMechanism server refuses a HELLO with a bad box, short padding or a wrong size", () => {
  const hello = command(client().nextCommand()).data;
  const bad = (data: Uint8Array, message: RegExp) =>
    assert.throws(
      () => server().receive("HELLO", data),
      (error: Error) =>
        error instanceof ProtocolError && message.test(error.message),
    );
  const forged = hello.slice();
  forged[150] ^= 1;
  bad(forged, /HELLO signature does not open/);
  // 70 octets of padding, as RFC 26's prose says, instead of 72.
  bad(
    new Uint8Array([...hello.subarray(0, 72), ...hello.subarray(74)]),
    /HELLO has 198 octets, not 200/,
  );
  bad(new Uint8Array([...hello, 0]), /HELLO has 201 octets, not 200/);
  const padded = hello.slice();
  padded[40] = 1;
  bad(padded, /HELLO padding is not all zero/);
  const version = hello.slice();
  version[1] = 1;
  bad(version, /HELLO asks for CurveZMQ 1\.1/);
  const zero = hello.slice();
  zero.set(nonce8(0), 106);
  bad(zero, /HELLO nonce 0 does not follow 0/);
});

Deno.test("CurveMechanism server refuses a client that has another server key", () => {
  const other = boxKeyPair();
  const c = client({ serverKey: other.publicKey });
  assert.throws(
    () => pass(c, server()),
    /HELLO signature does not open: the client has another server key/,
  );
});

Deno.test("CurveMechanism client refuses a WELCOME from a server with another key", () => {
  const c = client();
  const hello = command(c.nextCommand()).data;
  // An impostor answers the HELLO with its own long-term key.
  const impostor = boxKeyPair();
  const welcomeNonce = crypto.getRandomValues(new Uint8Array(16));
  const sealed = box(
    new Uint8Array(128),
    withPrefix("WELCOME-", welcomeNonce),
    hello.subarray(74, 106),
    impostor.secret,
  );
  impostor.secret.dispose();
  assert.throws(
    () => c.receive("WELCOME", new Uint8Array([...welcomeNonce, ...sealed])),
    {
      name: "ProtocolError",
      message:
        "WELCOME does not open: the server key does not match the server's",
    },
  );
});

Deno.test("CurveMechanism client refuses a truncated, oversized or forged WELCOME", () => {
  for (
    const change of [
      (data: Uint8Array) => data.subarray(0, 159),
      (data: Uint8Array) => new Uint8Array([...data, 0]),
      (data: Uint8Array) => {
        const forged = data.slice();
        forged[100] ^= 1;
        return forged;
      },
    ]
  ) {
    const c = client();
    const s = server();
    pass(c, s);
    const welcome = command(s.nextCommand()).data;
    assert.throws(() => c.receive("WELCOME", change(welcome)), ProtocolError);
  }
});

Deno.test("CurveMechanism server refuses an INITIATE with a forged cookie", () => {
  const c = client();
  const s = server();
  pass(c, s);
  pass(s, c);
  const { data } = command(c.nextCommand());
  const forged = data.slice();
  forged[50] ^= 1; // inside the cookie's box
  assert.throws(() => s.receive("INITIATE", forged), {
    name: "ProtocolError",
    message: "INITIATE cookie has expired or is forged",
  });
});

Deno.test("CurveMechanism server refuses an INITIATE whose cookie nonce is not the one it sent", () => {
  const c = client();
  const s = server();
  pass(c, s);
  pass(s, c);
  const { data } = command(c.nextCommand());
  data[3] ^= 1;
  assert.throws(
    () => s.receive("INITIATE", data),
    /INITIATE cookie is not the one sent in WELCOME/,
  );
});

Deno.test("CurveMechanism cookies outlive one key rotation and expire after two", () => {
  let now = 0;
  const cookieKeys = new CookieKeys({ interval: 60_000, now: () => now });
  const attempt = (wait: number) => {
    const c = client();
    const s = server({ cookieKeys });
    pass(c, s);
    pass(s, c);
    now += wait;
    pass(c, s);
    return s;
  };
  assert.ok(attempt(60_000).nextCommand() !== undefined);
  assert.throws(() => attempt(120_000), {
    name: "ProtocolError",
    message: "INITIATE cookie has expired or is forged",
  });
});

Deno.test("CurveMechanism server refuses a replayed INITIATE", () => {
  const cookieKeys = new CookieKeys();
  const first = server({ cookieKeys });
  const recorded = handshake(client(), first);
  // On the same connection: a second INITIATE is out of turn.
  assert.throws(
    () => first.receive("INITIATE", recorded.initiate.data),
    /Unexpected INITIATE command during the CURVE handshake/,
  );
  // On a new connection, replaying the recorded HELLO and INITIATE: the
  // cookie still opens under the shared key, but it is not this WELCOME's.
  const second = server({ cookieKeys });
  second.receive("HELLO", recorded.hello.data.slice());
  command(second.nextCommand());
  assert.throws(
    () => second.receive("INITIATE", recorded.initiate.data.slice()),
    /INITIATE cookie is not the one sent in WELCOME/,
  );
});

Deno.test("CurveMechanism server refuses a truncated, oversized or forged INITIATE", () => {
  const start = () => {
    const c = client();
    const s = server();
    pass(c, s);
    pass(s, c);
    return { s, data: command(c.nextCommand()).data };
  };
  {
    const { s, data } = start();
    assert.throws(
      () => s.receive("INITIATE", data.subarray(0, 247)),
      /INITIATE has 256 octets, outside 257 to/,
    );
  }
  {
    const { s, data } = start();
    const huge = new Uint8Array(248 + MAX_CURVE_METADATA + 1);
    huge.set(data);
    assert.throws(
      () => s.receive("INITIATE", huge),
      /INITIATE has \d+ octets, outside/,
    );
  }
  {
    const { s, data } = start();
    data[data.length - 1] ^= 1;
    assert.throws(
      () => s.receive("INITIATE", data),
      /INITIATE box does not open/,
    );
  }
  {
    const { s, data } = start();
    data.set(nonce8(1), 96); // not above HELLO's 1
    assert.throws(
      () => s.receive("INITIATE", data),
      /INITIATE nonce 1 does not follow 1: replayed or reordered/,
    );
  }
});

Deno.test("CurveMechanism server checks the vouch: C' and its own long-term key", () => {
  const good = server();
  good.receive("INITIATE", handInitiate(good));
  assert.ok(command(good.nextCommand()).name === "READY" && good.ready);

  const wrongShort = server();
  const data = handInitiate(wrongShort, {
    vouchedShort: boxKeyPair().publicKey,
  });
  assert.throws(
    () => wrongShort.receive("INITIATE", data),
    /INITIATE vouch does not open or vouches for other keys/,
  );
  const wrongServer = server();
  const other = handInitiate(wrongServer, {
    vouchedServer: boxKeyPair().publicKey,
  });
  assert.throws(
    () => wrongServer.receive("INITIATE", other),
    /vouches for other keys/,
  );
});

Deno.test("CurveMechanism server answers an unauthorized client key with ERROR 400", () => {
  const seen: string[] = [];
  const c = client();
  const s = server({
    authorize: (key: Uint8Array) => {
      seen.push(encodeZ85Key(key));
      return false;
    },
  });
  pass(c, s);
  pass(s, c);
  pass(c, s);
  assert.deepEqual(seen, [encodeZ85Key(clientKeys.publicKey)]);
  assert.ok(s.error instanceof CurveAuthorizationError);
  assert.equal(s.error.publicKey, encodeZ85Key(clientKeys.publicKey));
  assert.equal(
    s.error.message,
    `Client key "${encodeZ85Key(clientKeys.publicKey)}" is not authorized`,
  );
  assert.ok(s.error instanceof ProtocolError);
  assert.equal(s.ready, false);
  const error = command(s.nextCommand());
  assert.equal(error.name, "ERROR");
  assert.equal(parseErrorReason(error.data), "400");
  assert.equal(s.nextCommand(), undefined, "ERROR is sent once");
  assert.throws(
    () => c.receive(error.name, error.data),
    (e: Error) => e instanceof HandshakeRefusedError && e.reason === "400",
  );
});

Deno.test("CurveMechanism server refuses a peer of the wrong socket type with ERROR", () => {
  const s = server();
  s.receive("INITIATE", handInitiate(s, { socketType: "REP" }));
  assert.ok(s.error instanceof ProtocolError);
  assert.match(s.error.message, /Invalid socket type REP for REP/);
  const error = command(s.nextCommand());
  assert.equal(parseErrorReason(error.data), "Invalid-socket-type");
  assert.equal(s.ready, false);
});

Deno.test("CurveMechanism client refuses a truncated, oversized or forged READY", () => {
  const start = () => {
    const c = client();
    const s = server();
    pass(c, s);
    pass(s, c);
    pass(c, s);
    return { c, data: command(s.nextCommand()).data };
  };
  {
    const { c, data } = start();
    assert.throws(
      () => c.receive("READY", data.subarray(0, 23)),
      /READY has 29 octets/,
    );
  }
  {
    const { c } = start();
    assert.throws(
      () => c.receive("READY", new Uint8Array(24 + MAX_CURVE_METADATA + 1)),
      /READY has \d+ octets, outside/,
    );
  }
  {
    const { c, data } = start();
    data[data.length - 1] ^= 1;
    assert.throws(() => c.receive("READY", data), /READY box does not open/);
  }
});

Deno.test("CurveMechanism refuses a command out of turn at each step", () => {
  assert.throws(() => server().receive("INITIATE", new Uint8Array(300)), {
    name: "ProtocolError",
    message: "Unexpected INITIATE command during the CURVE handshake",
  });
  assert.throws(
    () => server().receive("READY", new Uint8Array(30)),
    /Unexpected READY/,
  );
  const c = client();
  assert.throws(
    () => c.receive("WELCOME", new Uint8Array(160)),
    /Unexpected WELCOME/,
  );
  c.nextCommand();
  assert.throws(
    () => c.receive("READY", new Uint8Array(30)),
    /Unexpected READY/,
  );
  assert.throws(
    () => c.receive("MESSAGE", new Uint8Array(40)),
    /Unexpected MESSAGE/,
  );
  const s = server();
  pass(client(), s);
  assert.throws(
    () => s.receive("HELLO", new Uint8Array(194)),
    /Unexpected HELLO/,
  );
  const done = connected();
  assert.throws(
    () => done.c.receive("READY", new Uint8Array(30)),
    /Unexpected READY/,
  );
});

Deno.test("CurveMechanism takes ERROR at any step as a refusal", () => {
  const reason = new Uint8Array([3, 0x35, 0x30, 0x30]);
  const c = client();
  c.nextCommand();
  assert.throws(
    () => c.receive("ERROR", reason),
    (e: Error) => e instanceof HandshakeRefusedError && e.reason === "500",
  );
  const s = server();
  assert.throws(() => s.receive("ERROR", reason), HandshakeRefusedError);
  assert.throws(() => client().receive("ERROR", new Uint8Array([9, 1])), {
    name: "ProtocolError",
    message: "ERROR has a malformed reason",
  });
});

Deno.test("CookieKeys keeps the previous key for one interval, wipes dropped keys, and keeps none past two", () => {
  let now = 1000;
  const keys = new CookieKeys({ interval: 10, now: () => now });
  const first = keys.sealingKey();
  now += 9;
  assert.equal(keys.sealingKey(), first);
  now += 1;
  const second = keys.sealingKey();
  assert.notEqual(second, first);
  assert.deepEqual(keys.openingKeys(), [second, first]);
  now += 10;
  const third = keys.sealingKey();
  assert.deepEqual(keys.openingKeys(), [third, second]);
  assert.ok(first.disposed, "the dropped key is zeroed");
  now += 25;
  assert.deepEqual(keys.openingKeys(), [], "no key outlives two intervals");
  assert.ok(second.disposed);
  assert.ok(third.disposed);
  const fourth = keys.sealingKey();
  keys.dispose();
  assert.ok(fourth.disposed, "dispose() wipes them all");
  assert.throws(() => new CookieKeys({ interval: 0 }), RangeError);
});

Deno.test("createCurveFactory() checks the keys once and makes mechanisms per connection", async () => {
  const mechanismFor = await createCurveFactory({
    role: "server",
    keyPair: serverKeys,
  });
  const s = mechanismFor({ socketType: "REP", isServer: true });
  const c = (await createCurveFactory({
    role: "client",
    keyPair: clientKeys,
    serverKey: serverKeys.publicKey,
  }))({ socketType: "REQ", isServer: false, identity: new Uint8Array([1]) });
  handshake(c, s);
  assert.ok(c.ready && s.ready);
  assert.deepEqual(s.peerIdentity, new Uint8Array([1]));
  await assert.rejects(
    () =>
      createCurveFactory({
        role: "server",
        keyPair: {
          publicKey: clientKeys.publicKey,
          secretKey: serverKeys.secretKey,
        },
      }),
    {
      name: "RangeError",
      message:
        "Cannot use the CURVE key pair: its secret key does not belong to its public key",
    },
  );
  await assert.rejects(
    () => createCurveFactory({ role: "client", keyPair: clientKeys }),
    {
      name: "TypeError",
      message: "Cannot be a CURVE client without the server's key",
    },
  );
  assert.throws(
    () => client({ serverKey: new Uint8Array(31) }),
    {
      name: "RangeError",
      message: "Cannot use the server's key: a CURVE key has 32 octets, not 31",
    },
  );
});

Deno.test("CookieKeys wipes its keys on time with no handshake to prompt it, and never holds a program open", async () => {
  const keys = new CookieKeys({ interval: 20 });
  const key = keys.sealingKey();
  assert.ok(!key.disposed);
  // Two intervals and a margin: the keys' own timer must have wiped it.
  await sleep(100);
  assert.ok(key.disposed, "wiped without a new call");
  keys.dispose();
});

Deno.test("CurveMechanism.dispose() wipes the connection's keys: no frame can be sealed after it", () => {
  const [c, s] = [client(), server()];
  handshake(c, s);
  const target = new Uint8Array(256);
  c.encodeFrame(0, "before", 6, target, 0);
  c.dispose();
  s.dispose();
  assert.throws(() => c.encodeFrame(0, "after", 5, target, 0));
  assert.throws(() => s.encodeFrame(0, "after", 5, target, 0));
});
