import assert from "node:assert/strict";
import {
  checkGreetingPrefix,
  encodeGreeting,
  GREETING_SIZE,
  parseGreeting,
} from "../lib/zmtp/greeting.ts";
import { ProtocolError } from "../lib/zmtp/errors.ts";

Deno.test("encodeGreeting() writes RFC 37's 64 octets: signature, 3.1, NULL, filler", () => {
  const greeting = encodeGreeting();
  assert.equal(greeting.length, GREETING_SIZE);
  assert.equal(greeting[0], 0xff);
  assert.deepEqual([...greeting.subarray(1, 9)], [0, 0, 0, 0, 0, 0, 0, 0]);
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

Deno.test("checkGreetingPrefix() refuses a wrong first octet at once", () => {
  assert.throws(
    () => checkGreetingPrefix(new TextEncoder().encode("G")),
    ProtocolError,
  );
  assert.throws(
    () =>
      checkGreetingPrefix(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7e])),
    /0x7F/,
  );
  // ZMTP 2.0 (major 1) and earlier are refused as soon as the version arrives.
  const old = encodeGreeting().subarray(0, 11);
  old[10] = 1;
  assert.throws(() => checkGreetingPrefix(old), /version 3/);
  // A correct partial greeting passes.
  checkGreetingPrefix(encodeGreeting().subarray(0, 5));
});

Deno.test("parseGreeting() refuses a malformed mechanism or a short greeting", () => {
  const greeting = encodeGreeting("NU L");
  assert.throws(() => parseGreeting(greeting), /mechanism/);
  const gap = encodeGreeting("NULL");
  gap[17] = 0x41; // a letter after the padding began
  assert.throws(() => parseGreeting(gap), /mechanism/);
  assert.throws(() => parseGreeting(new Uint8Array(63)), /63 octets/);
});
