import assert from "node:assert/strict";
import {
  createCurveFactory,
  CurveAuthorizationError,
  CurveServer,
} from "../lib/zmtp/curve_mechanism.ts";
import {
  allowKeys,
  encodeZ85Key,
  generateKeyPair,
  readCertificate,
  writeCertificate,
} from "../lib/zmtp/curve_keys.ts";
import { HandshakeRefusedError } from "../lib/zmtp/mechanism.ts";
import { COMMAND, parseCommand } from "../lib/zmtp/frame.ts";
import { CurveDriver } from "./_curve_driver.ts";
import { python, pythonWithZmq, ROOT, within } from "./_process.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const REP_PEER = `${ROOT}tests/peers/curve_rep.py`;
const REQ_PEER = `${ROOT}tests/peers/curve_req.py`;
const shortNonce = ({ body }: { body: Uint8Array }) =>
  new DataView(body.buffer, body.byteOffset).getBigUint64(8);

Deno.test("CurveMechanism client speaks with a pyzmq CURVE REP server behind a ZAP allow-list", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const server = await generateKeyPair();
    const client = await generateKeyPair();
    const stranger = await generateKeyPair();
    await Deno.mkdir(`${dir}/allowed`);
    await writeCertificate(`${dir}/server`, server);
    await writeCertificate(`${dir}/allowed/client`, client);
    await using peer = python([
      REP_PEER,
      `${dir}/server.key_secret`,
      `${dir}/allowed`,
      "100", // heartbeat: PING every 100 ms
    ]);
    const port = Number((await peer.waitFor(/port (\d+)/))[1]);

    const connect = async (keyPair: typeof client) => {
      const mechanismFor = await createCurveFactory({
        role: "client",
        keyPair,
        serverKey: server.publicKey,
      });
      const mechanism = mechanismFor({ socketType: "REQ", isServer: false });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      return { conn, mechanism };
    };

    // An admitted key: one request and its reply, both boxed.
    const admitted = await connect(client);
    const driver = await CurveDriver.open(admitted.conn, admitted.mechanism)
      .catch((error) => {
        admitted.conn.close();
        throw error;
      });
    try {
      assert.equal(admitted.mechanism.peerSocketType, "REP");
      await driver.send(["", "100"]);
      assert.deepEqual((await driver.receive()).map(text), ["", "200.0"]);
      // libzmq sends each MESSAGE as a plain message frame: outer flags 0,
      // the delimiter's MORE inside the box.
      assert.deepEqual(driver.outer.map((frame) => frame.flags), [0, 0]);
      // Its short nonces count on from READY's 1.
      assert.deepEqual(driver.outer.map(shortNonce), [2n, 3n]);
      await peer.waitFor(/event HANDSHAKE_SUCCEEDED/);
      // libzmq boxes its heartbeat too: a MESSAGE with outer flags 0 whose
      // flags octet says COMMAND (0x02), holding PING.
      const ping = await driver.receiveCommand();
      assert.equal(ping.flags, COMMAND);
      assert.equal(parseCommand(ping.body).name, "PING");
      assert.equal(driver.outer.at(-1)!.flags, 0);
    } finally {
      driver.close();
    }

    // A key outside the allow-list: libzmq's ZAP denial is ERROR "400".
    const refused = await connect(stranger);
    try {
      await assert.rejects(
        () => CurveDriver.open(refused.conn, refused.mechanism),
        (error: Error) =>
          error instanceof HandshakeRefusedError && error.reason === "400",
      );
    } finally {
      refused.conn.close();
    }
    await peer.waitFor(/event HANDSHAKE_FAILED_AUTH 400/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CurveMechanism server answers a pyzmq CURVE REQ client and refuses an unlisted key with 400", async () => {
  const dir = await Deno.makeTempDir();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const endpoint = `tcp://127.0.0.1:${listener.addr.port}`;
  try {
    const server = await generateKeyPair();
    // The clients' certificates come from pyzmq itself this time.
    const created = await new Deno.Command(pythonWithZmq(), {
      args: [
        "-c",
        "import sys, zmq.auth\nfor n in ('client', 'stranger'): zmq.auth.create_certificates(sys.argv[1], n)",
        dir,
      ],
    }).output();
    assert.equal(created.code, 0, text(created.stderr));
    const client = await readCertificate(`${dir}/client.key`);
    const mechanismFor = await createCurveFactory({
      role: "server",
      keyPair: server,
      authorize: allowKeys([client.publicKey]),
    });
    const serve = async (name: string) => {
      const peer = python([
        REQ_PEER,
        endpoint,
        encodeZ85Key(server.publicKey),
        `${dir}/${name}.key_secret`,
        "100",
      ]);
      const conn = await within(listener.accept(), 10_000, "accept");
      const mechanism = mechanismFor({
        socketType: "REP",
        isServer: true,
      });
      assert.ok(mechanism instanceof CurveServer);
      return { peer, conn, mechanism };
    };

    {
      const { peer, conn, mechanism } = await serve("client");
      await using _peer = peer;
      const driver = await CurveDriver.open(conn, mechanism).catch((error) => {
        conn.close();
        throw error;
      });
      try {
        assert.equal(mechanism.peerSocketType, "REQ");
        assert.deepEqual(mechanism.peerKey, client.publicKey);
        const request = await driver.receive();
        assert.deepEqual(request.map(text), ["", "100"]);
        assert.deepEqual(driver.outer.map((frame) => frame.flags), [0, 0]);
        // After HELLO's 1 and INITIATE's 2.
        assert.deepEqual(driver.outer.map(shortNonce), [3n, 4n]);
        await driver.send([
          request[0],
          String(Number(text(request[1])) * 2) + ".0",
        ]);
        await peer.waitFor(/reply 200\.0/);
        assert.equal((await peer.finish()).code, 0);
      } finally {
        driver.close();
      }
    }

    {
      const { peer, conn, mechanism } = await serve("stranger");
      await using _peer = peer;
      const stranger = await readCertificate(`${dir}/stranger.key`);
      try {
        await assert.rejects(
          () => CurveDriver.open(conn, mechanism),
          (error: Error) =>
            error instanceof CurveAuthorizationError &&
            error.publicKey === encodeZ85Key(stranger.publicKey),
        );
      } finally {
        conn.close();
      }
      // libzmq reads our ERROR "400" as a ZAP denial.
      await peer.waitFor(/event HANDSHAKE_FAILED_AUTH 400/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
