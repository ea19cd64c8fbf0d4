import assert from "node:assert/strict";
import { generateKeyPair } from "../lib/zmtp/curve_keys.ts";
import { Reply, Request, type SocketEvent } from "../lib/zmtp/mod.ts";
import { boundReply } from "./_sockets.ts";

Deno.test("a CURVE socket whose keys do not belong together fails closed: bind rejects, connect stops, nothing speaks NULL", async () => {
  const server = await generateKeyPair();
  const other = await generateKeyPair();
  const wrongPair = {
    curvePublicKey: other.publicKey,
    curveSecretKey: server.secretKey,
  };
  const reply = new Reply({ curveServer: true, ...wrongPair });
  assert.equal(reply.mechanism, "CURVE");
  await assert.rejects(() => reply.bind("tcp://127.0.0.1:0"), {
    name: "RangeError",
    message: /its secret key does not belong to its public key/,
  });
  await reply.close();

  // A NULL server is listening: a CURVE client that cannot start must not
  // reach it at all.
  const accepted: SocketEvent[] = [];
  await using bound = await boundReply({
    onEvent: (event) => {
      if (event.type === "accepted") accepted.push(event);
    },
  });
  let stopped!: (error: Error | undefined) => void;
  const stoppedWith = new Promise<Error | undefined>((resolve) => {
    stopped = resolve;
  });
  const request = new Request({
    curveServerKey: server.publicKey,
    ...wrongPair,
    onEvent: (event) => {
      if (event.type === "stopped") stopped(event.error);
    },
  });
  request.connect(bound.endpoint);
  const error = await stoppedWith;
  assert.ok(error instanceof RangeError);
  await request.close();
  assert.deepEqual(accepted, [], "no connection reached the NULL server");
  assert.equal(bound.reply.connectionCount, 0);
});
