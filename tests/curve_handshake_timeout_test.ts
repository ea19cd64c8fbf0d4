/**
 * docs/security.md's bound on slow CURVE handshakes: `--handshake-timeout`
 * runs from the connection through CURVE's four commands, so a peer that
 * stops after its greeting, or after HELLO once the server's WELCOME has
 * come, is closed by server.ts --curve-key at the timeout, not before.
 * (tests/fuzz_test.ts checks the same clock on NULL greetings and READY.)
 *
 * @module
 */
import assert from "node:assert/strict";
import { CertDir, startCurveServer } from "./_curve_programs.ts";
import { clientMechanism } from "./_hostile_curve.ts";
import { RawPeer } from "./_raw_peer.ts";
import { readCertificate } from "../lib/zmtp/curve_keys.ts";
import { decodeZ85Key } from "../lib/zmtp/z85.ts";
import { encodeGreeting } from "../lib/zmtp/greeting.ts";

const HANDSHAKE_TIMEOUT_MS = 500;

Deno.test(`server.ts --curve-key closes a CURVE handshake stalled after its greeting or after WELCOME at --handshake-timeout ${HANDSHAKE_TIMEOUT_MS}, not before`, async () => {
  await using certs = await CertDir.create();
  const server = await certs.make("server");
  const client = await certs.make("client");
  await using ours = await startCurveServer(certs.path, [
    "--curve-key",
    server.secretFile,
    "--handshake-timeout",
    String(HANDSHAKE_TIMEOUT_MS),
    "--quiet",
  ]);
  const keys = await readCertificate(client.secretFile);
  const stall = async (afterWelcome: boolean) => {
    const start = performance.now();
    using peer = await RawPeer.connect(ours.port);
    const greeting = encodeGreeting("CURVE", false);
    if (afterWelcome) {
      const mechanism = await clientMechanism(
        { publicKey: keys.publicKey, secretKey: keys.secretKey! },
        decodeZ85Key(server.z85),
      );
      const hello = mechanism.nextCommand()!;
      await peer.write(new Uint8Array([...greeting, ...hello]));
      const welcome = await peer.next(5000);
      assert.ok(
        welcome.kind === "command" && welcome.name === "WELCOME",
        "the server answered HELLO with WELCOME",
      );
    } else {
      await peer.write(greeting);
    }
    const closed = await peer.closedByPeer(5000);
    return { closed, ms: performance.now() - start };
  };
  const [greetingOnly, afterWelcome] = await Promise.all([
    stall(false),
    stall(true),
  ]);
  console.log(
    `CURVE handshake timeout: greeting only closed ${greetingOnly.closed} after ${
      greetingOnly.ms.toFixed(0)
    } ms; stalled after WELCOME closed ${afterWelcome.closed} after ${
      afterWelcome.ms.toFixed(0)
    } ms`,
  );
  for (
    const [what, end] of [
      ["greeting only", greetingOnly],
      ["stalled after WELCOME", afterWelcome],
    ] as const
  ) {
    assert.ok(end.closed, `${what}: closed by the server`);
    // The server's clock starts when it accepts, after ours.
    assert.ok(
      end.ms >= HANDSHAKE_TIMEOUT_MS - 2,
      `${what}: closed at ${end.ms} ms, before the timeout`,
    );
    assert.ok(
      end.ms < HANDSHAKE_TIMEOUT_MS + 2000,
      `${what}: closed only at ${end.ms} ms`,
    );
  }
});
