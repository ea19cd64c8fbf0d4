/**
 * Load from bench/load.ts (our own engine on Deno) where bench/loadgen does
 * not fit: requests over CURVE, new CURVE connections, and idle connections
 * held while the server's memory is read. The generator warms up, says
 * "ready", and runs on the word, so the server's CPU time is read exactly
 * around the measured time.
 *
 * @module
 */

import { ROOT } from "../tests/_process.ts";
import type { HandshakeSample, IdleSample, LoadSample } from "./saved_run.ts";
import {
  cpuMicros,
  type CurveKeys,
  memoryKiB,
  type Running,
  withOpenFiles,
} from "./servers.ts";

/** A bench/load.ts process, after its warm-up, waiting for the word to go. */
class Generator {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;

  constructor(
    port: number,
    connections: number,
    durationMs: number,
    mode: string,
    warmupMs: number,
    options: { curve?: CurveKeys; openFiles?: number } = {},
  ) {
    const [command, args] = withOpenFiles(options.openFiles ?? 1024, [
      Deno.execPath(),
      [
        "run",
        "--allow-net",
        `${ROOT}bench/load.ts`,
        String(port),
        String(connections),
        String(durationMs),
        mode,
        String(warmupMs),
        ...(options.curve ? [options.curve.publicKey] : []),
      ],
    ]);
    this.child = new Deno.Command(command, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(lineSplitter())[Symbol.asyncIterator]();
  }

  async line(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("bench/load.ts ended early");
    return value;
  }

  async ready(): Promise<void> {
    const line = await this.line();
    if (line !== "ready") throw new Error(`bench/load.ts: ${line}`);
  }

  async go(): Promise<void> {
    const writer = this.child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    await writer.close();
  }

  async finish(): Promise<void> {
    while (!(await this.#lines.next()).done) { /* drain */ }
    await this.child.status;
  }
}

function lineSplitter(): TransformStream<string, string> {
  let held = "";
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (held + chunk).split("\n");
      held = parts.pop()!;
      for (const part of parts) controller.enqueue(part);
    },
    flush(controller) {
      if (held) controller.enqueue(held);
    },
  });
}

/** What bench/load.ts prints after its measured time. */
interface LoadResult {
  requests: number;
  errors: number;
  elapsedMs: number;
  latencies: number[];
  perConnection: { min: number; max: number; zero: number };
}

/** Runs a generator through its measured time, reading the server's CPU around it. */
async function measured(
  server: Running,
  generator: Generator,
): Promise<{ result: LoadResult; cpuUs: number }> {
  await generator.ready();
  const cpu0 = await cpuMicros(server.child.pid);
  await generator.go();
  const result = JSON.parse(await generator.line()) as LoadResult;
  const cpu1 = await cpuMicros(server.child.pid);
  await generator.finish();
  return { result, cpuUs: cpu1 - cpu0 };
}

/** Requests over CURVE from `connections` closed loops, for a time. */
export async function measureCurve(
  server: Running,
  connections: number,
  round: number,
  warmupMs: number,
  durationMs: number,
  curve: CurveKeys,
): Promise<LoadSample> {
  // Two processes, as one Deno process would be the bottleneck.
  const processes = connections >= 8 ? 2 : 1;
  const runs = await Promise.all(
    Array.from({ length: processes }, async (_, i) => {
      const generator = new Generator(
        server.port,
        Math.floor(connections / processes) +
          (i < connections % processes ? 1 : 0),
        durationMs,
        "curve",
        warmupMs,
        { curve },
      );
      await generator.ready();
      return generator;
    }),
  );
  const cpu0 = await cpuMicros(server.child.pid);
  await Promise.all(runs.map((g) => g.go()));
  const results = await Promise.all(
    runs.map(async (g) => JSON.parse(await g.line()) as LoadResult),
  );
  const cpu1 = await cpuMicros(server.child.pid);
  await Promise.all(runs.map((g) => g.finish()));
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const seconds = Math.max(...results.map((r) => r.elapsedMs)) / 1000;
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[
      Math.min(latencies.length - 1, Math.ceil(latencies.length * p) - 1)
    ];
  return {
    server: server.spec.name,
    connections,
    round,
    generator: "load.ts",
    seconds,
    requests,
    requestsPerSecond: requests / seconds,
    latencyUs: {
      p50: at(0.5),
      p99: at(0.99),
      p999: at(0.999),
      max: latencies[latencies.length - 1],
    },
    perConnection: {
      min: Math.min(...results.map((r) => r.perConnection.min)),
      max: Math.max(...results.map((r) => r.perConnection.max)),
      zero: results.reduce((n, r) => n + r.perConnection.zero, 0),
    },
    mismatches: results.reduce((n, r) => n + r.errors, 0),
    errors: 0,
    serverCpuUsPerRequest: (cpu1 - cpu0) / requests,
  };
}

/** New CURVE connections: eight loops connecting, handshaking and closing. */
export async function measureHandshakes(
  server: Running,
  round: number,
  warmupMs: number,
  durationMs: number,
  curve: CurveKeys,
): Promise<HandshakeSample> {
  const generator = new Generator(
    server.port,
    8,
    durationMs,
    "handshakes",
    warmupMs,
    { curve },
  );
  const { result, cpuUs } = await measured(server, generator);
  return {
    server: server.spec.name,
    round,
    handshakes: result.requests,
    handshakesPerSecond: result.requests / result.elapsedMs * 1000,
    cpuUsPerHandshake: cpuUs / result.requests,
  };
}

/**
 * Holds `count` idle connections (answering the server's heartbeats) on a
 * warmed-up server, reads its memory, and checks it answers throughout.
 */
export async function measureIdle(
  server: Running,
  count: number,
  openFiles: number,
): Promise<IdleSample> {
  // Requests first, so that the baseline includes a warmed-up server.
  const warm = new Generator(server.port, 1, 200, "zmtp", 200);
  await warm.ready();
  await warm.go();
  await warm.line();
  await warm.finish();
  const before = await memoryKiB(server.child.pid);
  const holder = new Generator(server.port, count, 0, "idle", 0, {
    openFiles,
  });
  const ready = JSON.parse(await holder.line());
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const held = await memoryKiB(server.child.pid);
  await holder.go();
  const after = JSON.parse(await holder.line());
  await holder.finish();
  return {
    connections: count,
    baselineRssMiB: before.rss / 1024,
    rssMiB: held.rss / 1024,
    perConnectionKiB: (held.rss - before.rss) / count,
    answeredWhileHeld: ready.errors === 0 && ready.requests > 0 &&
      after.errors === 0 && after.requests > 0,
  };
}
