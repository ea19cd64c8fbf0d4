import assert from "node:assert/strict";
import {
  encodeMetadata,
  isLegalPeer,
  parseMetadata,
} from "../lib/zmtp/mechanism.ts";
import { NullMechanism } from "../lib/zmtp/null_mechanism.ts";
import { FrameDecoder, parseCommand } from "../lib/zmtp/frame.ts";
import { ProtocolError } from "../lib/zmtp/errors.ts";

const text = (s: string) => new TextEncoder().encode(s);

function command(frame: Uint8Array) {
  let body: Uint8Array = new Uint8Array(0);
  new FrameDecoder({ maxMessageFrame: 1024, maxCommandFrame: 1024 })
    .push(frame, { frame: (_flags, b) => body = b });
  return parseCommand(body);
}

Deno.test("isLegalPeer() follows RFC 37's table for the request-reply family", () => {
  assert.ok(isLegalPeer("REQ", "REP"));
  assert.ok(isLegalPeer("REQ", "ROUTER"));
  assert.ok(isLegalPeer("REP", "REQ"));
  assert.ok(isLegalPeer("REP", "DEALER"));
  for (
    const peer of ["REQ", "DEALER", "PUB", "SUB", "PAIR", "PUSH", "req", ""]
  ) {
    assert.ok(!isLegalPeer("REQ", peer), peer);
  }
  for (const peer of ["REP", "ROUTER", "PUB", "PAIR", "rep"]) {
    assert.ok(!isLegalPeer("REP", peer), peer);
  }
});

Deno.test("parseMetadata() reads names case-insensitively and zero-size values", () => {
  const encoded = encodeMetadata(
    new Map([["Socket-Type", text("REQ")], ["Identity", new Uint8Array(0)]]),
  );
  const properties = parseMetadata(encoded);
  assert.deepEqual(properties.get("socket-type"), text("REQ"));
  assert.deepEqual(properties.get("identity"), new Uint8Array(0));
});

Deno.test("parseMetadata() refuses truncated properties and empty names", () => {
  const encoded = encodeMetadata(new Map([["Socket-Type", text("REQ")]]));
  assert.throws(
    () => parseMetadata(encoded.subarray(0, encoded.length - 1)),
    ProtocolError,
  );
  assert.throws(
    () => parseMetadata(new Uint8Array([0, 0, 0, 0, 0])),
    ProtocolError,
  );
  // A value length claiming more than the command holds.
  assert.throws(
    () => parseMetadata(new Uint8Array([1, 0x41, 0x7f, 0xff, 0xff, 0xff])),
    /runs past/,
  );
});

Deno.test("NullMechanism: the client sends READY first, the server answers after checking", () => {
  const client = new NullMechanism({
    socketType: "REQ",
    isServer: false,
    identity: text("me"),
  });
  const server = new NullMechanism({ socketType: "REP", isServer: true });
  assert.equal(
    server.nextCommand(),
    undefined,
    "the server waits for the client's READY",
  );
  const ready = command(client.nextCommand()!);
  assert.equal(ready.name, "READY");
  assert.equal(client.nextCommand(), undefined, "READY goes once");
  server.receive(ready.name, ready.data);
  assert.equal(server.peerSocketType, "REQ");
  assert.deepEqual(server.peerIdentity, text("me"));
  const answer = command(server.nextCommand()!);
  assert.equal(answer.name, "READY");
  assert.ok(server.ready);
  assert.ok(!client.ready);
  client.receive(answer.name, answer.data);
  assert.ok(client.ready);
  assert.equal(client.peerSocketType, "REP");
});

Deno.test("NullMechanism: a wrong socket type gets ERROR, a missing one too", () => {
  const server = new NullMechanism({ socketType: "REP", isServer: true });
  server.receive(
    "READY",
    encodeMetadata(new Map([["Socket-Type", text("PUB")]])),
  );
  assert.match(server.error!.message, /Invalid socket type PUB for REP/);
  const error = command(server.nextCommand()!);
  assert.equal(error.name, "ERROR");
  assert.equal(
    new TextDecoder().decode(error.data.subarray(1)),
    "Invalid-socket-type",
    "the wire reason is VCHAR only and echoes nothing of the peer's",
  );
  assert.equal(server.nextCommand(), undefined, "ERROR goes once");
  const untyped = new NullMechanism({ socketType: "REP", isServer: true });
  untyped.receive("READY", new Uint8Array(0));
  assert.match(untyped.error!.message, /Socket-Type is missing/);
});

Deno.test("NullMechanism: ERROR from the peer and unexpected commands are fatal", () => {
  const client = new NullMechanism({ socketType: "REQ", isServer: false });
  assert.throws(
    () => client.receive("ERROR", new Uint8Array([3, 0x62, 0x61, 0x64])),
    /refused the handshake: bad/,
  );
  assert.throws(
    () => client.receive("PING", new Uint8Array(2)),
    /Unexpected PING/,
  );
});
