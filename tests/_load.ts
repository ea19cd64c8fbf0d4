/**
 * Well-behaved clients for fault tests: REQ sockets that send numbers in a
 * loop and check every reply against lib/protocol.ts until told to stop.
 *
 * @module
 */

import { replyFor } from "../lib/protocol.ts";
import { Request } from "../lib/zmtp/mod.ts";
import { type RunningServer, startServer } from "./_process.ts";

/** The message limit of {@link startTarget}'s server. */
export const TARGET_MAX_MESSAGE_SIZE = 65536;

/**
 * Liveness limits short enough that a test sees them act: a peer is closed
 * half a second into an unfinished greeting or handshake, and about 600 ms
 * after it falls silent (PING after 300 ms, then 300 ms for any answer).
 */
export const SHORT_LIMITS: readonly string[] = [
  "--handshake-timeout",
  "500",
  "--heartbeat",
  "300",
];

/**
 * A quiet server with a 64 KiB message limit, for hostile-input runs;
 * `extra` adds options (such as {@link SHORT_LIMITS}).
 */
export async function startTarget(
  extra: readonly string[] = [],
  v8Flags?: string,
): Promise<RunningServer> {
  const args = [
    "2",
    "0",
    "--quiet",
    "--max-message-size",
    String(TARGET_MAX_MESSAGE_SIZE),
    ...extra,
  ];
  const flags = v8Flags === undefined ? [] : [`--v8-flags=${v8Flags}`];
  return await startServer(args, { flags });
}

/**
 * This process's open-files limit (`ulimit -n`), or 1024 when the shell
 * gives no number; a connection needs a descriptor on both sides, so tests
 * that open many stay under it.
 */
export async function openFilesLimit(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", "ulimit -n"],
  }).output();
  return Number(new TextDecoder().decode(stdout)) || 1024;
}

/** A switch that tells long-running loops to stop. */
export interface StopSwitch {
  /** Resolves when {@link StopSwitch.stop} is called. */
  stopping: Promise<void>;
  /** True once stopped. */
  readonly stopped: boolean;
  stop(): void;
}

/** Creates a {@link StopSwitch}. */
export function stopSwitch(): StopSwitch {
  let stop!: () => void;
  let stopped = false;
  const stopping = new Promise<void>((resolve) => stop = resolve);
  return {
    stopping,
    get stopped() {
      return stopped;
    },
    stop() {
      stopped = true;
      stop();
    },
  };
}

/** What the good clients saw. */
export interface GoodLoad {
  sent: number;
  correct: number;
  wrong: string[];
  timeouts: number;
}

/** Counts at zero, for {@link runGoodClients} to fill in. */
export function emptyLoad(): GoodLoad {
  return { sent: 0, correct: 0, wrong: [], timeouts: 0 };
}

/**
 * Runs `clients` REQ sockets against `endpoint` until `stop` resolves, each
 * with a fresh socket after a timeout (Lazy Pirate), and reports the counts.
 * Pass `load` to watch the counts while they run.
 */
export async function runGoodClients(
  endpoint: string,
  multiplier: number,
  clients: number,
  stop: Promise<void>,
  timeout = 3000,
  load: GoodLoad = emptyLoad(),
): Promise<GoodLoad> {
  let stopped = false;
  stop.then(() => stopped = true);
  const decoder = new TextDecoder();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    let socket = new Request({ receiveTimeout: timeout, linger: 0 });
    socket.connect(endpoint);
    for (let i = 0; !stopped; i++) {
      const request = `${c}${i}.${i % 7}`;
      load.sent++;
      await socket.send(request);
      try {
        const [reply] = await socket.receive();
        const text = decoder.decode(reply);
        if (text === replyFor(request, multiplier)) load.correct++;
        else load.wrong.push(`${request} -> ${text}`);
      } catch {
        load.timeouts++;
        await socket.close();
        socket = new Request({ receiveTimeout: timeout, linger: 0 });
        socket.connect(endpoint);
      }
    }
    await socket.close();
  }));
  return load;
}

/**
 * The resident set size of a process, in KiB. Deno asks for --allow-all to
 * read /proc directly, so `cat` reads it, under the tests' --allow-run.
 */
export async function rssKiB(pid: number): Promise<number> {
  return (await memoryKiB(pid)).rss;
}

/**
 * A process's resident memory in KiB: all of it (`rss`), and the anonymous
 * part (`anon`: heaps, stacks, V8's pages), which leaves out the pages of
 * the executable and libraries mapped from files.
 */
export async function memoryKiB(
  pid: number,
): Promise<{ rss: number; anon: number }> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
  }).output();
  const status = new TextDecoder().decode(stdout);
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), anon: field("RssAnon") };
}

/** An RSS sample: seconds since the start of a run, and KiB. */
export interface RssSample {
  s: number;
  kib: number;
}

/** The least-squares slope of `kib` against `s`, in KiB/s. */
function leastSquaresSlope(samples: readonly RssSample[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const ms = samples.reduce((a, x) => a + x.s, 0) / n;
  const mk = samples.reduce((a, x) => a + x.kib, 0) / n;
  let num = 0;
  let den = 0;
  for (const { s, kib } of samples) {
    num += (s - ms) * (kib - mk);
    den += (s - ms) ** 2;
  }
  return num / den;
}

/**
 * The soak's leak criterion: the RSS floor over the second half of a run
 * (the lowest sample of each `window` seconds, against the window's middle)
 * must grow, by its least-squares slope, by less than `bound` KiB/s. The
 * first half is left out: V8 sizes its heap for the load then. The floor
 * leaves out the spikes of a burst's garbage before V8 collects it, which a
 * leak does not: it lifts the floor as much as the peaks.
 */
export function rssLeaks(
  samples: readonly RssSample[],
  bound: number,
  window = 0.5,
): { slope: number; leaks: boolean } {
  const half = samples.slice(Math.floor(samples.length / 2));
  const floor: RssSample[] = [];
  if (half.length > 0) {
    const start = half[0].s;
    const windows = new Map<number, RssSample[]>();
    for (const sample of half) {
      const w = Math.floor((sample.s - start) / window);
      windows.set(w, [...(windows.get(w) ?? []), sample]);
    }
    for (const members of windows.values()) {
      const low = members.reduce((a, b) => (b.kib < a.kib ? b : a));
      const s = members.reduce((a, b) => a + b.s, 0) / members.length;
      floor.push({ s, kib: low.kib });
    }
  }
  const slope = leastSquaresSlope(floor);
  return { slope, leaks: !(slope < bound) };
}
