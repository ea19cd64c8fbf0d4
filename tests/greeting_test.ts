import assert from "node:assert/strict";
import {
  checkSignature,
  encodeGreeting,
  GREETING_SIZE,
  parseGreeting,
} from "../lib/zmtp/greeting.ts";
import { ProtocolError } from "../lib/zmtp/errors.ts";
import { Handshake } from "../lib/zmtp/handshake.ts";
import { NullMechanism } from "../lib/zmtp/null_mechanism.ts";

Deno.test("encodeGreeting() writes RFC 37's 64 octets: signature, 3.1, NULL, filler", () => {
  const greeting = encodeGreeting();
  assert.equal(greeting.length, GREETING_SIZE);
  assert.equal(greeting[0], 0xff);
  // libzmq's padding: an empty identity's length plus one, in 8 octets.
  assert.deepEqual([...greeting.subarray(1, 9)], [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(greeting[9], 0x7f);
  assert.deepEqual([greeting[10], greeting[11]], [3, 1]);
  assert.equal(new TextDecoder().decode(greeting.subarray(12, 16)), "NULL");
  assert.ok(greeting.subarray(16).every((octet) => octet === 0));
});

Deno.test("parseGreeting() accepts ZMTP 3.0, 3.1 and later versions", () => {
  for (const [major, minor] of [[3, 0], [3, 1], [4, 0]]) {
    const greeting = encodeGreeting();
    greeting[10] = major;
    greeting[11] = minor;
    assert.deepEqual(parseGreeting(greeting), {
      major,
      minor,
      mechanism: "NULL",
      asServer: false,
    });
  }
  const curve = encodeGreeting("CURVE", true);
  assert.equal(parseGreeting(curve).mechanism, "CURVE");
  assert.equal(parseGreeting(curve).asServer, true);
});

Deno.test("checkSignature() refuses a wrong first octet at once, and ZMTP/1.0", () => {
  assert.throws(
    () => checkSignature(new TextEncoder().encode("G")),
    ProtocolError,
  );
  assert.throws(
    () => checkSignature(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7e])),
    /0x7F/,
  );
  // ZMTP/1.0 (revision 0) is refused as soon as the version arrives; ZMTP/2.0
  // (revision 1) passes, to be served in its own protocol.
  const head = encodeGreeting().subarray(0, 11);
  head[10] = 0;
  assert.throws(() => checkSignature(head), /ZMTP\/1\.0/);
  head[10] = 1;
  checkSignature(head);
  // A correct partial greeting passes.
  checkSignature(encodeGreeting().subarray(0, 5));
});

Deno.test("parseGreeting() refuses a malformed mechanism or a short greeting", () => {
  const greeting = encodeGreeting("NU L");
  assert.throws(() => parseGreeting(greeting), /mechanism/);
  const gap = encodeGreeting("NULL");
  gap[17] = 0x41; // a letter after the padding began
  assert.throws(() => parseGreeting(gap), /mechanism/);
  assert.throws(() => parseGreeting(new Uint8Array(63)), /63 octets/);
});

Deno.test("Handshake: a peer whose version is 1 or 2 is answered in ZMTP/2.0 (RFC 37), 3 and up in ZMTP 3", () => {
  for (const [revision, expected] of [[1, 2], [2, 2], [3, 3], [4, 3]]) {
    const sent: Uint8Array[] = [];
    const handshake = new Handshake(
      new NullMechanism({ socketType: "REP", isServer: true }),
      "REP",
      (bytes) => sent.push(bytes),
    );
    const head = encodeGreeting().subarray(0, 11);
    head[10] = revision;
    handshake.greeting(head, 0, head.length);
    assert.equal(handshake.version, expected, `revision ${revision}`);
    if (expected === 2) {
      // The socket-type octet (REP is 4) and an empty identity frame.
      assert.deepEqual([...sent[0]], [4]);
      assert.deepEqual([...sent[1]], [0, 0]);
    } else {
      assert.equal(sent[0].length, GREETING_SIZE - 11, "the greeting's rest");
    }
  }
});
