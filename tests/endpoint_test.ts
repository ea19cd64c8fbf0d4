import assert from "node:assert/strict";
import {
  formatEndpoint,
  isLoopback,
  parseEndpoint,
} from "../lib/zmtp/endpoint.ts";

Deno.test("parseEndpoint() reads IPv4, names, bracketed and bare IPv6, and *", () => {
  assert.deepEqual(parseEndpoint("tcp://127.0.0.1:2345"), {
    host: "127.0.0.1",
    port: 2345,
  });
  assert.deepEqual(parseEndpoint("tcp://localhost:2500"), {
    host: "localhost",
    port: 2500,
  });
  assert.deepEqual(parseEndpoint("tcp://[::1]:2500"), {
    host: "::1",
    port: 2500,
  });
  assert.deepEqual(parseEndpoint("tcp://::1:2500"), {
    host: "::1",
    port: 2500,
  });
  assert.deepEqual(parseEndpoint("TCP://*:0"), { host: "*", port: 0 });
});

Deno.test("parseEndpoint() says what is wrong", () => {
  assert.throws(
    () => parseEndpoint("127.0.0.1:2345"),
    /expected tcp:\/\/host:port/,
  );
  assert.throws(
    () => parseEndpoint("ipc:///tmp/x"),
    /transport "ipc" is not supported/,
  );
  assert.throws(
    () => parseEndpoint("tcp://127.0.0.1"),
    /port "0.0.1"|port is missing/,
  );
  assert.throws(() => parseEndpoint("tcp://host"), /port is missing/);
  assert.throws(() => parseEndpoint("tcp://:2345"), /host is missing/);
  assert.throws(() => parseEndpoint("tcp://h:65536"), /from 0 to 65535/);
  assert.throws(() => parseEndpoint("tcp://h:-1"), SyntaxError);
});

Deno.test("formatEndpoint() brackets IPv6 and round-trips", () => {
  assert.equal(formatEndpoint({ host: "::1", port: 1 }), "tcp://[::1]:1");
  assert.equal(formatEndpoint({ host: "[::1]", port: 1 }), "tcp://[::1]:1");
  for (
    const endpoint of ["tcp://127.0.0.1:2345", "tcp://[::1]:2500", "tcp://*:0"]
  ) {
    assert.equal(formatEndpoint(parseEndpoint(endpoint)), endpoint);
  }
});

Deno.test("isLoopback() knows this machine's own addresses", () => {
  for (const host of ["127.0.0.1", "127.1.2.3", "::1", "localhost"]) {
    assert.ok(isLoopback(host), host);
  }
  for (const host of ["0.0.0.0", "*", "192.168.1.1", "::", "example.com"]) {
    assert.ok(!isLoopback(host), host);
  }
});
