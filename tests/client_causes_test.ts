/**
 * client.ts says why a request got no reply: one line on stderr naming the
 * cause the client saw (lib/lazy_pirate.ts words it), and exit 1 in a pipe.
 * Each test sets up one cause with a real peer on loopback (or none) and
 * checks the exact line. Causes that waiting cannot cure (a refusal with
 * ERROR, no permission to connect, a host name that does not exist, another
 * mechanism or key, a peer that is not ZeroMQ) end the client at once, well
 * before its --timeout; those that a later try may cure (refused, a
 * resolver that does not answer, a full server) are tried again.
 */
import assert from "node:assert/strict";
import {
  type Finished,
  freePort,
  Proc,
  ROOT,
  runClient,
  startServer,
} from "./_process.ts";
import {
  banner,
  greetAs,
  mute,
  RawServer,
  refuse,
  silent,
} from "./peers/raw_server.ts";

const DENO = Deno.execPath();

/** client.ts in a pipe with one request, and how long it took. */
async function client(
  args: string[],
  input = "100\n",
): Promise<Finished & { ms: number }> {
  const started = performance.now();
  const result = await runClient(args, input);
  return { ...result, ms: performance.now() - started };
}

/** Exit 1, nothing on stdout, and exactly `line` on stderr. */
function assertGaveUp(result: Finished, line: string): void {
  assert.equal(result.stderr, `${line}\n`);
  assert.equal(result.stdout, "");
  assert.equal(result.code, 1);
}

/** As {@link assertGaveUp}, and well before one --timeout of 30 s. */
function assertGaveUpAtOnce(
  result: Finished & { ms: number },
  line: string,
): void {
  assertGaveUp(result, line);
  assert.ok(result.ms < 15_000, `took ${Math.round(result.ms)} ms`);
}

const PATIENT = ["--timeout", "30000", "--retries", "3"];

Deno.test("client.ts cause: no server on the port: connection refused", async () => {
  const port = freePort();
  const result = await client([
    String(port),
    "--timeout",
    "1000",
    "--retries",
    "2",
  ]);
  assertGaveUp(
    result,
    `no reply after 2 tries: connection refused by 127.0.0.1:${port} (is the server running, on that port?)`,
  );
});

Deno.test("client.ts cause: a host name that does not exist ends the client at once", async () => {
  // RFC 6761: .invalid never resolves, with or without a DNS server.
  const result = await client(["2345", "no-such-host.invalid", ...PATIENT]);
  assertGaveUpAtOnce(
    result,
    'cannot resolve "no-such-host.invalid": no such host (in tcp://no-such-host.invalid:2345)',
  );
});

// A resolver that does not answer: /etc/resolv.conf replaced, in a mount
// namespace of the client's own, by one naming 127.0.0.1, where no DNS
// server listens (getaddrinfo's EAI_AGAIN). Needs root for unshare.
const isRoot = new TextDecoder().decode(
  new Deno.Command("id", { args: ["-u"] }).outputSync().stdout,
).trim() === "0";
Deno.test({
  name:
    `client.ts cause: a resolver that does not answer is tried again, and said${
      isRoot ? "" : " (skipped: needs root for a mount namespace)"
    }`,
  ignore: !isRoot,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/resolv.conf`, "nameserver 127.0.0.1\n");
      const started = performance.now();
      await using proc = new Proc("unshare", [
        "--mount",
        "sh",
        "-c",
        `mount --bind "$0" /etc/resolv.conf && exec "$@"`,
        `${dir}/resolv.conf`,
        ...[DENO, "run", "--allow-net", `${ROOT}client.ts`],
        ...["2345", "no-such-host.invalid", "--timeout", "1000"],
        ...["--retries", "2"],
      ], { input: "100\n" });
      const result = { ...await proc.finish(), ms: 0 };
      result.ms = performance.now() - started;
      assertGaveUp(
        result,
        'no reply after 2 tries: cannot resolve "no-such-host.invalid" for now: the resolver says EAI_AGAIN (is DNS reachable?)',
      );
      assert.ok(result.ms >= 2000, `gave up after ${result.ms} ms`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("client.ts cause: a peer that sends an SSH banner is not a ZeroMQ peer, said at once", async () => {
  await using server = new RawServer(banner("SSH-2.0-OpenSSH_9.2\r\n"));
  const result = await client([String(server.port), ...PATIENT]);
  assertGaveUpAtOnce(
    result,
    `127.0.0.1:${server.port} is not a ZeroMQ peer: greeting does not start with the ZMTP signature (a ZMTP/1.0 peer, or not ZeroMQ)`,
  );
  assert.equal(server.accepted, 1, "not dialed again");
});

Deno.test("client.ts cause: a peer that takes the connection and never greets", async () => {
  await using server = new RawServer(silent);
  const result = await client([
    String(server.port),
    "--timeout",
    "1000",
    "--retries",
    "2",
  ]);
  assertGaveUp(
    result,
    `no reply after 2 tries: 127.0.0.1:${server.port} took the connection but did not greet within 1000 ms (a hung server, or not a ZeroMQ one)`,
  );
});

Deno.test("client.ts cause: a handshake refused with ERROR ends the client at once, well before --timeout", async () => {
  await using server = new RawServer(refuse("go-away"));
  const result = await client([
    String(server.port),
    "--timeout",
    "30000",
    "--retries",
    "3",
  ], "100\n200\n");
  assertGaveUp(
    result,
    `127.0.0.1:${server.port} refused the handshake with ERROR "go-away"`,
  );
  assert.ok(result.ms < 15_000, `took ${Math.round(result.ms)} ms`);
  assert.equal(server.accepted, 1, "RFC 37: no second connection");
});

Deno.test("client.ts cause: a peer whose greeting asks for CURVE, against a plain client, said at once", async () => {
  await using server = new RawServer(greetAs("CURVE"));
  const result = await client([String(server.port), ...PATIENT]);
  assertGaveUpAtOnce(
    result,
    `127.0.0.1:${server.port} requires CURVE (give its public key with --curve-server-key)`,
  );
});

Deno.test("client.ts cause: a CURVE server's empty ERROR (JeroMQ's answer to another key) names the key, at once", async () => {
  await using server = new RawServer(refuse("", "CURVE"));
  const key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  const result = await client([
    String(server.port),
    "--curve-server-key",
    key,
    ...PATIENT,
  ]);
  assertGaveUpAtOnce(
    result,
    `127.0.0.1:${server.port} refused the CURVE handshake with an empty ERROR: its public key is not ${key} (--curve-server-key)`,
  );
});

Deno.test('client.ts cause: a full server (ERROR "Server-full") is tried again, and said', async () => {
  await using server = new RawServer(refuse("Server-full"));
  const result = await client([
    String(server.port),
    "--timeout",
    "1000",
    "--retries",
    "2",
  ]);
  assertGaveUp(
    result,
    `no reply after 2 tries: 127.0.0.1:${server.port} is full: it refused the connection with ERROR "Server-full" (its --max-connections)`,
  );
  assert.ok(server.accepted >= 2, `${server.accepted} connections`);
});

Deno.test({
  name:
    "client.ts cause: server.ts --curve-key, against a plain client, said at once",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const keygen = await new Proc(DENO, [
        "run",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        `${ROOT}keygen.ts`,
        `${dir}/server`,
      ]).finish();
      assert.equal(keygen.code, 0, keygen.stderr);
      await using server = await startServer([
        "2",
        "0",
        "--curve-key",
        `${dir}/server.key_secret`,
      ], { flags: [`--allow-read=${dir}`] });
      const result = await client([String(server.port), ...PATIENT]);
      assertGaveUpAtOnce(
        result,
        `127.0.0.1:${server.port} requires CURVE (give its public key with --curve-server-key)`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("client.ts cause: a request over the server's --max-message-size: closed each time, with the request's size", async () => {
  await using ours = await startServer([
    "2",
    "0",
    "--max-message-size",
    "10",
  ]);
  const result = await client(
    [String(ours.port), "--timeout", "5000", "--retries", "3"],
    `${"1".repeat(30)}\n`,
  );
  assertGaveUp(
    result,
    `no reply after 3 tries: 127.0.0.1:${ours.port} closed the connection before replying each time (a server closes the connection on a request over its --max-message-size; this one is 30 octets)`,
  );
});

Deno.test("client.ts cause: no network permission ends the client at once, well before --timeout", async () => {
  const port = freePort();
  const started = performance.now();
  await using proc = new Proc(DENO, [
    "run",
    `${ROOT}client.ts`,
    String(port),
    "--timeout",
    "30000",
  ], { input: "100\n" });
  const result = await proc.finish();
  const ms = performance.now() - started;
  assertGaveUp(
    result,
    `no permission to connect to 127.0.0.1:${port} (run Deno with --allow-net; deno task client grants it)`,
  );
  assert.ok(ms < 15_000, `took ${Math.round(ms)} ms`);
});

Deno.test("client.ts cause: a server that completes the handshake and never replies", async () => {
  await using server = new RawServer(mute);
  const result = await client([
    String(server.port),
    "--timeout",
    "1000",
    "--retries",
    "2",
  ]);
  assertGaveUp(result, "no reply after 2 tries: no reply within 1000 ms");
});

Deno.test("client.ts --verbose says each try's cause before the last line", async () => {
  const port = freePort();
  const result = await client([
    String(port),
    "--timeout",
    "1000",
    "--retries",
    "3",
    "--verbose",
  ]);
  const cause =
    `connection refused by 127.0.0.1:${port} (is the server running, on that port?)`;
  assert.equal(
    result.stderr,
    [
      `try 1 of 3: ${cause}`,
      `try 2 of 3: ${cause}`,
      `try 3 of 3: ${cause}`,
      `no reply after 3 tries: ${cause}`,
      "",
    ].join("\n"),
  );
  assert.equal(result.code, 1);
});
