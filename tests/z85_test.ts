import assert from "node:assert/strict";
import {
  decodeZ85,
  decodeZ85Key,
  encodeZ85,
  encodeZ85Key,
} from "../lib/zmtp/z85.ts";

// RFC 32's test vector.
const HELLO_WORLD = new Uint8Array([
  0x86,
  0x4f,
  0xd2,
  0x6f,
  0xb5,
  0x59,
  0xf7,
  0x5b,
]);

Deno.test("encodeZ85() encodes RFC 32's test vector as HelloWorld", () => {
  assert.equal(encodeZ85(HELLO_WORLD), "HelloWorld");
  assert.equal(encodeZ85(new Uint8Array(0)), "");
});

Deno.test("decodeZ85() decodes HelloWorld to RFC 32's test vector", () => {
  assert.deepEqual(decodeZ85("HelloWorld"), HELLO_WORLD);
  assert.deepEqual(decodeZ85(""), new Uint8Array(0));
});

Deno.test("decodeZ85() reverses encodeZ85() for every octet value", () => {
  const data = new Uint8Array(256);
  for (let i = 0; i < 256; i++) data[i] = 255 - i;
  assert.deepEqual(decodeZ85(encodeZ85(data)), data);
  const extremes = new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255]);
  assert.equal(encodeZ85(extremes), "00000%nSc0");
  assert.deepEqual(decodeZ85("00000%nSc0"), extremes);
});

Deno.test("encodeZ85() refuses a length that is not a multiple of 4", () => {
  assert.throws(() => encodeZ85(new Uint8Array(5)), {
    name: "RangeError",
    message:
      "Cannot encode 5 octets as Z85: the length must be a multiple of 4",
  });
});

Deno.test("decodeZ85() refuses bad lengths, characters and overflowing groups", () => {
  assert.throws(() => decodeZ85("Hello!"), {
    name: "SyntaxError",
    message: 'Cannot decode Z85 "Hello!": its length 6 is not a multiple of 5',
  });
  assert.throws(() => decodeZ85("Hel~o"), {
    name: "SyntaxError",
    message:
      'Cannot decode Z85 "Hel~o": "~" at position 3 is not a Z85 character',
  });
  assert.throws(() => decodeZ85("Hel\u00e9o"), SyntaxError);
  // "%nSc1" is 2^32, one past the largest group.
  assert.throws(() => decodeZ85("%nSc1"), {
    name: "SyntaxError",
    message: 'Cannot decode Z85 "%nSc1": the group "%nSc1" exceeds 32 bits',
  });
  assert.throws(() => decodeZ85("#####"), /exceeds 32 bits/);
});

Deno.test("decodeZ85Key() reads libzmq's test keys as 32 octets and back", () => {
  // The key pairs in libzmq's tests/testutil_security.cpp and RFC 26.
  for (
    const key of [
      "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
      "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
      "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
      "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
    ]
  ) {
    const bytes = decodeZ85Key(key);
    assert.equal(bytes.length, 32);
    assert.equal(encodeZ85Key(bytes), key);
  }
});

Deno.test("decodeZ85Key() and encodeZ85Key() refuse wrong lengths", () => {
  assert.throws(() => decodeZ85Key("HelloWorld"), {
    name: "SyntaxError",
    message:
      'Cannot decode key "HelloWorld": a Z85 key has 40 characters, not 10',
  });
  assert.throws(() => encodeZ85Key(new Uint8Array(31)), {
    name: "RangeError",
    message: "Cannot encode a key of 31 octets: a CURVE key has 32",
  });
});
