/**
 * The command lines of server.ts and client.ts: usage errors exit 2 with
 * usage and no stack trace, a taken port exits 1 with one line, signals
 * stop the server cleanly, and the client behaves on a terminal.
 */
import assert from "node:assert/strict";
import { Request } from "../lib/zmtp/mod.ts";
import {
  deno,
  denoArgs,
  freePort,
  listening,
  Proc,
  python,
  ROOT,
  runClient,
  sleep,
  startServer,
} from "./_process.ts";

async function run(script: string, args: string[]) {
  const proc = deno(script, args);
  return await proc.finish();
}

function assertUsageError(
  result: { code: number; stdout: string; stderr: string },
  message: RegExp,
) {
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr.split("\n")[0], message);
  assert.match(result.stderr, /^[^\n]*\n\nUsage: /, "one line, then usage");
  assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
  assert.equal(result.stdout, "");
}

Deno.test("server.ts: wrong arguments print one line and usage, and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["abc"], /^server: multiplier must be a finite number, not 'abc'$/],
    [["inf"], /multiplier must be a finite number/],
    [
      ["2", "99999"],
      /^server: port must be a whole number from 0 to 65535, not '99999'$/,
    ],
    [["2", "http"], /port must be a whole number/],
    [
      ["2", "2345", "127.0.0.1", "extra"],
      /^server: too many arguments: extra$/,
    ],
    [["--frobnicate"], /^server: unknown option '--frobnicate'$/],
    [["--bind", "127.0.0.1:5"], /^server: cannot parse endpoint "127.0.0.1:5"/],
    [["--bind"], /^server: option '--bind <value>' argument missing$/],
    [
      ["--max-connections", "-1"],
      /^server: --max-connections must be a whole number from 1 .*'-1'$/,
    ],
    [
      ["--max-connections", "0"],
      /--max-connections must be a whole number from 1/,
    ],
    [["2", "2345", "bad host!"], /^server: cannot parse endpoint/],
  ];
  for (const [args, message] of cases) {
    assertUsageError(await run("server.ts", args), message);
  }
});

Deno.test("client.ts: wrong arguments print one line and usage, and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["0"], /^client: port must be a whole number from 1 to 65535, not '0'$/],
    [["--timeout", "soon"], /^client: --timeout must be a whole number/],
    [["--retries", "0"], /^client: --retries must be a whole number from 1/],
    [
      ["--retries", "-1"],
      /^client: --retries must be a whole number from 1 to 1000000, not '-1'$/,
    ],
    [["--timeout", "-v"], /^client: --timeout must be a whole number .*'-v'$/],
    [["1", "h", "x"], /^client: too many arguments: x$/],
    [["--connect", "tcp://h:0"], /port 0/],
    [["-x"], /^client: unknown option '-x'$/],
  ];
  for (const [args, message] of cases) {
    assertUsageError(await run("client.ts", args), message);
  }
});

// A key as keygen.ts prints one, less its last character.
const KEY_39 = "l>/n3.lOu%&omVAbA8cegbi@Rz043vw98fDQs:B";

Deno.test("client.ts --curve-server-key: a 39-character key is named as not a Z85 key nor a readable NAME.key file; usage, exit 2", async () => {
  for (const flags of [[], ["--allow-read"]]) {
    const result = await deno(
      "client.ts",
      ["--curve-server-key", KEY_39],
      { flags, input: "1\n" },
    ).finish();
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr.split("\n")[0],
      `client: --curve-server-key '${KEY_39}': not a 40-character Z85 key (it has 39 characters), nor a readable NAME.key file`,
    );
    assert.match(result.stderr, /^[^\n]*\n\nUsage: /);
  }
});

Deno.test("deno task client and server: a key file Deno may not read is one line naming --allow-read, no usage, exit 1", async () => {
  const cases = [
    ["client", "--curve-server-key", "certs/server.key"],
    ["server", "2", "0", "--curve-key", "certs/server.key_secret"],
  ];
  for (const [task, ...args] of cases) {
    const option = args.at(-2)!;
    const file = args.at(-1)!;
    const result = await new Proc(Deno.execPath(), [
      "task",
      "--quiet",
      task,
      ...args,
    ], { input: "1\n" }).finish();
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `${task}: ${option} ${file}: no permission to read it; run Deno with --allow-read=${file} (deno task grants only --allow-net)\n`,
    );
    assert.equal(result.stdout, "");
  }
});

Deno.test("client.ts: a `--` before options, as in `deno task client 2345 -- --verbose`, is ignored", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const result = await runClient([String(ours.port), "--", "--verbose"], "1\n");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "2.0\n");
  assert.equal(result.stderr, `reply from tcp://127.0.0.1:${ours.port}\n`);
});

Deno.test("server.ts and client.ts: --help and --version exit 0 on stdout", async () => {
  for (const script of ["server.ts", "client.ts"]) {
    const help = await run(script, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: /);
    const version = await run(script, ["-V"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^multiply (server|client) \d+\.\d+\.\d+\n$/);
  }
});

Deno.test("server.ts: a port in use exits 1 with one clear line", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  try {
    const result = await run("server.ts", ["2", String(port)]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `server: cannot bind "tcp://127.0.0.1:${port}": address already in use\n`,
    );
  } finally {
    listener.close();
  }
});

Deno.test("server.ts: an address not on this machine exits 1 with one line", async () => {
  const result = await run("server.ts", ["2", "2345", "192.0.2.1"]);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /^server: cannot bind "tcp:\/\/192\.0\.2\.1:2345": .+\n$/,
  );
});

const GRACEFUL =
  "server: stopping: answering the requests received, then exiting (press Ctrl-C again to stop at once)\n";
const AT_ONCE = "server: stopping at once, without waiting for replies\n";

Deno.test("server.ts: SIGTERM and SIGINT stop it with exit 0, the log complete", async () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await using ours = await startServer(["2", "0"]);
    const result = await runClient([String(ours.port)], "1\n2\n3\n");
    assert.equal(result.stdout, "2.0\n4.0\n6.0\n");
    ours.server.kill(signal);
    const finished = await ours.server.finish();
    assert.equal(finished.code, 0, `${signal}: ${finished.stderr}`);
    assert.equal(finished.stderr, GRACEFUL);
    assert.match(finished.stdout, /received: 3 sending: 6\.0\n$/);
  }
});

Deno.test("server.ts: with stdout and stderr in one pipe, a request answered just before SIGTERM is logged above the stopping line", async () => {
  // Both streams into one, as `server.ts > file 2>&1` has them.
  await using ours = await listening(
    new Proc("sh", [
      "-c",
      `exec "$0" "$@" 2>&1`,
      Deno.execPath(),
      ...denoArgs("server.ts", ["2", "0"]),
    ]),
  );
  await using request = new Request({ receiveTimeout: 5000 });
  request.connect(`tcp://127.0.0.1:${ours.port}`);
  await request.send("3");
  const [reply] = await request.receive();
  assert.equal(new TextDecoder().decode(reply), "6.0");
  // At once: the log line is still in its 50 ms batch.
  ours.server.kill("SIGTERM");
  const finished = await ours.server.finish();
  assert.equal(finished.code, 0, finished.stdout);
  assert.match(
    finished.stdout,
    /received: 3 sending: 6\.0\nserver: stopping: answering/,
  );
});

/**
 * A peer whose replies cannot be written (10 MB of echoed envelopes it never
 * reads): a graceful stop then lasts the server's whole linger (2 s), long
 * enough for a second signal to reach it.
 */
function unreadReplies(port: number): Proc {
  return python([
    `${ROOT}tests/peers/flood_unread.py`,
    `tcp://127.0.0.1:${port}`,
    "20",
  ], { interactiveStdin: true });
}

Deno.test("server.ts: a second SIGINT right after the first (one Ctrl-C, echoed by deno task) is the same graceful stop", async () => {
  await using ours = await startServer(["2", "0"]);
  await using peer = unreadReplies(ours.port);
  await ours.server.waitFor(/received: 1 sending: 2\.0\n/);
  // The second once the first has been taken (two signals sent at once may
  // reach the process as one), well within the 500 ms of one keypress.
  ours.server.kill("SIGINT");
  await ours.server.waitFor(/server: stopping: /, 5_000, "stderr");
  ours.server.kill("SIGINT");
  const finished = await ours.server.finish();
  assert.equal(finished.stderr, GRACEFUL);
  assert.equal(finished.code, 0);
  await peer.closeStdin();
});

/** `deno task server ARGS` on a pseudo-terminal, pressing keys as `steps` say. */
function onTerminal(steps: string[], args: string[]): Proc {
  return python([
    `${ROOT}tests/peers/pty_keys.py`,
    ...steps,
    "--",
    Deno.execPath(),
    "task",
    "--quiet",
    "server",
    ...args,
  ]);
}

Deno.test("deno task server on a terminal: one Ctrl-C always stops it gracefully (6 tries)", async () => {
  for (let i = 0; i < 6; i++) {
    const session = onTerminal(
      ["wait=Waiting for clients", "key=^C"],
      ["2", "0"],
    );
    const result = await session.finish(30_000);
    const screen = result.stdout.replace(/\r\n/g, "\n");
    assert.equal(result.code, 0, screen);
    assert.ok(screen.includes(GRACEFUL), screen);
    assert.ok(!screen.includes(AT_ONCE), `try ${i + 1}:\n${screen}`);
  }
});

Deno.test("deno task server on a terminal: a second Ctrl-C 800 ms after the first stops it at once, exit 1", async () => {
  const port = freePort();
  await using peer = unreadReplies(port);
  const session = onTerminal([
    "wait=received: 1 sending: 2\\.0",
    "pause=300",
    "key=^C",
    "pause=800",
    "key=^C",
  ], ["2", String(port)]);
  const result = await session.finish(30_000);
  const screen = result.stdout.replace(/\r\n/g, "\n");
  assert.equal(result.code, 1, screen);
  assert.match(
    screen,
    new RegExp(`${escape(GRACEFUL)}(.|\n)*${escape(AT_ONCE)}`),
  );
  await peer.closeStdin();
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("server.ts: negative and decimal multipliers, --quiet, a non-loopback notice", async () => {
  {
    await using ours = await startServer(["-3", "0", "--quiet"]);
    const result = await runClient([String(ours.port)], "2\n0.1\n");
    assert.equal(result.stdout, "-6.0\n-0.30000000000000004\n");
    await sleep(100);
    assert.equal(
      ours.server.stdout.split("\n").length,
      2,
      "only the Waiting line",
    );
  }
  {
    await using ours = await startServer(["2.5", "0", "0.0.0.0"]);
    const result = await runClient([String(ours.port)], "2\n");
    assert.equal(result.stdout, "5.0\n");
    await ours.server.waitFor(
      /tcp:\/\/0\.0\.0\.0:\d+ is reachable from the network/,
      5000,
      "stderr",
    );
  }
});

Deno.test("client.ts on a terminal: the tutorial's prompts, and Ctrl-D exits 0 quietly", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const session = python([
    `${ROOT}tests/peers/pty_run.py`,
    "100",
    "1000",
    "--",
    Deno.execPath(),
    ...denoArgs("client.ts", [String(ours.port)]),
  ]);
  const result = await session.finish();
  assert.equal(result.code, 0, result.stdout);
  const screen = result.stdout.replace(/\r\n/g, "\n");
  assert.equal(
    screen,
    `Connecting to port '${ours.port}' of host '127.0.0.1'.\n` +
      "give a number to multiply: 100\n200.0\n" +
      "give a number to multiply: 1000\n2000.0\n" +
      "give a number to multiply: \n",
  );
});

Deno.test("client.ts on a terminal: Ctrl-C ends the prompt's line and exits 130", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const session = python([
    `${ROOT}tests/peers/pty_run.py`,
    "100",
    "^C",
    "--",
    Deno.execPath(),
    ...denoArgs("client.ts", [String(ours.port)]),
  ]);
  const result = await session.finish();
  assert.equal(result.code, 130, result.stdout);
  assert.equal(
    result.stdout.replace(/\r\n/g, "\n"),
    `Connecting to port '${ours.port}' of host '127.0.0.1'.\n` +
      "give a number to multiply: 100\n200.0\n" +
      "give a number to multiply: ^C\n",
  );
});

Deno.test("client.ts in a pipe: a line that is not UTF-8 is not sent; one line, exit 1", async () => {
  await using ours = await startServer(["2", "0"]);
  const client = deno("client.ts", [String(ours.port)], {
    input: new Uint8Array([0x31, 0x0a, 0xff, 0xfe, 0x32, 0x0a, 0x33, 0x0a]),
  });
  const result = await client.finish();
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "2.0\n");
  assert.equal(result.stderr, "line 2 is not UTF-8 text, so it was not sent\n");
  ours.server.kill("SIGTERM");
  const log = await ours.server.finish();
  assert.deepEqual(log.stdout.split("\n").slice(1), [
    "received: 1 sending: 2.0",
    "",
  ]);
});

Deno.test("client.ts on a terminal: a line that is not UTF-8 is refused and the prompt comes back", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const session = python([
    `${ROOT}tests/peers/pty_run.py`,
    "\\xff2",
    "3",
    "--",
    Deno.execPath(),
    ...denoArgs("client.ts", [String(ours.port)]),
  ]);
  const result = await session.finish();
  assert.equal(result.code, 0, result.stdout);
  const screen = result.stdout.replace(/\r\n/g, "\n");
  assert.match(screen, /line 1 is not UTF-8 text, so it was not sent\n/);
  assert.match(screen, /give a number to multiply: 3\n6\.0\n/);
});

Deno.test("client.ts: in a pipe, end of input exits 0 and blank lines get Python's answer", async () => {
  await using ours = await startServer(["2", "0", "--quiet"]);
  const result = await runClient([String(ours.port)], "1\r\n\n2\r3");
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "2.0\nnot a 'float'\n4.0\n6.0\n");
});

Deno.test("client.ts: no server says connection refused in one line, exit 1 in a pipe", async () => {
  const port = freePort();
  const result = await runClient([
    String(port),
    "--timeout",
    "200",
    "--retries",
    "2",
  ], "100\n");
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `no reply after 2 tries: connection refused by 127.0.0.1:${port} (is the server running, on that port?)\n`,
  );
  assert.equal(result.stdout, "");
});

Deno.test("deno task server and deno task client work with --allow-net only", async () => {
  const port = freePort();
  await using task = new Proc(Deno.execPath(), [
    "task",
    "--quiet",
    "server",
    "5",
    String(port),
  ]);
  await task.waitFor(/Waiting for clients on port/);
  const client = new Proc(Deno.execPath(), [
    "task",
    "--quiet",
    "client",
    String(port),
  ], { input: "100\n" });
  const result = await client.finish();
  assert.equal(result.stdout, "500.0\n", result.stderr);
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  for (const name of ["server", "client"]) {
    assert.match(
      config.tasks[name],
      /^deno run --allow-net (--v8-flags=\S+ )?\w+\.ts$/,
      `${name} task has only --allow-net`,
    );
  }
});
