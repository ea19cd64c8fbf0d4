#!/usr/bin/env -S deno run --allow-net
/**
 * The multiply client: sends each line it reads to a multiply server and
 * prints the reply, as the tutorial's `multiply_client.py` does, with a
 * timeout and retries so that it never hangs (the ZeroMQ guide's "Lazy
 * Pirate" pattern).
 *
 *     deno run --allow-net client.ts [port] [host] [options]
 *
 * @module
 */

import {
  connectingLine,
  DEFAULT_HOST,
  DEFAULT_PORT,
  endpointFor,
  PROMPT,
} from "./lib/protocol.ts";
import {
  DEFAULT_HEARTBEAT,
  heartbeatOptions,
  parseCommandLine,
  parseEndpointArgument,
  parseHeartbeat,
  parseInteger,
  printError,
  runMain,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import { LineWriter } from "./lib/line_writer.ts";
import { readLines } from "./lib/lines.ts";
import { LazyPirate } from "./lib/lazy_pirate.ts";
import { readPublicKey, readSecretCertificate } from "./lib/security.ts";
import { parseEndpoint, type RequestOptions } from "./lib/zmtp/mod.ts";
import { encodeZ85Key } from "./lib/zmtp/z85.ts";

const DEFAULT_TIMEOUT = 3000;
const DEFAULT_TRIES = 3;

const USAGE = `Usage: client.ts [port] [host] [options]

Sends each line it reads to a multiply server and prints the reply, as the
tutorial's multiply_client.py does. On a terminal it prompts for numbers;
otherwise it prints only the replies, one per line, so that it fits in a
pipeline.

Arguments:
  port                    the server's port (default ${DEFAULT_PORT})
  host                    the server's host name or address (default ${DEFAULT_HOST})

Options:
  --connect ENDPOINT      use the server at ENDPOINT (tcp://host:port); may
                          repeat: requests go round-robin to the servers up
  --timeout MS            wait MS milliseconds for each reply (default ${DEFAULT_TIMEOUT})
  --retries N             try each request N times before giving up (default ${DEFAULT_TRIES})
  --curve-server-key KEY  encrypt with CURVE, trusting the server whose public
                          key is KEY (Z85, or the path of its NAME.key)
  --curve-key FILE        present this certificate (NAME.key_secret) to a
                          CURVE server; without it, a fresh key pair per run
  --heartbeat MS          PING a server silent for MS milliseconds, and drop
                          the connection if nothing comes MS after that
                          (default ${DEFAULT_HEARTBEAT}; 0 turns heartbeats off)
  -v, --verbose           say on stderr which server answered, and why each
                          try failed
  -h, --help              show this help and exit
  -V, --version           show the version and exit`;

const OPTIONS = {
  connect: { type: "string", multiple: true },
  timeout: { type: "string" },
  retries: { type: "string" },
  heartbeat: { type: "string" },
  "curve-server-key": { type: "string" },
  "curve-key": { type: "string" },
  verbose: { type: "boolean", short: "v" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

interface Settings {
  endpoints: string[];
  timeout: number;
  tries: number;
  heartbeat: number;
  curveServerKey?: string;
  curveKey?: string;
  verbose: boolean;
}

function settingsFrom(args: string[]): Settings | "help" | "version" {
  const cli = parseCommandLine(args, OPTIONS, 2);
  if (cli.flag("help")) return "help";
  if (cli.flag("version")) return "version";
  const [portText, hostText] = cli.positionals;
  const endpoints = cli.strings("connect");
  if (portText !== undefined || endpoints.length === 0) {
    const port = portText === undefined
      ? DEFAULT_PORT
      : parseInteger(portText, "port", 1, 65535);
    endpoints.unshift(endpointFor(hostText ?? DEFAULT_HOST, port));
  }
  for (const endpoint of endpoints) {
    if (parseEndpointArgument(endpoint).port === 0) {
      throw new UsageError(`Cannot connect to port 0 in "${endpoint}"`);
    }
  }
  const timeout = cli.string("timeout");
  const tries = cli.string("retries");
  return {
    endpoints,
    timeout: timeout === undefined
      ? DEFAULT_TIMEOUT
      : parseInteger(timeout, "--timeout", 1, 2 ** 31 - 1),
    tries: tries === undefined
      ? DEFAULT_TRIES
      : parseInteger(tries, "--retries", 1, 1_000_000),
    heartbeat: parseHeartbeat(cli.string("heartbeat")),
    curveServerKey: cli.string("curve-server-key"),
    curveKey: curveKey(cli.string("curve-key"), cli.string("curve-server-key")),
    verbose: cli.flag("verbose"),
  };
}

function curveKey(
  file: string | undefined,
  serverKey: string | undefined,
): string | undefined {
  if (file !== undefined && serverKey === undefined) {
    throw new UsageError(
      "--curve-key needs --curve-server-key: CURVE starts from the server's public key",
    );
  }
  return file;
}

// The socket options for CURVE, read from the files named.
async function curveOptions(settings: Settings): Promise<RequestOptions> {
  if (settings.curveServerKey === undefined) return {};
  const serverKey = await readPublicKey(
    settings.curveServerKey,
    "--curve-server-key",
  );
  const own = settings.curveKey === undefined
    ? undefined
    : await readSecretCertificate(settings.curveKey, "--curve-key");
  return {
    curveServerKey: serverKey,
    curvePublicKey: own?.publicKey,
    curveSecretKey: own?.secretKey,
  };
}

async function main(): Promise<number> {
  const settings = settingsFrom(Deno.args);
  if (settings === "help" || settings === "version") {
    console.log(settings === "help" ? USAGE : `multiply client ${VERSION}`);
    return 0;
  }
  const interactive = Deno.stdin.isTerminal();
  // Replies are never dropped: a pipeline that reads slowly holds the
  // client back (each line is flushed before the next request).
  const out = new LineWriter(Deno.stdout, { limit: Infinity });
  if (interactive) {
    for (const endpoint of settings.endpoints) {
      const { host, port } = parseEndpoint(endpoint);
      out.line(connectingLine(port, host));
    }
    // Ctrl-C: end the line the prompt and ^C are on, so that the shell's
    // prompt starts on a fresh one, and exit as an interrupted program does.
    Deno.addSignalListener("SIGINT", () => {
      out.line("");
      void out.flush().finally(() => Deno.exit(130));
    });
  }
  const curve = await curveOptions(settings);
  const pirate = new LazyPirate({
    endpoints: settings.endpoints,
    timeout: settings.timeout,
    tries: settings.tries,
    socket: { ...heartbeatOptions(settings.heartbeat), ...curve },
    serverKey: curve.curveServerKey instanceof Uint8Array
      ? encodeZ85Key(curve.curveServerKey)
      : undefined,
    onTry: settings.verbose ? (text) => printError(text) : undefined,
  });
  const decoder = new TextDecoder();
  const strict = new TextDecoder("utf-8", { fatal: true });
  const lines = readLines(Deno.stdin.readable);
  let status = 0;
  for (let number = 1;; number++) {
    if (interactive) out.text(PROMPT);
    await out.flush();
    const next = await lines.next();
    if (next.done) {
      if (interactive) out.line(""); // Ctrl-D: end the prompt's line, quietly.
      break;
    }
    if (!isUtf8(strict, next.value)) {
      // The tutorial's client refuses such a line too (Python cannot encode
      // it) and its server would die on it: never send it.
      printError(`line ${number} is not UTF-8 text, so it was not sent`);
      if (interactive) continue;
      status = 1;
      break;
    }
    const outcome = await pirate.ask(next.value);
    if ("reply" in outcome) {
      if (settings.verbose) printError(`reply from ${outcome.from}`);
      out.line(decoder.decode(outcome.reply));
      continue;
    }
    printError(outcome.failure);
    if (!interactive || outcome.fatal) {
      status = 1;
      break;
    }
  }
  await pirate.close();
  await out.flush();
  return status;
}

function isUtf8(strict: TextDecoder, bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

if (import.meta.main) await runMain("client", USAGE, main);
