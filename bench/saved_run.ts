/**
 * What a benchmark run measured, as it is saved (bench/results/latest.json):
 * raw rounds only. Every table, ratio and target is derived from this by
 * bench/analyse.ts, both when the run ends and for `--report`, so a saved
 * run always reads the same.
 *
 * @module
 */

/** The layout of the saved JSON; runs in another layout are refused. */
export const FORMAT = 2;

/** The four latencies a measurement reports, in microseconds. */
export interface Latencies {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

/** One server at one load in one round. */
export interface LoadSample {
  server: string;
  connections: number;
  round: number;
  /** `loadgen` (bench/loadgen.c, closed loop) or `load.ts` (CURVE). */
  generator: "loadgen" | "load.ts";
  /** The measured time, after the warm-up. */
  seconds: number;
  /** Replies received and checked in the measured time. */
  requests: number;
  requestsPerSecond: number;
  latencyUs: Latencies;
  /** Replies per connection in the measured time: least, most, how many had none. */
  perConnection: { min: number; max: number; zero: number };
  /** Replies that were not the expected bytes. */
  mismatches: number;
  /** Connections lost or refused. */
  errors: number;
  /** The server's CPU time (all threads) over the measured time, per reply. */
  serverCpuUsPerRequest: number;
  /** The generator's own CPU time per reply, when it reports it. */
  generatorCpuUsPerRequest?: number;
}

/** New CURVE connections on one server in one round. */
export interface HandshakeSample {
  server: string;
  round: number;
  handshakes: number;
  handshakesPerSecond: number;
  cpuUsPerHandshake: number;
}

/** Idle connections held on our server, measured once. */
export interface IdleSample {
  connections: number;
  baselineRssMiB: number;
  rssMiB: number;
  perConnectionKiB: number;
  answeredWhileHeld: boolean;
}

/** A whole run: how, where, and every raw sample. */
export interface SavedRun {
  format: typeof FORMAT;
  machine: Record<string, string | number>;
  settings: {
    rounds: number;
    loads: number[];
    warmupMs: number;
    durationMs: number;
    /** Each server's loads, when not all of `loads`. */
    serverLoads: Record<string, number[]>;
    /** The servers whose new CURVE connections are measured, every round. */
    handshakeServers: string[];
  };
  /** Each server that ran: its name and what it is. */
  servers: Record<string, string>;
  /** Peak RSS per server over the whole run. */
  peakRssMiB: Record<string, number>;
  /** Absent in a partial run (`--servers`). */
  idle?: IdleSample;
  samples: LoadSample[];
  handshakes: HandshakeSample[];
}

/**
 * Reads a saved run, refusing other layouts.
 *
 * @throws {Error} when the file is not a run in {@link FORMAT}
 */
export async function readSavedRun(path: string): Promise<SavedRun> {
  const run = JSON.parse(await Deno.readTextFile(path));
  if (run?.format !== FORMAT) {
    throw new Error(
      `${path} is not a run in the layout of format ${FORMAT} (it has ${
        run?.format ?? "none"
      }): p99.9, max and fairness were not kept then; run \`deno task bench --save\` again`,
    );
  }
  return run as SavedRun;
}
