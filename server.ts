#!/usr/bin/env -S deno run --allow-net --v8-flags=--optimize-for-size
/**
 * The multiply server: binds a REP socket and answers each request with the
 * number times the multiplier, exactly as the tutorial's `multiply_server.py`.
 *
 *     deno run --allow-net server.ts [multiplier] [port] [host] [options]
 *
 * `deno task server` adds `--v8-flags=--optimize-for-size`: V8's heap
 * otherwise grows during a burst of connections and stays resident. With
 * 5,000 clients connected that is about 85 MB instead of 130, for about 5%
 * more CPU per request (see bench/).
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
  parseCommandLine,
  parseEndpointArgument,
  parseInteger,
  printError,
  runMain,
  UsageError,
  VERSION,
} from "./lib/cli.ts";
import { LineWriter } from "./lib/line_writer.ts";
import {
  isLoopback,
  MessageSizeError,
  parseEndpoint,
  Reply,
  type SocketEvent,
} from "./lib/zmtp/mod.ts";

const USAGE = `Usage: server.ts [multiplier] [port] [host] [options]

Answers each request with the number times the multiplier, as the tutorial's
multiply_server.py does. Defaults: multiplier ${DEFAULT_MULTIPLIER}, port ${DEFAULT_PORT}, host ${DEFAULT_HOST}.
The multiplier may be a whole number or a decimal; port 0 picks a free port.

Options:
  --bind ENDPOINT         also listen on ENDPOINT (tcp://host:port); may repeat
  --connect ENDPOINT      take requests from a broker's backend at ENDPOINT
                          (a ROUTER/DEALER queue); may repeat
  --max-connections N     refuse connections beyond N open at once
  --max-message-size N    drop a peer that sends a message over N octets
                          (default 1048576)
  -q, --quiet             do not log each request
  -h, --help              show this help and exit
  -V, --version           show the version and exit`;

const OPTIONS = {
  bind: { type: "string", multiple: true },
  connect: { type: "string", multiple: true },
  "max-connections": { type: "string" },
  "max-message-size": { type: "string" },
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
  };
}

function checkedEndpoint(endpoint: string) {
  return { endpoint, ...parseEndpointArgument(endpoint) };
}

// Each kind of trouble is reported once, so a flood cannot flood stderr.
function noticeOnce(maxConnections?: number): (event: SocketEvent) => void {
  const said = new Set<string>();
  const once = (kind: string, text: string) => {
    if (said.has(kind)) return;
    said.add(kind);
    printError(`server: ${text} (said once)`);
  };
  return (event) => {
    if (event.type === "refused") {
      const open = maxConnections === 1
        ? "1 connection is"
        : `${maxConnections} connections are`;
      once(
        "refused",
        `refusing connections: ${open} open already (--max-connections)`,
      );
    } else if (
      event.type === "disconnected" && event.error instanceof MessageSizeError
    ) {
      once(
        "size",
        `dropped a peer that sent a message over ${event.error.limit} octets (--max-message-size)`,
      );
    } else if (event.type === "error") {
      once("error", `a request failed: ${event.error.message}`);
    }
  };
}

async function main(): Promise<number> {
  const settings = plan(Deno.args);
  if (settings === "help" || settings === "version") {
    console.log(settings === "help" ? USAGE : `multiply server ${VERSION}`);
    return 0;
  }
  const { multiplier, quiet } = settings;
  const socket = new Reply({
    maxConnections: settings.maxConnections,
    maxMessageSize: settings.maxMessageSize,
    linger: 2000,
    onEvent: noticeOnce(settings.maxConnections),
  });
  // Log lines leave in batches of up to 5 ms: a write per request would
  // cost more than the request itself.
  const out = new LineWriter(Deno.stdout, { interval: 5 });
  try {
    for (const { endpoint, host } of settings.binds) {
      const bound = await socket.bind(endpoint);
      const { port, host: boundHost } = parseEndpoint(bound);
      out.line(waitingLine(port, host));
      if (!isLoopback(boundHost)) {
        printError(
          `server: ${bound} is reachable from the network, and ZMTP's NULL mechanism authenticates no one`,
        );
      }
    }
  } catch (error) {
    await socket.close();
    throw error;
  }
  for (const endpoint of settings.connects) {
    socket.connect(endpoint);
    out.line(`Taking requests from '${endpoint}'.`);
  }
  // Stop accepting, answer what has been received, close, exit 0. A second
  // signal means the user will not wait: exit at once.
  const stop = () => {
    if (socket.closed) {
      printError("server: stopping at once, without waiting for replies");
      Deno.exit(1);
    }
    void socket.close();
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);

  const empty = new Uint8Array(0);
  await socket.serve((parts) => {
    const { request, reply } = answer(parts[0] ?? empty, multiplier);
    if (!quiet) out.line(logLine(request, reply));
    return reply; // text: encoded straight into the write buffer
  });
  await socket.close();
  await out.flush();
  return 0;
}

if (import.meta.main) await runMain("server", USAGE, main);
