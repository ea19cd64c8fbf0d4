#!/usr/bin/env -S deno run --allow-read=. --allow-write=.
/**
 * Makes a CURVE key pair and writes it as two certificates, the way czmq
 * and pyzmq's `zmq.auth.create_certificates` do: `NAME.key` with the public
 * key, for peers, and `NAME.key_secret` with both keys, mode 0600. Prints the
 * public key in Z85, and on stderr each file's mode.
 *
 *     deno task keygen NAME [--force]
 *     deno run --allow-read=DIR --allow-write=DIR keygen.ts DIR/NAME
 *
 * `deno task` runs in the repository, so the task resolves NAME against the
 * directory it was called from (`INIT_CWD`) and may write only there.
 *
 * @module
 */

import {
  parseCommandLine,
  printError,
  runMain,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import {
  encodeZ85Key,
  generateKeyPair,
  writeCertificate,
} from "./lib/zmtp/curve_keys.ts";

const USAGE = `Usage: keygen.ts NAME [options]

Writes a new CURVE key pair as NAME.key (the public key, to give to peers)
and NAME.key_secret (both keys, mode 0600), in the format of czmq and pyzmq's
zmq.auth, then prints the public key. NAME may include a directory, which is
created if needed.

Options:
  -f, --force     replace existing files
  -h, --help      show this help and exit
  -V, --version   show the version and exit`;

const OPTIONS = {
  force: { type: "boolean", short: "f" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

// Where the user was: deno task runs in the repository and says the
// caller's directory in INIT_CWD (as npm does). Read only when allowed, so
// that a plain `deno run` needs no --allow-env.
function callerDirectory(): string | undefined {
  const allowed = Deno.permissions.querySync({
    name: "env",
    variable: "INIT_CWD",
  }).state === "granted";
  return allowed ? Deno.env.get("INIT_CWD") || undefined : undefined;
}

async function main(): Promise<number> {
  const cli = parseCommandLine(Deno.args, OPTIONS, 1);
  if (cli.flag("help")) {
    console.log(USAGE);
    return 0;
  }
  if (cli.flag("version")) {
    console.log(`multiply keygen ${VERSION}`);
    return 0;
  }
  const [name] = cli.positionals;
  if (name === undefined || name === "") {
    throw new UsageError("NAME is missing");
  }
  if (/\.key(_secret)?$/.test(name)) {
    throw new UsageError(
      `NAME is the name without its extension, not '${name}'`,
    );
  }
  if (name.endsWith("/")) {
    throw new UsageError(`NAME must name a file, not the directory '${name}'`);
  }
  const caller = callerDirectory();
  const base = caller !== undefined && !name.startsWith("/")
    ? `${caller}/${name}`
    : name;
  const keyPair = await generateKeyPair();
  let files;
  try {
    const slash = base.lastIndexOf("/");
    if (slash > 0) await Deno.mkdir(base.slice(0, slash), { recursive: true });
    files = await writeCertificate(base, keyPair, { force: cli.flag("force") });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      const shown = caller !== undefined && base.startsWith(`${caller}/`)
        ? base.slice(caller.length + 1)
        : base;
      throw new Error(
        `Cannot write ${shown}.key and ${shown}.key_secret: one exists (use --force to replace them)`,
      );
    }
    if (error instanceof Deno.errors.NotCapable && caller !== undefined) {
      throw new Error(
        `${error.message}; deno task keygen writes only under the directory it is run from`,
      );
    }
    throw error;
  }
  console.log(encodeZ85Key(keyPair.publicKey));
  // Each file's mode as the system reports it, never as meant.
  const publicMode = await modeOf(files.publicFile);
  const secretMode = await modeOf(files.secretFile);
  printError(
    `keygen: wrote ${name}.key (mode ${publicMode}) and ${name}.key_secret (mode ${secretMode})`,
  );
  return 0;
}

async function modeOf(file: string): Promise<string> {
  const { mode } = await Deno.stat(file);
  return mode === null
    ? "unknown"
    : (mode & 0o7777).toString(8).padStart(4, "0");
}

if (import.meta.main) await runMain("keygen", USAGE, main);
