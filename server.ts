#!/usr/bin/env -S deno run --allow-net --v8-flags=--max-semi-space-size=1,--heap-growing-percent=20
/**
 * The multiply server: binds a REP socket and answers each request with the
 * number times the multiplier, exactly as the tutorial's `multiply_server.py`.
 *
 *     deno run --allow-net server.ts [multiplier] [port] [host] [options]
 *
 * `deno task server` gives V8 a 1 MiB young generation and 20% heap growth
 * (`--max-semi-space-size=1,--heap-growing-percent=20`): V8's heap otherwise
 * grows during a burst of connections and stays resident (5,000 idle
 * connections: 94 MiB of RSS with them, 114 without). `--optimize-for-size`
 * holds memory as low but slows the code itself, and the slower turns show as
 * tails at hundreds of connections (docs/performance.md).
 *
 * @module
 */

import {
  answer,
  DEFAULT_HOST,
  DEFAULT_MULTIPLIER,
  DEFAULT_PORT,
  endpointFor,
  logLine,
  parseMultiplier,
  waitingLine,
} from "./lib/protocol.ts";
import {
  DEFAULT_HEARTBEAT,
  heartbeatOptions,
  parseCommandLine,
  parseEndpointArgument,
  parseHeartbeat,
  parseInteger,
  runMain,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import { LineWriter } from "./lib/line_writer.ts";
import {
  AllowList,
  readPublicKey,
  readSecretCertificate,
} from "./lib/security.ts";
import type { CurveKeyPair } from "./lib/zmtp/curve_keys.ts";
import { encodeZ85Key } from "./lib/zmtp/z85.ts";
import { Notices } from "./lib/notices.ts";
import { StopSignals } from "./lib/stop_signals.ts";
import { isLoopback, parseEndpoint, Reply } from "./lib/zmtp/mod.ts";

const USAGE = `Usage: server.ts [multiplier] [port] [host] [options]

Answers each request with the number times the multiplier, as the tutorial's
multiply_server.py does.

Arguments:
  multiplier              a whole number or a decimal (default ${DEFAULT_MULTIPLIER})
  port                    the port to listen on (default ${DEFAULT_PORT}); 0 picks a
                          free one
  host                    the address to listen on (default ${DEFAULT_HOST})

Options:
  --bind ENDPOINT         also listen on ENDPOINT (tcp://host:port); may repeat
  --connect ENDPOINT      take requests from a broker's backend at ENDPOINT
                          (a ROUTER/DEALER queue); may repeat
  --max-connections N     at N open connections, close the peer silent longest
                          (idle, or not pingable) for a new one
  --max-message-size N    drop a peer that sends a message over N octets
                          (default 1048576)
  --handshake-timeout MS  drop a peer that has not completed its greeting and
                          handshake after MS milliseconds (default 10000)
  --heartbeat MS          PING a peer silent for MS milliseconds, and drop it
                          if nothing comes MS after that (default ${DEFAULT_HEARTBEAT};
                          0 turns heartbeats off)
  --curve-key FILE        encrypt with CURVE on every endpoint bound, with
                          the server's certificate FILE (NAME.key_secret)
  --curve-allow DIR       admit only clients whose public key is in one of
                          DIR's .key files (read again on SIGHUP)
  --curve-server-key KEY  connect to a broker's CURVE backend (KEY: its public
                          key in Z85, or the path of its NAME.key)
  -q, --quiet             do not log each request
  -h, --help              show this help and exit
  -V, --version           show the version and exit`;

const OPTIONS = {
  bind: { type: "string", multiple: true },
  connect: { type: "string", multiple: true },
  "max-connections": { type: "string" },
  "max-message-size": { type: "string" },
  heartbeat: { type: "string" },
  "handshake-timeout": { type: "string" },
  "curve-key": { type: "string" },
  "curve-allow": { type: "string" },
  "curve-server-key": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** What to bind and connect, with the line the tutorial prints for each. */
interface Plan {
  multiplier: number;
  binds: { endpoint: string; host: string; port: number }[];
  connects: string[];
  quiet: boolean;
  maxConnections?: number;
  maxMessageSize?: number;
  heartbeat: number;
  handshakeTimeout?: number;
  curveKey?: string;
  curveAllow?: string;
  curveServerKey?: string;
}

function plan(args: string[]): Plan | "help" | "version" {
  const cli = parseCommandLine(args, OPTIONS, 3);
  if (cli.flag("help")) return "help";
  if (cli.flag("version")) return "version";
  const [multiplierText, portText, hostText] = cli.positionals;
  const multiplier = multiplierText === undefined
    ? DEFAULT_MULTIPLIER
    : parseMultiplier(multiplierText);
  if (multiplier === undefined) {
    throw new UsageError(
      `multiplier must be a finite number, not '${multiplierText}'`,
    );
  }
  const binds = cli.strings("bind").map(checkedEndpoint);
  const connects = cli.strings("connect");
  connects.forEach(checkedEndpoint);
  const usesTutorialEndpoint = portText !== undefined ||
    (binds.length === 0 && connects.length === 0);
  if (usesTutorialEndpoint) {
    const port = portText === undefined
      ? DEFAULT_PORT
      : parseInteger(portText, "port", 0, 65535);
    const host = hostText ?? DEFAULT_HOST;
    const endpoint = endpointFor(host, port);
    checkedEndpoint(endpoint);
    binds.unshift({ endpoint, host, port });
  }
  const limit = (name: string) => {
    const text = cli.string(name);
    return text === undefined
      ? undefined
      : parseInteger(text, `--${name}`, 1, Number.MAX_SAFE_INTEGER);
  };
  return {
    multiplier,
    binds,
    connects,
    quiet: cli.flag("quiet"),
    maxConnections: limit("max-connections"),
    maxMessageSize: limit("max-message-size"),
    heartbeat: parseHeartbeat(cli.string("heartbeat")),
    handshakeTimeout: limit("handshake-timeout"),
    ...curvePlan(
      cli.string("curve-key"),
      cli.string("curve-allow"),
      cli.string("curve-server-key"),
      binds.length,
      connects.length,
    ),
  };
}

// The CURVE options, checked against each other and the endpoints.
function curvePlan(
  curveKey: string | undefined,
  curveAllow: string | undefined,
  curveServerKey: string | undefined,
  binds: number,
  connects: number,
): Pick<Plan, "curveKey" | "curveAllow" | "curveServerKey"> {
  if (curveAllow !== undefined && curveKey === undefined) {
    throw new UsageError(
      "--curve-allow needs --curve-key: only a CURVE server can check its clients' keys",
    );
  }
  if (curveServerKey !== undefined && connects === 0) {
    throw new UsageError(
      "--curve-server-key is the key of a broker given with --connect, and there is none",
    );
  }
  if (curveKey !== undefined && binds === 0 && curveServerKey === undefined) {
    throw new UsageError(
      "--curve-key: nothing is bound, and --connect needs --curve-server-key for CURVE",
    );
  }
  return { curveKey, curveAllow, curveServerKey };
}

function checkedEndpoint(endpoint: string) {
  return { endpoint, ...parseEndpointArgument(endpoint) };
}

/** The CURVE settings, read from their files. */
interface Security {
  keyPair?: CurveKeyPair;
  allow?: AllowList;
  serverKey?: Uint8Array;
}

async function loadSecurity(settings: Plan): Promise<Security> {
  return {
    keyPair: settings.curveKey === undefined
      ? undefined
      : await readSecretCertificate(settings.curveKey, "--curve-key"),
    allow: settings.curveAllow === undefined
      ? undefined
      : await AllowList.load(settings.curveAllow),
    serverKey: settings.curveServerKey === undefined
      ? undefined
      : await readPublicKey(settings.curveServerKey, "--curve-server-key"),
  };
}

async function main(): Promise<number> {
  const settings = plan(Deno.args);
  if (settings === "help" || settings === "version") {
    console.log(settings === "help" ? USAGE : `multiply server ${VERSION}`);
    return 0;
  }
  const { multiplier, quiet } = settings;
  const security = await loadSecurity(settings);
  // Nothing the server prints may stall it: both streams are written
  // asynchronously, and log lines leave in batches of up to 50 ms (each
  // asynchronous write costs a hop through Deno's blocking pool; a write per
  // request would cost more than the request itself). A stdout nobody reads
  // costs log lines, said once, never replies.
  const err = new LineWriter(Deno.stderr);
  const out = new LineWriter(Deno.stdout, {
    interval: 50,
    onFirstDrop: () =>
      err.line(
        "server: stdout is not being read: dropping log lines until it is (said once)",
      ),
  });
  const { keyPair, allow, serverKey } = security;
  // With nothing bound, a server refused by every broker has nothing left
  // to do: it says so and stops.
  const refusedBy = new Set<string>();
  let stop = () => {};
  const notices = new Notices({
    err,
    allowDirectory: allow?.directory,
    brokers: settings.connects,
    brokerCurve: serverKey !== undefined,
    onBrokerStopped: (endpoint) => {
      refusedBy.add(endpoint);
      if (
        settings.binds.length === 0 &&
        refusedBy.size === settings.connects.length
      ) {
        status = 1;
        stop();
      }
    },
  });
  let status = 0;
  const common = {
    maxConnections: settings.maxConnections,
    maxMessageSize: settings.maxMessageSize,
    ...heartbeatOptions(settings.heartbeat),
    handshakeInterval: settings.handshakeTimeout,
    linger: 2000,
    onEvent: notices.onEvent,
  };
  // Endpoints bound serve clients: as a CURVE server with --curve-key.
  // Brokers connected to are served as a CURVE client with
  // --curve-server-key, presenting the same certificate. A socket has one
  // mechanism, so the two get a socket each when they differ.
  const bindSocket = new Reply(
    keyPair === undefined ? common : {
      ...common,
      curveServer: true,
      curvePublicKey: keyPair.publicKey,
      curveSecretKey: keyPair.secretKey,
      curveAuthorize: allow?.admits,
    },
  );
  const connectSocket = serverKey === undefined && keyPair === undefined
    ? bindSocket
    : new Reply(
      serverKey === undefined ? common : {
        ...common,
        curveServerKey: serverKey,
        curvePublicKey: keyPair?.publicKey,
        curveSecretKey: keyPair?.secretKey,
      },
    );
  const sockets = [...new Set([bindSocket, connectSocket])];
  const closeAll = () => Promise.all(sockets.map((socket) => socket.close()));
  try {
    for (const { endpoint, host } of settings.binds) {
      const bound = await bindSocket.bind(endpoint);
      const { port, host: boundHost } = parseEndpoint(bound);
      out.line(waitingLine(port, host));
      if (!isLoopback(boundHost)) {
        err.line(
          `server: ${bound} is reachable from the network; ${
            keyPair === undefined
              ? "ZMTP's NULL mechanism encrypts nothing and authenticates no one (see --curve-key)"
              : `CURVE encrypts every request, and admits ${
                allow === undefined
                  ? "any client that knows the server's public key"
                  : `only the ${allow.size} client keys in ${allow.directory}`
              }`
          }`,
        );
      }
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  if (keyPair !== undefined) {
    err.line(`server: CURVE public key ${encodeZ85Key(keyPair.publicKey)}`);
  }
  for (const endpoint of settings.connects) {
    connectSocket.connect(endpoint);
    out.line(`Taking requests from '${endpoint}'.`);
  }
  // Stop accepting, answer what has been received, close, exit 0. A second
  // signal, not the echo of the first keypress (lib/stop_signals.ts), means
  // the user will not wait: exit at once.
  stop = () => void closeAll();
  const signals = new StopSignals();
  const onSignal = () => {
    const action = signals.signal(performance.now());
    if (action === "graceful") {
      // The log lines still batched go first (for at most 100 ms: stdout may
      // be stuck), so that where both streams share a file, every request
      // answered before the signal is logged above this line.
      void out.flush(100).finally(() => {
        err.line(
          "server: stopping: answering the requests received, then exiting (press Ctrl-C again to stop at once)",
        );
        stop();
      });
    } else if (action === "at once") {
      void Deno.stderr.write(
        new TextEncoder().encode(
          "server: stopping at once, without waiting for replies\n",
        ),
      ).catch(() => {});
      setTimeout(() => Deno.exit(1), 50);
    }
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  if (allow !== undefined) {
    Deno.addSignalListener("SIGHUP", () => {
      allow.reload().then(
        () =>
          err.line(
            `server: re-read ${allow.directory}: ${allow.size} client keys admitted`,
          ),
        (error) =>
          err.line(
            `server: ${error.message}; the previous ${allow.size} keys stay admitted`,
          ),
      );
    });
  }

  const empty = new Uint8Array(0);
  // The request is decoded at once and never kept: no copy needed.
  const handler = (parts: Uint8Array[]) => {
    const { request, reply } = answer(parts[0] ?? empty, multiplier);
    if (!quiet) out.line(logLine(request, reply));
    return reply; // text: encoded straight into the write buffer
  };
  await Promise.all(
    sockets.map((socket) => socket.serve(handler, { copy: false })),
  );
  await closeAll();
  // A stdout or stderr nobody reads must not keep a stopped server alive.
  await out.flush(500);
  if (out.dropped > 0) {
    err.line(
      `server: ${out.dropped} log lines were dropped while stdout was not read`,
    );
  }
  await err.flush(500);
  return status;
}

if (import.meta.main) await runMain("server", USAGE, main);
