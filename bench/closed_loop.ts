/**
 * One closed-loop measurement: bench/loadgen's figures for a server at a
 * load, with the server's CPU time per request read from /proc beside it.
 *
 * @module
 */

import { runLoadgen } from "./loadgen.ts";
import type { LoadSample } from "./saved_run.ts";
import { cpuMicros, type Running } from "./servers.ts";

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
