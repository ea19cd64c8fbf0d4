import assert from "node:assert/strict";
import cases from "./fixtures/python_float_cases.json" with { type: "json" };
import {
  answer,
  endpointFor,
  formatPythonFloat,
  logLine,
  NOT_A_FLOAT,
  parseMultiplier,
  parsePythonFloat,
  replyFor,
} from "../lib/protocol.ts";

// Every expected value below was produced by Python itself
// (tests/fixtures/make_python_float_cases.py).

function doubleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

Deno.test("fixture covers hundreds of cases from Python", () => {
  assert.ok(cases.parse.length >= 300, `${cases.parse.length} parse cases`);
  assert.ok(cases.format.length >= 500, `${cases.format.length} format cases`);
});

Deno.test("parsePythonFloat() accepts and refuses what Python's float() does", () => {
  const wrong: string[] = [];
  for (const { input, float } of cases.parse) {
    const parsed = parsePythonFloat(input);
    const got = parsed === undefined ? null : formatPythonFloat(parsed);
    if (got !== float) {
      wrong.push(`${JSON.stringify(input)}: ${got} != ${float}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("formatPythonFloat() writes what Python's str(float) does", () => {
  const wrong: string[] = [];
  for (const { bits, repr } of cases.format) {
    const got = formatPythonFloat(doubleFromHex(bits));
    if (got !== repr) wrong.push(`${bits}: ${got} != ${repr}`);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("replyFor() answers as multiply_server.py for every multiplier", () => {
  const wrong: string[] = [];
  for (const { input, replies } of cases.parse) {
    for (const [multiplier, expected] of Object.entries(replies)) {
      const got = replyFor(input, Number(multiplier));
      if (got !== expected) {
        wrong.push(
          `${JSON.stringify(input)} x ${multiplier}: ${got} != ${expected}`,
        );
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("replyFor() gives the tutorial's own answers", () => {
  assert.equal(replyFor("100", 2), "200.0");
  assert.equal(replyFor("1000", 2), "2000.0");
  assert.equal(replyFor("100", 5), "500.0");
  assert.equal(replyFor("1000", 5), "5000.0");
  assert.equal(replyFor("abc", 5), NOT_A_FLOAT);
});

Deno.test("formatPythonFloat() edges: 1e+16, 2e-05, inf, -0.0, nan", () => {
  assert.equal(formatPythonFloat(1e16), "1e+16");
  assert.equal(formatPythonFloat(9999999999999998), "9999999999999998.0");
  assert.equal(formatPythonFloat(2e-5), "2e-05");
  assert.equal(formatPythonFloat(1e-4), "0.0001");
  assert.equal(formatPythonFloat(Infinity), "inf");
  assert.equal(formatPythonFloat(-Infinity), "-inf");
  assert.equal(formatPythonFloat(-0), "-0.0");
  assert.equal(formatPythonFloat(NaN), "nan");
  assert.equal(formatPythonFloat(1.5e300), "1.5e+300");
  assert.equal(formatPythonFloat(5e-324), "5e-324");
});

Deno.test("answer() refuses bytes that are not UTF-8 and keeps a readable log", () => {
  const invalid = new Uint8Array([0x31, 0xff, 0x32]);
  const { request, reply } = answer(invalid, 2);
  assert.equal(reply, NOT_A_FLOAT);
  assert.equal(request, "1\uFFFD2");
  const surrogate = new Uint8Array([0xed, 0xa0, 0x80]);
  assert.equal(answer(surrogate, 2).reply, NOT_A_FLOAT);
  const overlong = new Uint8Array([0xc0, 0xb1]);
  assert.equal(answer(overlong, 2).reply, NOT_A_FLOAT);
});

Deno.test("answer() decodes UTF-8, short and long, like recv_string()", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  assert.deepEqual(answer(encode("100"), 2), {
    request: "100",
    reply: "200.0",
  });
  assert.equal(answer(encode("\u0661\u0660\u0660"), 2).reply, "200.0");
  const long = " ".repeat(40) + "7" + "\u3000".repeat(20);
  assert.equal(answer(encode(long), 3).reply, "21.0");
  // A byte-order mark is a character to Python's utf-8 codec, not whitespace.
  assert.equal(answer(encode("\uFEFF1"), 2).reply, NOT_A_FLOAT);
});

Deno.test("logLine() and endpointFor() read as the tutorial's", () => {
  assert.equal(logLine("100", "200.0"), "received: 100 sending: 200.0");
  assert.equal(endpointFor("127.0.0.1", 2345), "tcp://127.0.0.1:2345");
  assert.equal(endpointFor("::1", 2500), "tcp://[::1]:2500");
  assert.equal(endpointFor("[::1]", 2500), "tcp://[::1]:2500");
});

Deno.test("parseMultiplier() takes finite integers and decimals only", () => {
  assert.equal(parseMultiplier("5"), 5);
  assert.equal(parseMultiplier("2.5"), 2.5);
  assert.equal(parseMultiplier("-1e2"), -100);
  assert.equal(parseMultiplier("inf"), undefined);
  assert.equal(parseMultiplier("nan"), undefined);
  assert.equal(parseMultiplier("five"), undefined);
});
