/**
 * Secrets only in memory we zero: after CURVE handshakes, accepted and
 * refused, and once both sides are closed, no secret's octets remain on
 * libsodium's WebAssembly heap (`HEAPU8`), where every key we hold lives.
 *
 * The secrets are learnt by watching `crypto.getRandomValues`: every
 * 32-octet draw is a secret key (long-term, short-term, cookie key); the
 * precomputed keys are derived from each pair of them. Before each close,
 * the scan must find the keys still in use: it can fail.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  CookieKeys,
  CurveClient,
  type CurveMechanism,
  CurveServer,
} from "../lib/zmtp/curve_mechanism.ts";
import { encodeZ85Key } from "../lib/zmtp/curve_keys.ts";
import {
  boxKeyPair,
  loadSodium,
  precompute,
  publicKeyOfBytes,
  Secret,
  sodiumHeap,
} from "../lib/zmtp/_sodium.ts";
import { COMMAND, FrameDecoder, parseCommand } from "../lib/zmtp/frame.ts";
import { Reply, Request } from "../lib/zmtp/mod.ts";

await loadSodium();

// Every 32-octet random draw, as drawn: the secrets to look for.
const drawn: Uint8Array[] = [];
const getRandomValues = crypto.getRandomValues.bind(crypto);
crypto.getRandomValues = <T extends ArrayBufferView>(array: T): T => {
  getRandomValues(array);
  if (array.byteLength === 32) {
    drawn.push(
      new Uint8Array(array.buffer, array.byteOffset, 32).slice(),
    );
  }
  return array;
};

// The secrets drawn since `from`, and the key each pair of them would
// precompute (computed on the heap, read off it, and zeroed there).
function secretsSince(from: number): Uint8Array[] {
  const keys = drawn.slice(from);
  const secrets = [...keys];
  for (const a of keys) {
    const publicKey = publicKeyOfBytes(a);
    for (const b of keys) {
      if (a === b) continue;
      const bSecret = Secret.copyOf(b);
      const shared = precompute(publicKey, bSecret);
      bSecret.dispose();
      if (shared === undefined) continue;
      secrets.push(sodiumHeap().slice(shared.at, shared.at + 32));
      shared.dispose();
    }
  }
  return secrets;
}

// How many of `secrets` appear anywhere on the heap.
function foundOnHeap(secrets: readonly Uint8Array[]): number {
  const heap = sodiumHeap();
  const view = new DataView(heap.buffer, heap.byteOffset, heap.byteLength);
  const byHead = new Map<number, Uint8Array[]>();
  for (const secret of secrets) {
    const head = new DataView(secret.buffer).getUint32(0);
    byHead.set(head, [...(byHead.get(head) ?? []), secret]);
  }
  const found = new Set<Uint8Array>();
  for (let at = 0; at + 32 <= heap.length; at++) {
    const candidates = byHead.get(view.getUint32(at));
    if (candidates === undefined) continue;
    for (const secret of candidates) {
      let i = 4;
      while (i < 32 && heap[at + i] === secret[i]) i++;
      if (i === 32) found.add(secret);
    }
  }
  return found.size;
}

// One command from `from` to `to`; `change` may spoil it on the way.
function pass(
  from: CurveMechanism,
  to: CurveMechanism,
  change: (data: Uint8Array) => void = () => {},
): void {
  const frame = from.nextCommand();
  assert.ok(frame !== undefined, "expected a command");
  let body: Uint8Array | undefined;
  new FrameDecoder({ maxMessageFrame: 1 << 16, maxCommandFrame: 1 << 16 })
    .push(frame, {
      frame: (flags, part) => {
        assert.ok(flags & COMMAND);
        body = part.slice();
      },
    });
  const { name, data } = parseCommand(body!);
  change(data);
  to.receive(name, data);
}

interface Refusal {
  /** Which command the refusal follows. */
  name: string;
  /** Runs the handshake between the two, up to the refusal. */
  run(c: CurveClient, s: CurveServer): void;
  /** Client options that differ. */
  client?: "other server key" | "claims another public key";
  authorize?: (publicKey: Uint8Array) => boolean;
}

const refusals: Refusal[] = [
  {
    name: "a bad HELLO",
    run: (c, s) =>
      assert.throws(
        () => pass(c, s, (data) => void (data[150] ^= 1)),
        /HELLO signature does not open/,
      ),
  },
  {
    name: "a client with the wrong server key",
    client: "other server key",
    run: (c, s) => assert.throws(() => pass(c, s), /HELLO signature/),
  },
  {
    name: "a forged cookie",
    run: (c, s) => {
      pass(c, s);
      pass(s, c);
      assert.throws(
        () => pass(c, s, (data) => void (data[50] ^= 1)),
        /INITIATE cookie has expired or is forged/,
      );
    },
  },
  {
    name: "a bad vouch",
    client: "claims another public key",
    run: (c, s) => {
      pass(c, s);
      pass(s, c);
      assert.throws(() => pass(c, s), /INITIATE vouch does not open/);
    },
  },
  {
    name: "a forged INITIATE box",
    run: (c, s) => {
      pass(c, s);
      pass(s, c);
      assert.throws(
        () => pass(c, s, (data) => void (data[data.length - 1] ^= 1)),
        /INITIATE box does not open/,
      );
    },
  },
  {
    name: "a client key that is not allowed",
    authorize: () => false,
    run: (c, s) => {
      pass(c, s);
      pass(s, c);
      pass(c, s);
      assert.equal(s.error?.name, "CurveAuthorizationError");
    },
  },
  {
    name: "a WELCOME from a server with another key",
    run: (c, s) => {
      pass(c, s);
      assert.throws(
        () => pass(s, c, (data) => void (data[100] ^= 1)),
        /WELCOME does not open/,
      );
    },
  },
];

for (const refusal of refusals) {
  Deno.test(`CURVE leaves no secret on the heap after refusing ${refusal.name}`, () => {
    const from = drawn.length;
    const serverPair = boxKeyPair();
    const clientPair = boxKeyPair();
    const other = boxKeyPair();
    const cookieKeys = new CookieKeys();
    const c = new CurveClient({
      socketType: "REQ",
      publicKey: refusal.client === "claims another public key"
        ? other.publicKey
        : clientPair.publicKey,
      secret: clientPair.secret,
      serverKey: refusal.client === "other server key"
        ? other.publicKey
        : serverPair.publicKey,
    });
    const s = new CurveServer({
      socketType: "REP",
      publicKey: serverPair.publicKey,
      secret: serverPair.secret,
      authorize: refusal.authorize,
      cookieKeys,
    });
    refusal.run(c, s);
    const secrets = secretsSince(from);
    assert.ok(
      foundOnHeap(secrets) >= 3,
      "the long-term secrets in use are found: the scan works",
    );
    c.dispose();
    s.dispose();
    cookieKeys.dispose();
    for (const pair of [serverPair, clientPair, other]) pair.secret.dispose();
    assert.equal(foundOnHeap(secrets), 0, "no secret is left on the heap");
  });
}

Deno.test("CURVE leaves no secret on the heap after a handshake, traffic and close of both sockets", async () => {
  const from = drawn.length;
  // Long-term keys drawn through the same getRandomValues, as text: the
  // sockets decode them into memory they wipe.
  const serverSecret = crypto.getRandomValues(new Uint8Array(32));
  const clientSecret = crypto.getRandomValues(new Uint8Array(32));
  const serverPublic = publicKeyOfBytes(serverSecret);
  const reply = new Reply({
    curveServer: true,
    curvePublicKey: encodeZ85Key(serverPublic),
    curveSecretKey: encodeZ85Key(serverSecret),
  });
  const request = new Request({
    curveServerKey: serverPublic,
    curvePublicKey: publicKeyOfBytes(clientSecret),
    curveSecretKey: clientSecret,
    receiveTimeout: 10_000,
  });
  const endpoint = await reply.bind("tcp://127.0.0.1:0");
  const served = reply.serve(([line]) => line);
  request.connect(endpoint);
  await request.send("100");
  const [answer] = await request.receive();
  assert.equal(new TextDecoder().decode(answer), "100");
  // The test's own copies of the long-term secrets are in JS memory, not on
  // the heap: the sockets' copies are.
  const secrets = secretsSince(from);
  serverSecret.fill(0);
  clientSecret.fill(0);
  // In use: both long-term secrets, the cookie key, the precomputed key.
  assert.ok(foundOnHeap(secrets) >= 4, "the keys in use are found");
  await request.close();
  await reply.close();
  await served;
  assert.equal(foundOnHeap(secrets), 0, "no secret is left on the heap");
});
