/**
 * One closed-loop measurement: bench/loadgen's figures for a server at a
 * load, with the server's CPU time per request from /proc beside them.
 *
 * @module
 */

import { runLoadgen } from "./loadgen.ts";
import type { LoadSample } from "./saved_run.ts";
import { cpuMicros, type Running } from "./servers.ts";

/**
 * One closed-loop measurement of a running server. Latency, throughput and
 * fairness are the generator's, over its measured window. The server's CPU
 * per request is its CPU time (read from /proc before the generator starts
 * and after it ends) over every reply the generator read in that time,
 * connecting, warm-up and drain included: exact accounting that no timer
 * on a busy machine can shift, where connecting adds a few percent at the
 * largest loads.
 *
 * @throws {Error} when bench/loadgen does not report its totals
 */
export async function measureClosedLoop(
  server: Running,
  connections: number,
  round: number,
  warmupMs: number,
  durationMs: number,
): Promise<LoadSample> {
  const pid = server.child.pid;
  const cpu0 = await cpuMicros(pid);
  const result = await runLoadgen({
    port: server.port,
    connections,
    warmupMs,
    durationMs,
    mode: server.spec.mode === "echo" ? "echo" : "zmtp",
  });
  const cpu1 = await cpuMicros(pid);
  if (result.replies === undefined) {
    throw new Error(
      "bench/loadgen does not report its totals (sent, replies): build it from a bench/loadgen.c that does (tools/setup)",
    );
  }
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
    serverCpuUsPerRequest: (cpu1 - cpu0) / result.replies,
    generatorCpuUsPerRequest: result.cpu_us_per_request,
  };
}
