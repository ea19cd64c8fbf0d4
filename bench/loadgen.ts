/**
 * Runs bench/loadgen, the closed-loop generator in C (bench/loadgen.c, built
 * by tools/setup into bench/out/loadgen): N connections, each keeping one
 * request in flight, a warm-up, then a measured window; one JSON line out.
 *
 * @module
 */

import { replyFor } from "../lib/protocol.ts";
import { ROOT } from "../tests/_process.ts";

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
  /**
   * The first wave from connections that had been idle: when the last had
   * its first reply, the most replies any connection had had (1 when the
   * server took them in turn).
   */
  first_round_max?: number;
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
