/**
 * Closed-loop load from bench/loadgen (C, built by tools/setup from
 * bench/loadgen.c): N connections, each keeping one request in flight, a
 * warm-up, then a measured window. The server's CPU time is read from /proc
 * at the start and the end of that window.
 *
 * @module
 */

import { replyFor } from "../lib/protocol.ts";
import { ROOT } from "../tests/_process.ts";
import type { LoadSample } from "./saved_run.ts";
import { cpuMicros, type Running } from "./servers.ts";

/** Where tools/setup builds the generator. */
export const LOADGEN = `${ROOT}bench/out/loadgen`;

/** The request every connection sends, and the reply a multiply server owes. */
export const REQUEST = "100";
export const EXPECTED = replyFor(REQUEST, 2);

/** What bench/loadgen prints with --json (one line). */
export interface LoadgenResult {
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  latency_us: { p50: number; p99: number; p999: number; max: number };
  per_connection: { min: number; max: number; zero: number };
  fairness: number;
  mismatches: number;
  errors: number;
  cpu_us_per_request: number;
  /** How long the oldest request still unanswered at the end had waited. */
  in_flight_max_us?: number;
  /** Requests written over the whole run, warm-up and drain included. */
  sent?: number;
  /** Replies read over the whole run, warm-up and drain included. */
  replies?: number;
}

/** Options for {@link runLoadgen}. */
export interface LoadgenOptions {
  port: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  mode: "zmtp" | "echo";
  /** Called when the measured window opens and when it closes. */
  onWindow?: (edge: "open" | "close") => void;
}

/** Says what to run when bench/loadgen has not been built. */
export async function checkLoadgen(): Promise<string | undefined> {
  try {
    await Deno.stat(LOADGEN);
    return undefined;
  } catch {
    return "bench: bench/out/loadgen is not built: run tools/setup";
  }
}

/**
 * Runs bench/loadgen once and returns its JSON line.
 *
 * @throws {Error} when it fails, with what it printed on stderr
 */
export async function runLoadgen(
  options: LoadgenOptions,
): Promise<LoadgenResult> {
  const args = [
    "--host",
    "127.0.0.1",
    "--port",
    String(options.port),
    "--connections",
    String(options.connections),
    "--warmup-ms",
    String(options.warmupMs),
    "--duration-ms",
    String(options.durationMs),
    "--mode",
    options.mode,
    "--request",
    REQUEST,
    ...(options.mode === "zmtp" ? ["--expect", EXPECTED] : []),
    "--json",
  ];
  const child = new Deno.Command(LOADGEN, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const { code, stdout, stderr } = await output;
  const text = new TextDecoder().decode(stdout).trim();
  const line = text.split("\n").find((l) => l.startsWith("{"));
  if (line === undefined) {
    throw new Error(
      `bench/loadgen ${args.join(" ")} exited ${code}: ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
  // A run with connection errors exits 1 after its line: the line says so.
  return JSON.parse(line) as LoadgenResult;
}

/**
 * How many connections to a local port are established, from
 * /proc/net/tcp (IPv4 loopback, which the bench uses); awk reads it, since
 * Deno asks for --allow-all to read /proc.
 */
async function established(port: number): Promise<number> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const { stdout } = await new Deno.Command("awk", {
    args: [
      `$2 ~ /:${hex}$/ && $4 == "01" { n++ } END { print n + 0 }`,
      "/proc/net/tcp",
    ],
  }).output();
  return Number(new TextDecoder().decode(stdout));
}

/**
 * One closed-loop measurement of a running server. The server's CPU per
 * request is its CPU rate over its request rate: the CPU time it used
 * between two reads of /proc, over the time between them, divided by the
 * generator's requests per second. The generator connects every connection
 * first and then starts its warm-up clock, without a word; so the bench
 * watches the connections to the server's port, and once all are
 * established takes the reads at the warm-up's length after that and at
 * four fifths of the window after that, inside the generator's window. In
 * a steady state the rate does not depend on exactly where the reads fall.
 */
export async function measureClosedLoop(
  server: Running,
  connections: number,
  round: number,
  warmupMs: number,
  durationMs: number,
): Promise<LoadSample> {
  const pid = server.child.pid;
  const read = async () => ({
    at: performance.now(),
    cpu: await cpuMicros(pid),
  });
  const run = runLoadgen({
    port: server.port,
    connections,
    warmupMs,
    durationMs,
    mode: server.spec.mode === "echo" ? "echo" : "zmtp",
  });
  let ended = false;
  run.finally(() => ended = true).catch(() => {});
  const sleep = (ms: number) =>
    new Promise((resolve) => setTimeout(resolve, ms));
  while (!ended && await established(server.port) < connections) {
    await sleep(10);
  }
  let reads: { at: number; cpu: number }[] = [];
  if (!ended) {
    await sleep(warmupMs);
    const first = await read();
    await sleep(Math.floor(durationMs * 0.8));
    reads = ended ? [] : [first, await read()];
  }
  const result = await run;
  if (reads.length < 2) {
    throw new Error(
      `${server.spec.name} at ${connections} connections: bench/loadgen ended before the server's CPU was read`,
    );
  }
  const [a, b] = reads;
  const cpuPerSecond = (b.cpu - a.cpu) / ((b.at - a.at) / 1000);
  return {
    server: server.spec.name,
    connections,
    round,
    generator: "loadgen",
    seconds: result.seconds,
    requests: result.requests,
    requestsPerSecond: result.rps,
    latencyUs: {
      ...result.latency_us,
      // A request still unanswered when the window closed had waited this
      // long at least: the maximum counts it.
      max: Math.max(result.latency_us.max, result.in_flight_max_us ?? 0),
    },
    perConnection: result.per_connection,
    mismatches: result.mismatches,
    errors: result.errors,
    serverCpuUsPerRequest: cpuPerSecond / result.rps,
    generatorCpuUsPerRequest: result.cpu_us_per_request,
  };
}
