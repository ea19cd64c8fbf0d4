import assert from "node:assert/strict";
import { Proc, pythonWithZmq, ROOT } from "./_process.ts";

const DENO = Deno.execPath();

// `deno task keygen ARGS` run from `cwd`, as a user in that directory would.
// INIT_CWD is removed from the environment: deno task keeps one already set,
// and `deno task test` has set it to the repository.
async function keygen(cwd: string, ...args: string[]) {
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  const { code, stdout, stderr } = await new Deno.Command(DENO, {
    args: [
      "task",
      "--quiet",
      "--config",
      `${ROOT}deno.json`,
      "keygen",
      ...args,
    ],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

Deno.test("deno task keygen NAME writes certificates under the caller's directory that pyzmq loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const made = await keygen(dir, "certs/server");
    assert.equal(made.code, 0, made.stderr);
    const publicKey = made.stdout.trim();
    assert.match(publicKey, /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/);
    // Each file's mode as it is on disk.
    assert.equal(
      made.stderr,
      "keygen: wrote certs/server.key (mode 0644) and certs/server.key_secret (mode 0600)\n",
    );
    assert.equal(
      (await Deno.stat(`${dir}/certs/server.key`)).mode! & 0o777,
      0o644,
    );
    assert.equal(
      (await Deno.stat(`${dir}/certs/server.key_secret`)).mode! & 0o777,
      0o600,
    );
    const loaded = await new Deno.Command(pythonWithZmq(), {
      args: [
        "-c",
        `import sys, zmq, zmq.auth
public, secret = zmq.auth.load_certificate(sys.argv[1] + ".key_secret")
assert zmq.curve_public(secret) == public
print(zmq.auth.load_certificate(sys.argv[1] + ".key")[0].decode())`,
        `${dir}/certs/server`,
      ],
    }).output();
    const decoder = new TextDecoder();
    assert.equal(loaded.code, 0, decoder.decode(loaded.stderr));
    assert.equal(decoder.decode(loaded.stdout).trim(), publicKey);

    // A second run refuses to overwrite; --force replaces both files.
    const again = await keygen(dir, "certs/server");
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr.trim(),
      "keygen: cannot write certs/server.key and certs/server.key_secret: one exists (use --force to replace them)",
    );
    const forced = await keygen(dir, "certs/server", "--force");
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(forced.stdout.trim(), publicKey);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task keygen writes nothing outside the caller's directory", async () => {
  const dir = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    const result = await keygen(dir, `${outside}/server`);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^keygen: requires write access/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.deepEqual([...Deno.readDirSync(outside)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("keygen.ts usage errors exit 2 with the usage and no stack trace", async () => {
  for (const args of [[], ["a", "b"], ["--nope", "a"], ["server.key"]]) {
    await using proc = new Proc(DENO, ["run", `${ROOT}keygen.ts`, ...args]);
    const { code, stdout, stderr } = await proc.finish();
    assert.equal(code, 2, args.join(" "));
    assert.equal(stdout, "");
    assert.match(stderr, /^keygen: .+\n\nUsage: keygen\.ts NAME/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  }
});

Deno.test("the docs' keygen examples write where git ignores the keys", async () => {
  const names: string[] = [];
  for (const page of ["README.md", ...Deno.readDirSync(`${ROOT}docs`)]) {
    const path = typeof page === "string" ? page : `docs/${page.name}`;
    const text = await Deno.readTextFile(`${ROOT}${path}`);
    for (const [, name] of text.matchAll(/deno task keygen (\S+)/g)) {
      if (name !== "NAME") names.push(name);
    }
  }
  assert.ok(names.length > 0, "the docs have keygen examples");
  for (const name of names) {
    for (const file of [`${name}.key`, `${name}.key_secret`]) {
      const { code } = await new Deno.Command("git", {
        args: ["check-ignore", "-q", "--no-index", file],
        cwd: ROOT,
      }).output();
      assert.equal(code, 0, `${file} would be committed`);
    }
  }
});
