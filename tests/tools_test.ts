/**
 * The scripts in tools/ on a machine that lacks something: each says what to
 * do in one line of ours, never npm's, Python's or Deno's own message. They
 * run on copies in a temporary directory, with a PATH made for the case.
 */
import assert from "node:assert/strict";
import { Proc, ROOT } from "./_process.ts";

/** A temporary directory, removed on dispose. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "multiply-tools-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Writes an executable shell script. */
async function script(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, `#!/bin/sh\n${text}\n`);
  await Deno.chmod(path, 0o755);
}

// tools/python with Debian's Python absent, so that PATH decides.
async function pythonToolWithout(dir: string): Promise<string> {
  const text = await Deno.readTextFile(`${ROOT}tools/python`);
  const changed = text.replace(
    /^debian_python=.*$/m,
    `debian_python=${dir}/absent/python3`,
  );
  assert.notEqual(changed, text);
  return changed;
}

// A python3 like pyenv's or a venv's: runs, but has no pyzmq.
const PYTHON_WITHOUT_ZMQ =
  `echo "ModuleNotFoundError: No module named 'zmq'" >&2; exit 1`;

Deno.test("tools/deno without npm, before Deno is installed, says to install Node and npm, exit 1", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(`${dir.path}/tools/deno-runtime`, { recursive: true });
  await Deno.mkdir(`${dir.path}/bin`);
  await Deno.copyFile(`${ROOT}tools/deno`, `${dir.path}/tools/deno`);
  await Deno.copyFile(
    `${ROOT}tools/deno-runtime/package.json`,
    `${dir.path}/tools/deno-runtime/package.json`,
  );
  // PATH holds what the script needs besides npm.
  await Deno.symlink("/usr/bin/dirname", `${dir.path}/bin/dirname`);
  const run = new Proc("/bin/sh", [`${dir.path}/tools/deno`, "--version"], {
    env: { PATH: `${dir.path}/bin` },
  });
  const result = await run.finish();
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(
    result.stderr,
    /^tools\/deno: npm is needed once, to install the pinned Deno: install Node\.js with npm .*\n$/,
  );
});

Deno.test("tools/python skips a python3 without pyzmq on PATH, else says to run tools/setup", async () => {
  await using dir = await tempDir();
  const tool = `${dir.path}/python`;
  await Deno.writeTextFile(
    tool,
    await pythonToolWithout(dir.path),
  );
  await Deno.chmod(tool, 0o755);
  await Deno.mkdir(`${dir.path}/pyenv`);
  await script(`${dir.path}/pyenv/python3`, PYTHON_WITHOUT_ZMQ);
  await Deno.mkdir(`${dir.path}/debian`);
  await Deno.symlink("/usr/bin/python3", `${dir.path}/debian/python3`);

  const found = new Proc(tool, ["-c", "import sys; print(sys.executable)"], {
    env: { PATH: `${dir.path}/pyenv:${dir.path}/debian` },
  });
  const picked = await found.finish();
  assert.equal(picked.code, 0, picked.stderr);
  assert.equal(picked.stdout, `${dir.path}/debian/python3\n`);

  const none = new Proc(tool, ["-c", ""], {
    env: { PATH: `${dir.path}/pyenv` },
  });
  const missing = await none.finish();
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tools\/python: .*: run tools\/setup\n$/);
});

Deno.test("tools/python runs Debian's /usr/bin/python3 when PATH's python3 has no pyzmq", async () => {
  await using dir = await tempDir();
  await script(`${dir.path}/python3`, PYTHON_WITHOUT_ZMQ);
  const run = new Proc(`${ROOT}tools/python`, [
    "-c",
    "import sys, zmq; print(sys.executable)",
  ], { env: { PATH: `${dir.path}:/usr/bin:/bin` } });
  const result = await run.finish();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "/usr/bin/python3\n");
});

Deno.test("tools/setup without Node says to install Node.js with npm, exit 1", async () => {
  await using dir = await tempDir();
  await Deno.symlink("/usr/bin/dirname", `${dir.path}/dirname`);
  const run = new Proc("/bin/sh", [`${ROOT}tools/setup`], {
    env: { PATH: dir.path },
  });
  const result = await run.finish();
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    "tools/setup: node is missing: install Node.js with npm (apt-get install npm, or https://nodejs.org), then run tools/setup again\n",
  );
});

Deno.test("tests that need zeromq.js or pyzmq fail with one line naming tools/setup when it has not been run", async () => {
  await using dir = await tempDir();
  // A checkout where tools/setup never ran: no tests/peers/node_modules, and
  // no python3 with pyzmq (Debian's is hidden from the copy of tools/python).
  await Deno.mkdir(`${dir.path}/tests/peers`, { recursive: true });
  await Deno.mkdir(`${dir.path}/tools`);
  await Deno.mkdir(`${dir.path}/bin`);
  await Deno.copyFile(
    `${ROOT}tests/_process.ts`,
    `${dir.path}/tests/_process.ts`,
  );
  // _process.ts reads the server task's V8 flags from deno.json.
  await Deno.copyFile(`${ROOT}deno.json`, `${dir.path}/deno.json`);
  await Deno.writeTextFile(
    `${dir.path}/tools/python`,
    await pythonToolWithout(dir.path),
  );
  await Deno.chmod(`${dir.path}/tools/python`, 0o755);
  await script(`${dir.path}/bin/python3`, PYTHON_WITHOUT_ZMQ);
  await Deno.writeTextFile(
    `${dir.path}/tests/peers_test.ts`,
    `import { node, python } from "./_process.ts";
Deno.test("zeromq.js peer", async () => {
  await using _peer = node("zeromq_rep.mjs", ["2", "0"]);
});
Deno.test("pyzmq peer", async () => {
  await using _peer = python(["-c", "import zmq"]);
});
`,
  );
  const run = new Proc(Deno.execPath(), [
    "test",
    "--no-config",
    "--allow-all",
    `${dir.path}/tests/peers_test.ts`,
  ], { env: { PATH: `${dir.path}/bin`, NO_COLOR: "1" }, cwd: dir.path });
  const result = await run.finish(60_000);
  assert.equal(result.code, 1);
  const errors = result.stdout.split("\n").filter((line) =>
    line.startsWith("error: ")
  );
  assert.equal(errors.length, 2, result.stdout);
  assert.equal(
    errors[0],
    "error: SetupError: zeromq.js is not installed in tests/peers: run tools/setup",
  );
  assert.match(
    errors[1],
    /^error: SetupError: tools\/python: no python3 with pyzmq .*: run tools\/setup$/,
  );
  assert.doesNotMatch(result.stdout + result.stderr, /Traceback|Cannot find/);
});

Deno.test("deno task bench with a wrong argument prints usage and exits 2, before starting any server", async () => {
  for (
    const [args, reason] of [
      [["--bogus"], "Unknown option '--bogus'"],
      [
        ["--rounds", "0"],
        "--rounds must be a whole number from 1 to \\d+, not '0'",
      ],
      [["--servers", "ours,nope"], "no server 'nope'"],
      [["--save", "--out", "/tmp/x"], "give --save or --out, not both"],
    ] as const
  ) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}bench/bench.ts`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 2, stderr);
    assert.match(stderr, new RegExp(`^bench: ${reason}`));
    assert.match(stderr, /\nusage: deno task bench /);
    assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/, "no stack trace");
    assert.equal(output.stdout.length, 0);
  }
});
