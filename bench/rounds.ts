/**
 * The rounds: every server at every load, servers interleaved and in a
 * different order each round (so none always runs first), then new CURVE
 * connections. Raw samples out, nothing summarised.
 *
 * @module
 */

import { measureClosedLoop } from "./closed_loop.ts";
import { measureCurve, measureHandshakes } from "./deno_load.ts";
import type { RunOptions } from "./options.ts";
import type { HandshakeSample, LoadSample } from "./saved_run.ts";
import { type CurveKeys, loadsFor, type Running } from "./servers.ts";

/** The handshake loops' warm-up and measured time, in ms. */
export function handshakeTimes(options: RunOptions): [number, number] {
  return options.quick ? [100, 300] : [500, 2000];
}

/** One line per step on a terminal, redrawn in place; nothing in a log. */
export class Progress {
  readonly #terminal = Deno.stdout.isTerminal() && Deno.stderr.isTerminal();
  readonly #started = performance.now();
  readonly #encoder = new TextEncoder();

  /** Seconds since the run started. */
  get seconds(): number {
    return (performance.now() - this.#started) / 1000;
  }

  show(text: string): void {
    if (!this.#terminal) return;
    Deno.stderr.writeSync(
      this.#encoder.encode(`\r\x1b[K${this.seconds.toFixed(0)}s ${text}`),
    );
  }

  clear(): void {
    if (this.#terminal) Deno.stderr.writeSync(this.#encoder.encode("\r\x1b[K"));
  }
}

/** How many measurements a run takes, and about how long, in seconds. */
export function plan(options: RunOptions): { steps: number; seconds: number } {
  const perLoad = options.servers.reduce(
    (n, s) => n + loadsFor(s, options.loads).length,
    0,
  );
  const curve = options.servers.filter((s) => s.mode === "curve").length;
  const [hw, hd] = handshakeTimes(options);
  const steps = options.rounds * (perLoad + curve);
  // Each measurement: warm-up, window, and about half a second to start,
  // connect and drain; then about ten seconds to start the servers and
  // hold the idle connections.
  const seconds = 10 + options.rounds *
      (perLoad * ((options.warmupMs + options.durationMs) / 1000 + 0.5) +
        curve * ((hw + hd) / 1000 + 1));
  return { steps, seconds: Math.round(seconds) };
}

/** Every measurement of a run on servers already started. */
export async function runRounds(
  servers: readonly Running[],
  options: RunOptions,
  curve: CurveKeys | undefined,
  progress: Progress,
): Promise<{ samples: LoadSample[]; handshakes: HandshakeSample[] }> {
  const samples: LoadSample[] = [];
  const handshakes: HandshakeSample[] = [];
  const { steps } = plan(options);
  const { rounds, warmupMs, durationMs } = options;
  let step = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const connections of options.loads) {
      const order = servers.map((_, i) =>
        servers[(i + round) % servers.length]
      );
      for (const server of order) {
        if (!loadsFor(server.spec, [connections]).length) continue;
        progress.show(
          `[${++step}/${steps}] round ${round}/${rounds}: ${server.spec.name} at ${connections} connection${
            connections === 1 ? "" : "s"
          }`,
        );
        samples.push(
          server.spec.mode === "curve"
            ? await measureCurve(
              server,
              connections,
              round,
              warmupMs,
              durationMs,
              curve!,
            )
            : await measureClosedLoop(
              server,
              connections,
              round,
              warmupMs,
              durationMs,
            ),
        );
      }
    }
    for (const server of servers) {
      if (server.spec.mode !== "curve") continue;
      progress.show(
        `[${++step}/${steps}] round ${round}/${rounds}: ${server.spec.name}, new CURVE connections`,
      );
      const [hw, hd] = handshakeTimes(options);
      handshakes.push(await measureHandshakes(server, round, hw, hd, curve!));
    }
  }
  return { samples, handshakes };
}
