/**
 * CURVE's forward secrecy (RFC 26), as docs/security.md promises it: the
 * boxes of a connection are sealed under a key agreed between short-term
 * key pairs made for that connection, so an attacker who recorded the
 * connection and later steals both long-term secret keys still cannot open
 * a request or a reply; and two connections between the same peers share no
 * short-term key.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CurveClient,
  type CurveMechanism,
  CurveServer,
} from "../lib/zmtp/curve_mechanism.ts";
import { type CurveKeyPair, generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import { boxOpen as heapBoxOpen, Secret } from "../lib/zmtp/_sodium.ts";

// crypto_box_open with a secret key the test holds: on the heap for the
// call, zeroed after.
function boxOpen(
  sealed: Uint8Array,
  nonce: Uint8Array,
  publicKey: Uint8Array,
  secretKey: Uint8Array,
): Uint8Array | undefined {
  const secret = Secret.copyOf(secretKey);
  try {
    return heapBoxOpen(sealed, nonce, publicKey, secret);
  } finally {
    secret.dispose();
  }
}
import { COMMAND, FrameDecoder, parseCommand } from "../lib/zmtp/frame.ts";

const serverKeys = await generateKeyPair(); // also loads libsodium
const clientKeys = await generateKeyPair();
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// The bodies of the whole frames in `bytes`.
function bodies(bytes: Uint8Array): { flags: number; body: Uint8Array }[] {
  const out: { flags: number; body: Uint8Array }[] = [];
  new FrameDecoder({ maxMessageFrame: 1 << 16, maxCommandFrame: 1 << 16 })
    .push(bytes, { frame: (flags, body) => void out.push({ flags, body }) });
  return out;
}

// Hands one command from `from` to `to`; returns its data as recorded.
function pass(from: CurveMechanism, to: CurveMechanism): Uint8Array {
  const [frame] = bodies(from.nextCommand()!);
  assert.ok(frame.flags & COMMAND);
  const { name, data } = parseCommand(frame.body);
  const recorded = data.slice();
  to.receive(name, data);
  return recorded;
}

// One connection, recorded: the four handshake commands, then one request
// and its reply as MESSAGE bodies.
function recordConnection(server: CurveKeyPair, client: CurveKeyPair) {
  const clientSecret = Secret.copyOf(client.secretKey);
  const serverSecret = Secret.copyOf(server.secretKey);
  const c = new CurveClient({
    socketType: "REQ",
    publicKey: client.publicKey,
    secret: clientSecret,
    serverKey: server.publicKey,
  });
  const s = new CurveServer({
    socketType: "REP",
    publicKey: server.publicKey,
    secret: serverSecret,
  });
  const hello = pass(c, s);
  const welcome = pass(s, c);
  pass(c, s); // INITIATE
  pass(s, c); // READY
  const seal = (from: CurveMechanism, part: string) => {
    const length = new TextEncoder().encode(part).length;
    const target = new Uint8Array(from.frameSize(length));
    from.encodeFrame(0, part, length, target, 0);
    return bodies(target)[0].body;
  };
  const request = seal(c, "31415926535");
  const reply = seal(s, "62831853070.0");
  // Both ends can read what was sent: the recording is of a working pair.
  const open = (to: CurveMechanism, body: Uint8Array) => {
    let got = "";
    to.decodeFrame(0, body.slice(), { frame: (_, b) => void (got = text(b)) });
    return got;
  };
  assert.equal(open(s, request), "31415926535");
  assert.equal(open(c, reply), "62831853070.0");
  c.dispose();
  s.dispose();
  clientSecret.dispose();
  serverSecret.dispose();
  return { hello, welcome, request, reply };
}

// A MESSAGE body: name (8), short nonce (8), then the box.
function tryOpenMessage(
  body: Uint8Array,
  prefix: string,
  publicKey: Uint8Array,
  secretKey: Uint8Array,
): Uint8Array | undefined {
  const nonce = new Uint8Array(24);
  nonce.set(new TextEncoder().encode(prefix), 0);
  nonce.set(body.subarray(8, 16), 16);
  return boxOpen(body.subarray(16), nonce, publicKey, secretKey);
}

// What the attacker learns with the server's long-term secret: C' from
// HELLO, and S' by opening WELCOME (boxed from S to C').
function shortTermKeys(
  recorded: ReturnType<typeof recordConnection>,
  serverSecret: Uint8Array,
) {
  const clientShort = recorded.hello.slice(74, 106);
  const nonce = new Uint8Array(24);
  nonce.set(new TextEncoder().encode("WELCOME-"), 0);
  nonce.set(recorded.welcome.subarray(0, 16), 8);
  const welcome = boxOpen(
    recorded.welcome.subarray(16),
    nonce,
    clientShort,
    serverSecret,
  );
  assert.ok(welcome !== undefined, "WELCOME opens with the server's secret");
  return { clientShort, serverShort: welcome.slice(0, 32) };
}

Deno.test("CURVE forward secrecy: a recorded request and reply do not open with both long-term secret keys", () => {
  const recorded = recordConnection(serverKeys, clientKeys);
  const { clientShort, serverShort } = shortTermKeys(
    recorded,
    serverKeys.secretKey,
  );
  const publics = {
    "the server's long-term key": serverKeys.publicKey,
    "the client's long-term key": clientKeys.publicKey,
    "the client's short-term key": clientShort,
    "the server's short-term key": serverShort,
  };
  const secrets = {
    "the server's long-term secret": serverKeys.secretKey,
    "the client's long-term secret": clientKeys.secretKey,
  };
  for (
    const [what, body, prefix] of [
      ["request", recorded.request, "CurveZMQMESSAGEC"],
      ["reply", recorded.reply, "CurveZMQMESSAGES"],
    ] as const
  ) {
    for (const [secretName, secret] of Object.entries(secrets)) {
      for (const [publicName, publicKey] of Object.entries(publics)) {
        assert.equal(
          tryOpenMessage(body, prefix, publicKey, secret),
          undefined,
          `the ${what} opened with ${secretName} and ${publicName}`,
        );
      }
    }
  }
});

Deno.test("CURVE forward secrecy: two connections between the same key pairs share no short-term key", () => {
  const first = shortTermKeys(
    recordConnection(serverKeys, clientKeys),
    serverKeys.secretKey,
  );
  const second = shortTermKeys(
    recordConnection(serverKeys, clientKeys),
    serverKeys.secretKey,
  );
  const keys = [
    first.clientShort,
    first.serverShort,
    second.clientShort,
    second.serverShort,
    clientKeys.publicKey,
    serverKeys.publicKey,
  ].map((key) => key.join(","));
  assert.equal(new Set(keys).size, keys.length, "every key differs");
});
