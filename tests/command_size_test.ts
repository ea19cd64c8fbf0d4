/**
 * docs/security.md's bound on what a peer can make the server take before
 * its handshake completes: a command frame is held to 64 KiB, refused at its
 * header before any of its body is read, while one of exactly 64 KiB is
 * waited for.
 *
 * @module
 */
import assert from "node:assert/strict";
import { RawPeer } from "./_raw_peer.ts";
import { startServer } from "./_process.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";
import { COMMAND, LONG } from "../lib/zmtp/frame.ts";

// A greeting, then the header of a long command frame of `size` octets,
// and none of its body.
function commandHeader(size: number): Uint8Array {
  const header = new Uint8Array(9);
  header[0] = COMMAND | LONG;
  new DataView(header.buffer).setBigUint64(1, BigInt(size));
  return new Uint8Array([...encodeGreeting(), ...header]);
}

Deno.test("server.ts refuses a command frame over 64 KiB in the handshake at its header, and waits for one of 64 KiB", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  using over = await RawPeer.connect(ours.port);
  using at = await RawPeer.connect(ours.port);
  await over.write(commandHeader(65537));
  await at.write(commandHeader(65536));
  const [overClosed, atClosed] = await Promise.all([
    over.closedByPeer(3000),
    at.closedByPeer(1000),
  ]);
  assert.ok(overClosed, "65,537 octets: closed at the header");
  assert.ok(!atClosed, "65,536 octets: the body is waited for");
});
