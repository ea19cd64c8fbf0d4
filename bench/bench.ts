/**
 * The side-by-side benchmark: our server, the tutorial's multiply_server.py
 * (pyzmq on libzmq), a REP server on zeromq.js under Node, and a raw Deno
 * TCP echo server as the floor, all driven by the same closed-loop generator
 * (bench/load.ts) in one run, rounds interleaved, because these machines are
 * noisy. The figure that tracks a server itself is its CPU time per request,
 * read from /proc before and after a fixed number of requests.
 *
 *     deno task bench [--rounds N] [--quick] [--idle N] [--out DIR | --save]
 *     deno task bench --servers ours,echo --loads 32 --requests 300000
 *     deno task bench --report bench/results/latest.json
 *
 * Prints a progress line and a report: each figure as the median of the
 * rounds with the lowest and highest round beside it, and each target met or
 * MISSED. Writes latest.json and latest.svg to bench/out/ (not tracked), or
 * to --out DIR; only --save writes the committed bench/results/. With
 * --servers, a partial run for comparisons while working prints its figures
 * and writes nothing. --report prints the report of a saved run again.
 *
 * @module
 */

import {
  parseCommandLine,
  parseInteger,
  printError,
  UsageError,
} from "../lib/cli.ts";
import { freePort, pythonWithZmq } from "../tests/_process.ts";
import { generateKeyPair, writeCertificate } from "../lib/zmtp/curve_keys.ts";
import { encodeZ85Key } from "../lib/zmtp/z85.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();
const USAGE =
  `usage: deno task bench [--rounds N] [--quick] [--idle N] [--out DIR | --save]
       deno task bench --servers NAME,... [--loads N,...] [--requests N]
       deno task bench --report FILE`;
const flags = parseFlags();
if (flags.report) {
  const saved = JSON.parse(await Deno.readTextFile(flags.report));
  console.log(report(saved));
  Deno.exit(0);
}
const ROUNDS = flags.rounds;
const LOADS = flags.loads ? flags.loads : [1, 8, 32, 256];
const REQUESTS: Record<number, number> = flags.quick
  ? { 1: 2000, 8: 5000, 32: 8000, 256: 8000 }
  : { 1: 20_000, 8: 100_000, 32: 100_000, 256: 100_000 };
if (flags.requests !== undefined) {
  for (const load of LOADS) REQUESTS[load] = flags.requests;
}
// Runs land in bench/out/, which git ignores; --save updates the committed
// bench/results/ that docs/performance.md quotes.
const RESULTS = flags.save
  ? `${ROOT}bench/results`
  : flags.out ?? `${ROOT}bench/out`;
// Each idle connection takes a file descriptor on both sides; stay under the
// limit (raise it with `ulimit -n` for the full 5,000).
const FD_LIMIT = Number(
  new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "ulimit -n"] }).output())
      .stdout,
  ),
) || 1024;
const IDLE = Math.min(flags.idle, FD_LIMIT - 100);
if (IDLE < flags.idle) {
  console.error(
    `bench: open files are limited to ${FD_LIMIT}; holding ${IDLE} idle connections, not ${flags.idle}`,
  );
}

interface ServerSpec {
  name: string;
  label: string;
  command: (port: number) => [string, string[]];
  mode: "zmtp" | "echo" | "curve";
  /** The loads it runs at, when not all (CURVE runs at 32 connections). */
  loads?: number[];
}

// Our server runs exactly as `deno task server` runs it, flags and all.
const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const SERVER_TASK: string[] = config.tasks.server.split(" ");
if (SERVER_TASK[0] !== "deno" || SERVER_TASK.at(-1) !== "server.ts") {
  throw new Error(`Cannot read the server task: ${config.tasks.server}`);
}
const oursCommand = (port: number, ...extra: string[]): [string, string[]] => [
  DENO,
  [
    ...SERVER_TASK.slice(1, -1),
    ...(extra.includes("--curve-key") ? [`--allow-read=${curve().dir}`] : []),
    `${ROOT}server.ts`,
    "2",
    String(port),
    ...extra,
  ],
];

const ALL_SERVERS: ServerSpec[] = [
  {
    name: "ours",
    label: "server.ts (logging to /dev/null)",
    command: (port) => oursCommand(port),
    mode: "zmtp",
  },
  {
    name: "ours-quiet",
    label: "server.ts --quiet",
    command: (port) => oursCommand(port, "--quiet"),
    mode: "zmtp",
  },
  {
    name: "python",
    label: "multiply_server.py (pyzmq)",
    command: (
      port,
    ) => [pythonWithZmq(), [
      "-u",
      `${ROOT}tests/tutorial/multiply_server.py`,
      "2",
      String(port),
    ]],
    mode: "zmtp",
  },
  {
    name: "node",
    label: "zeromq.js REP under Node",
    command: (
      port,
    ) => ["node", [`${ROOT}tests/peers/zeromq_rep.mjs`, "2", String(port)]],
    mode: "zmtp",
  },
  {
    name: "ours-curve",
    label: "server.ts --curve-key (CURVE, logging to /dev/null)",
    command: (port) => oursCommand(port, "--curve-key", curve().secret),
    mode: "curve",
    loads: [32],
  },
  {
    name: "python-curve",
    label: "multiply_server.py with curve_server = True (pyzmq)",
    command: (port) => [pythonWithZmq(), [
      "-u",
      `${ROOT}bench/python_curve_server.py`,
      curve().secret,
      "2",
      String(port),
    ]],
    mode: "curve",
    loads: [32],
  },
  {
    name: "echo",
    label: "raw Deno TCP echo (floor)",
    command: (
      port,
    ) => [DENO, [
      "run",
      "--allow-net",
      `${ROOT}bench/echo_server.ts`,
      String(port),
    ]],
    mode: "echo",
  },
];

// --servers picks some, for quick comparisons while working on one of them.
const SERVERS = flags.servers
  ? ALL_SERVERS.filter((s) => flags.servers!.includes(s.name))
  : ALL_SERVERS;
for (const name of flags.servers ?? []) {
  if (!ALL_SERVERS.some((s) => s.name === name)) {
    usageError(
      `no server '${name}'; there are ${
        ALL_SERVERS.map((s) => s.name).join(", ")
      }`,
    );
  }
}

/** What the command line asks for; usage and exit 2 when it cannot be used. */
function parseFlags() {
  try {
    const cli = parseCommandLine(Deno.args, {
      rounds: { type: "string" },
      quick: { type: "boolean" },
      idle: { type: "string" },
      servers: { type: "string" },
      out: { type: "string" },
      save: { type: "boolean" },
      report: { type: "string" },
      requests: { type: "string" },
      loads: { type: "string" },
      help: { type: "boolean", short: "h" },
    }, 0);
    if (cli.flag("help")) {
      console.log(USAGE);
      Deno.exit(0);
    }
    // Rounds, loads and requests are at least 1; idle connections may be 0.
    const count = (text: string | undefined, name: string, min = 1) =>
      text === undefined
        ? undefined
        : parseInteger(text, `--${name}`, min, Number.MAX_SAFE_INTEGER);
    const out = cli.string("out");
    const save = cli.flag("save");
    if (save && out !== undefined) {
      throw new UsageError("give --save or --out, not both");
    }
    return {
      rounds: count(cli.string("rounds"), "rounds") ?? 5,
      quick: cli.flag("quick"),
      idle: count(cli.string("idle"), "idle", 0) ?? 5000,
      servers: cli.string("servers")?.split(","),
      out,
      save,
      report: cli.string("report"),
      requests: count(cli.string("requests"), "requests"),
      loads: cli.string("loads")?.split(",").map((text) =>
        count(text, "loads")!
      ),
    };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    usageError(error.message);
  }
}

function usageError(message: string): never {
  printError(`bench: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

// CURVE servers use one certificate made for the run, and only a run with
// one of them makes it; the generator speaks CURVE to its public key, with
// a fresh key pair of its own.
const CURVE = SERVERS.some((s) => s.mode === "curve")
  ? await makeCurveCertificate()
  : undefined;

function curve(): { dir: string; secret: string; publicKey: string } {
  if (CURVE === undefined) throw new Error("No CURVE server in this run");
  return CURVE;
}

async function makeCurveCertificate() {
  const dir = await Deno.makeTempDir({ prefix: "multiply-bench-curve-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Gone already.
    }
  });
  const keys = await generateKeyPair();
  await writeCertificate(`${dir}/server`, keys);
  return {
    dir,
    secret: `${dir}/server.key_secret`,
    publicKey: encodeZ85Key(keys.publicKey),
  };
}

/** Stops the benchmark with one line that says what to do. */
function setupMissing(message: string): never {
  console.error(message);
  Deno.exit(1);
}

const ZEROMQ_JS = `${ROOT}tests/peers/node_modules/zeromq/package.json`;
// The servers run by multiply_server.py or its CURVE twin need pyzmq.
const USES_PYTHON = SERVERS.some((s) => s.name.startsWith("python"));
// Found before any server starts; the message says to run tools/setup.
if (USES_PYTHON) {
  try {
    pythonWithZmq();
  } catch (error) {
    setupMissing((error as Error).message);
  }
}
if (SERVERS.some((s) => s.name === "node")) {
  try {
    await Deno.stat(ZEROMQ_JS);
  } catch {
    setupMissing(
      "bench: zeromq.js is not installed in tests/peers: run tools/setup",
    );
  }
}

interface Running {
  spec: ServerSpec;
  port: number;
  child: Deno.ChildProcess;
}

interface Sample {
  server: string;
  connections: number;
  round: number;
  requests: number;
  errors: number;
  cpuUsPerRequest: number;
  requestsPerSecond: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

async function procFile(pid: number, name: string): Promise<string> {
  // Deno asks for --allow-all to read /proc; cat needs only --allow-run.
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/${name}`],
  }).output();
  return new TextDecoder().decode(stdout);
}

const TICKS_PER_SECOND = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  ),
) || 100;

/**
 * CPU time of a process and all its threads, in microseconds: the on-CPU
 * nanoseconds the scheduler keeps per thread (/proc/PID/task/TID/schedstat),
 * a thousand times finer than the 10 ms ticks of /proc/PID/stat.
 */
async function cpuMicros(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", `cat /proc/${pid}/task/*/schedstat`],
  }).output();
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  if (lines.length > 0 && lines[0] !== "") {
    return lines.reduce((sum, line) => sum + Number(line.split(" ")[0]), 0) /
      1000;
  }
  const stat = await procFile(pid, "stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / TICKS_PER_SECOND;
}

async function memoryKiB(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await procFile(pid, "status");
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

async function start(spec: ServerSpec): Promise<Running> {
  const port = freePort();
  const [command, args] = spec.command(port);
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(port);
  return { spec, port, child };
}

async function stop(server: Running): Promise<void> {
  try {
    server.child.kill("SIGKILL");
  } catch {
    // Gone already.
  }
  await server.child.status;
}

/** A generator process, after its warm-up, waiting for the word to go. */
class Generator {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  constructor(
    port: number,
    connections: number,
    requests: number,
    mode: string,
    warmup: number,
  ) {
    this.child = new Deno.Command(DENO, {
      args: [
        "run",
        "--allow-net",
        `${ROOT}bench/load.ts`,
        String(port),
        String(connections),
        String(requests),
        mode,
        String(warmup),
        ...(mode === "curve" || mode === "handshakes"
          ? [curve().publicKey]
          : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = this.child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(lineSplitter())[Symbol.asyncIterator]();
  }
  async line(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) throw new Error("generator ended early");
    return value;
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function measure(
  server: Running,
  connections: number,
  round: number,
): Promise<Sample> {
  const processes = connections >= 8 ? 2 : 1;
  const total = REQUESTS[connections];
  const generators = Array.from(
    { length: processes },
    (_, i) =>
      new Generator(
        server.port,
        Math.floor(connections / processes) +
          (i < connections % processes ? 1 : 0),
        Math.floor(total / processes),
        server.spec.mode,
        Math.max(200, Math.floor(total / processes / 10)),
      ),
  );
  for (const generator of generators) {
    const line = await generator.line();
    if (line !== "ready") throw new Error(`generator: ${line}`);
  }
  const cpu0 = await cpuMicros(server.child.pid);
  await Promise.all(generators.map((g) => g.go()));
  const results = await Promise.all(
    generators.map(async (g) => JSON.parse(await g.line())),
  );
  const cpu1 = await cpuMicros(server.child.pid);
  await Promise.all(generators.map((g) => g.finish()));
  const requests = results.reduce((n, r) => n + r.requests, 0);
  const latencies = results.flatMap((r) => r.latencies as number[]).sort((
    a,
    b,
  ) => a - b);
  const elapsed = Math.max(...results.map((r) => r.elapsedMs));
  return {
    server: server.spec.name,
    connections,
    round,
    requests,
    errors: results.reduce((n, r) => n + r.errors, 0),
    cpuUsPerRequest: (cpu1 - cpu0) / requests,
    requestsPerSecond: requests / elapsed * 1000,
    p50Us: percentile(latencies, 0.5),
    p99Us: percentile(latencies, 0.99),
    maxUs: latencies[latencies.length - 1],
  };
}

function runsAt(spec: ServerSpec, connections: number): boolean {
  return spec.loads === undefined || spec.loads.includes(connections);
}

/** New CURVE connections: handshakes per second and server CPU for each. */
interface HandshakeSample {
  server: string;
  round: number;
  handshakes: number;
  handshakesPerSecond: number;
  cpuUsPerHandshake: number;
}

// Eight loops each open a connection, complete the CURVE handshake, close
// it, and start again.
async function measureHandshakes(
  server: Running,
  round: number,
): Promise<HandshakeSample> {
  const total = flags.quick ? 200 : 1000;
  const generator = new Generator(
    server.port,
    8,
    total,
    "handshakes",
    Math.floor(total / 10),
  );
  const line = await generator.line();
  if (line !== "ready") throw new Error(`generator: ${line}`);
  const cpu0 = await cpuMicros(server.child.pid);
  await generator.go();
  const result = JSON.parse(await generator.line());
  const cpu1 = await cpuMicros(server.child.pid);
  await generator.finish();
  return {
    server: server.spec.name,
    round,
    handshakes: result.requests,
    handshakesPerSecond: result.requests / result.elapsedMs * 1000,
    cpuUsPerHandshake: (cpu1 - cpu0) / result.requests,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function idleConnections(count: number) {
  const server = await start(SERVERS[0]);
  try {
    // One request first, so that the baseline includes a warmed-up server.
    const warm = new Generator(server.port, 1, 100, "zmtp", 100);
    await warm.line();
    await warm.go();
    await warm.line();
    await warm.finish();
    const before = await memoryKiB(server.child.pid);
    const holder = new Generator(server.port, count, 0, "idle", 0);
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
      answeredWhileHeld: ready.errors === 0 && after.errors === 0,
    };
  } finally {
    await stop(server);
  }
}

async function versions() {
  const run = async (command: string, args: string[]) => {
    try {
      const { stdout } = await new Deno.Command(command, { args, cwd: ROOT })
        .output();
      return new TextDecoder().decode(stdout).trim();
    } catch {
      return "unknown";
    }
  };
  const cpu = /model name\s*:\s*(.+)/.exec(await run("cat", ["/proc/cpuinfo"]))
    ?.[1] ?? "unknown";
  const commit = await run("git", ["rev-parse", "--short", "HEAD"]);
  // Code not committed yet: say so, since the commit alone does not tell.
  const dirty = await run("git", [
    "status",
    "--porcelain",
    "--untracked-files=no",
    "--",
    ".",
    ":(exclude)bench/results",
  ]);
  const installed = async (path: string) => {
    try {
      return JSON.parse(await Deno.readTextFile(path)).version;
    } catch {
      return "not installed";
    }
  };
  return {
    date: new Date().toISOString(),
    commit: dirty ? `${commit} with changes` : commit,
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
    node: await run("node", ["--version"]),
    pyzmq: USES_PYTHON
      ? await run(pythonWithZmq(), [
        "-c",
        "import zmq; print(zmq.__version__, 'on libzmq', zmq.zmq_version())",
      ])
      : "not run",
    zeromqJs: await installed(ZEROMQ_JS),
  };
}

// ---------------------------------------------------------------------------

const machine = await versions();
const servers: Running[] = [];
for (const spec of SERVERS) servers.push(await start(spec));
const samples: Sample[] = [];
const handshakeSamples: HandshakeSample[] = [];
const steps = ROUNDS * LOADS.reduce(
  (n, connections) =>
    n + servers.filter((s) => runsAt(s.spec, connections)).length,
  0,
);
const t0 = performance.now();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of LOADS) {
      // A different order each round, so no server always runs first.
      const order = servers.map((_, i) =>
        servers[(i + round) % servers.length]
      );
      for (const server of order) {
        if (!runsAt(server.spec, connections)) continue;
        const seconds = ((performance.now() - t0) / 1000).toFixed(0);
        await Deno.stderr.write(new TextEncoder().encode(
          `\r\x1b[K[${
            samples.length + 1
          }/${steps}] ${seconds}s round ${round}/${ROUNDS}: ${server.spec.name} at ${connections} connection${
            connections === 1 ? "" : "s"
          }`,
        ));
        samples.push(await measure(server, connections, round));
      }
    }
    for (const server of servers) {
      if (server.spec.mode !== "curve") continue;
      await Deno.stderr.write(new TextEncoder().encode(
        `\r\x1b[K round ${round}/${ROUNDS}: ${server.spec.name}, new CURVE connections`,
      ));
      handshakeSamples.push(await measureHandshakes(server, round));
    }
  }
} catch (error) {
  await Promise.all(servers.map(stop));
  throw error;
}
const peaks: Record<string, number> = {};
for (const server of servers) {
  peaks[server.spec.name] = (await memoryKiB(server.child.pid)).peak / 1024;
}
await Promise.all(servers.map(stop));

const median0 = (mine: Sample[], figure: keyof Sample) =>
  median(mine.map((s) => s[figure] as number));
if (SERVERS.length < ALL_SERVERS.length) {
  // A partial run, for comparisons while working: figures only, no files.
  await Deno.stderr.write(new TextEncoder().encode("\r\x1b[K"));
  for (const spec of SERVERS) {
    for (const connections of LOADS) {
      if (!runsAt(spec, connections)) continue;
      const mine = samples.filter((s) =>
        s.server === spec.name && s.connections === connections
      );
      console.log(
        `${spec.name.padEnd(10)} ${String(connections).padStart(4)} conns: ${
          median0(mine, "cpuUsPerRequest").toFixed(2)
        } us/req, ${median0(mine, "requestsPerSecond").toFixed(0)} req/s, ` +
          `p50 ${median0(mine, "p50Us")} us, errors ${
            mine.reduce((n, s) => n + s.errors, 0)
          }`,
      );
    }
    const shakes = handshakeSamples.filter((h) => h.server === spec.name);
    if (shakes.length > 0) {
      console.log(
        `${spec.name.padEnd(10)} handshakes: ${
          median(shakes.map((h) => h.handshakesPerSecond)).toFixed(0)
        }/s, ${
          median(shakes.map((h) => h.cpuUsPerHandshake)).toFixed(0)
        } us CPU each`,
      );
    }
  }
  Deno.exit(0);
}
await Deno.stderr.write(
  new TextEncoder().encode(
    `\r\x1b[K[idle] ${IDLE} idle connections on server.ts\n`,
  ),
);
const idle = await idleConnections(IDLE);
const run: SavedRun = {
  machine,
  settings: {
    rounds: ROUNDS,
    loads: LOADS,
    requests: REQUESTS,
    generatorProcesses: "1 at 1 connection, else 2",
  },
  servers: Object.fromEntries(SERVERS.map((s) => [s.name, s.label])),
  peakRssMiB: peaks,
  idle,
  samples,
  handshakes: handshakeSamples,
};
const analysis = analyse(run);
await Deno.mkdir(RESULTS, { recursive: true });
await Deno.writeTextFile(
  `${RESULTS}/latest.json`,
  JSON.stringify({ ...run, ...analysis }, null, 1) + "\n",
);
await Deno.writeTextFile(`${RESULTS}/latest.svg`, chart(analysis.summary));
console.log(report(run, analysis));
console.log(
  `\nWritten to ${RESULTS.replace(ROOT, "")}/${
    flags.save ? "" : " (not tracked; --save updates bench/results/)"
  }`,
);
const errors = analysis.summary.reduce((n, s) => n + s.errors, 0);
if (errors > 0) {
  console.log(`${errors} wrong replies: the figures above are not valid`);
  Deno.exit(1);
}

/** What a run measured; everything else is computed from it. */
interface SavedRun {
  machine: Record<string, string | number>;
  settings: {
    rounds: number;
    loads: number[];
    requests: Record<number, number>;
    generatorProcesses?: string;
  };
  servers: Record<string, string>;
  /** Peak RSS per server; runs before this field kept it in `summary`. */
  peakRssMiB?: Record<string, number>;
  summary?: { server: string; peakRssMiB: number }[];
  idle: {
    connections: number;
    baselineRssMiB: number;
    rssMiB: number;
    perConnectionKiB: number;
    answeredWhileHeld: boolean;
  };
  samples: Sample[];
  /** New CURVE connections; runs before CURVE have none. */
  handshakes?: HandshakeSample[];
}

/** The median of the rounds, and the lowest and highest round. */
interface Spread {
  median: number;
  min: number;
  max: number;
}

function spread(values: number[], digits: number): Spread {
  const round = (n: number) => Math.round(n * 10 ** digits) / 10 ** digits;
  return {
    median: round(median(values)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}

type RatioName =
  | "cpuVsPython"
  | "cpuVsNode"
  | "cpuVsEcho"
  | "rpsVsPython"
  | "p50VsPython"
  | "loggingOverhead";

/**
 * Medians with their spread per server and load; our server's figures over
 * the others', round by round (both measured in the same round); and each
 * target, judged on the median of the rounds.
 */
function analyse(run: SavedRun) {
  const RATIOS: Record<
    RatioName,
    [string, "cpuUsPerRequest" | "requestsPerSecond" | "p50Us"]
  > = {
    cpuVsPython: ["python", "cpuUsPerRequest"],
    cpuVsNode: ["node", "cpuUsPerRequest"],
    cpuVsEcho: ["echo", "cpuUsPerRequest"],
    rpsVsPython: ["python", "requestsPerSecond"],
    p50VsPython: ["python", "p50Us"],
    loggingOverhead: ["ours-quiet", "cpuUsPerRequest"],
  };
  const { loads, rounds } = run.settings;
  const peaks = run.peakRssMiB ??
    Object.fromEntries(
      (run.summary ?? []).map((s) => [s.server, s.peakRssMiB]),
    );
  const samplesOf = (server: string, connections: number) =>
    run.samples.filter((s) =>
      s.server === server && s.connections === connections
    );
  const summary = Object.keys(run.servers).flatMap((server) =>
    loads.filter((c) => samplesOf(server, c).length > 0).map((connections) => {
      const mine = samplesOf(server, connections);
      const of = (figure: keyof Sample, digits: number) =>
        spread(mine.map((s) => s[figure] as number), digits);
      return {
        server,
        connections,
        cpuUsPerRequest: of("cpuUsPerRequest", 1),
        requestsPerSecond: of("requestsPerSecond", 0),
        p50Us: of("p50Us", 0),
        p99Us: of("p99Us", 0),
        maxUs: Math.max(...mine.map((s) => s.maxUs)),
        errors: mine.reduce((n, s) => n + s.errors, 0),
        peakRssMiB: peaks[server],
      };
    })
  );
  // versus(ours, other, figure, c)[r]: one figure over the other's in
  // round r + 1.
  const versus = (
    ours: string,
    other: string,
    figure: "cpuUsPerRequest" | "requestsPerSecond" | "p50Us",
    connections: number,
  ): number[] => {
    const theirs = samplesOf(other, connections);
    return samplesOf(ours, connections).map((s) =>
      s[figure] / theirs.find((t) => t.round === s.round)![figure]
    );
  };
  const ratio = (name: RatioName, connections: number): number[] =>
    versus("ours", RATIOS[name][0], RATIOS[name][1], connections);
  // CURVE on both sides: ours over the tutorial's server with CURVE, at the
  // loads both ran (32 connections), and new connections (handshakes).
  const curveLoads = loads.filter((c) =>
    samplesOf("ours-curve", c).length > 0 &&
    samplesOf("python-curve", c).length > 0
  );
  const curve = curveLoads.map((connections) => ({
    connections,
    cpuVsPython: spread(
      versus("ours-curve", "python-curve", "cpuUsPerRequest", connections),
      2,
    ),
    rpsVsPython: spread(
      versus("ours-curve", "python-curve", "requestsPerSecond", connections),
      2,
    ),
    overheadOverNull: spread(
      versus("ours-curve", "ours", "cpuUsPerRequest", connections),
      2,
    ),
  }));
  const handshakes = ["ours-curve", "python-curve"].flatMap((server) => {
    const mine = (run.handshakes ?? []).filter((h) => h.server === server);
    return mine.length === 0 ? [] : [{
      server,
      handshakesPerSecond: spread(mine.map((h) => h.handshakesPerSecond), 0),
      cpuUsPerHandshake: spread(mine.map((h) => h.cpuUsPerHandshake), 0),
    }];
  });
  const ratios = loads.map((connections) => ({
    connections,
    ...Object.fromEntries(
      (Object.keys(RATIOS) as RatioName[]).map((
        name,
      ) => [name, spread(ratio(name, connections), 2)]),
    ) as Record<RatioName, Spread>,
  }));
  // Per round, the worst load decides the "at every load" targets.
  const everyLoad = (name: RatioName, worst: (...v: number[]) => number) =>
    Array.from(
      { length: rounds },
      (_, r) => worst(...loads.map((c) => ratio(name, c)[r])),
    );
  const judged = (
    target: string,
    perRound: number[],
    meets: (v: number) => boolean,
  ) => {
    const { median, min, max } = spread(perRound, 2);
    return {
      target,
      value: median,
      min,
      max,
      met: meets(median),
      roundsMet: perRound.filter(meets).length,
      rounds: perRound.length,
    };
  };
  const idleMB = Math.round(run.idle.rssMiB * 1.048576);
  const targets = [
    judged(
      "CPU/request at 32 connections <= 0.85x Python's",
      ratio("cpuVsPython", 32),
      (v) => v <= 0.85,
    ),
    judged(
      "CPU/request at 32 connections <= 1.25x raw Deno echo's",
      ratio("cpuVsEcho", 32),
      (v) => v <= 1.25,
    ),
    judged(
      "CPU/request at 256 connections <= Python's",
      ratio("cpuVsPython", 256),
      (v) => v <= 1,
    ),
    judged(
      "requests/s >= Python's at every load",
      everyLoad("rpsVsPython", Math.min),
      (v) => v >= 1,
    ),
    judged(
      "p50 latency at 1 connection <= Python's",
      ratio("p50VsPython", 1),
      (v) => v <= 1,
    ),
    judged(
      "per-request logging adds <= 25% CPU/request at every load",
      everyLoad("loggingOverhead", Math.max),
      (v) => v <= 1.25,
    ),
    ...(curveLoads.includes(32)
      ? [
        judged(
          "CURVE: CPU/request at 32 connections <= 1.0x Python's with CURVE",
          versus("ours-curve", "python-curve", "cpuUsPerRequest", 32),
          (v) => v <= 1,
        ),
        judged(
          "CURVE: requests/s at 32 connections >= Python's with CURVE",
          versus("ours-curve", "python-curve", "requestsPerSecond", 32),
          (v) => v >= 1,
        ),
      ]
      : []),
    {
      target: `${run.idle.connections} idle connections < 100 MB RSS`,
      value: idleMB,
      min: idleMB,
      max: idleMB,
      met: idleMB < 100,
      roundsMet: idleMB < 100 ? 1 : 0,
      rounds: 1,
      once: true,
    },
  ];
  return { summary, ratios, curve, handshakes, targets };
}

/** The report of a run, in Markdown, as docs/performance.md quotes it. */
function report(run: SavedRun, analysis = analyse(run)): string {
  const { summary, ratios, curve, handshakes, targets } = analysis;
  const m = run.machine;
  const n = (v: number, digits = 0) =>
    v.toLocaleString("en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
  const { requests, rounds } = run.settings;
  // With one round there is no spread to show.
  const range = (s: { min: number; max: number }, digits: number) =>
    rounds > 1 ? `${n(s.min, digits)}–${n(s.max, digits)}` : "";
  const cell = (s: Spread, digits = 0) =>
    `${n(s.median, digits)}${rounds > 1 ? ` (${range(s, digits)})` : ""}`;
  // "100,000 requests per load (20,000 at 1 connection)"
  const counts = Object.entries(requests);
  const usual = median(counts.map(([, r]) => r));
  const unusual = counts.filter(([, r]) => r !== usual).map(([c, r]) =>
    `${n(r)} at ${c} connection${c === "1" ? "" : "s"}`
  );
  const requestText = `${n(usual)} requests per load${
    unusual.length ? ` (${unusual.join(", ")})` : ""
  }`;
  const missed = targets.filter((t) => !t.met);
  return [
    `Run of ${String(m.date).slice(0, 10)} at commit ${
      m.commit ?? "(not recorded)"
    }: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Deno ${m.deno}, ` +
    `Node ${m.node} with zeromq.js ${m.zeromqJs}, pyzmq ${m.pyzmq}. ` +
    `${rounds} rounds, interleaved; ${requestText}; every reply checked. ` +
    (rounds > 1
      ? "Each figure is the median of the rounds, with the lowest and " +
        "highest round in brackets."
      : "One round: figures vary from run to run, and only several rounds " +
        "show by how much."),
    "",
    "| server | conns | CPU us/req | req/s | p50 us | p99 us | peak RSS MiB |",
    "|---|--:|--:|--:|--:|--:|--:|",
    ...summary.map((s) =>
      `| ${s.server} | ${s.connections} | ${cell(s.cpuUsPerRequest, 1)} | ${
        cell(s.requestsPerSecond)
      } | ${cell(s.p50Us)} | ${cell(s.p99Us)} | ${n(s.peakRssMiB, 1)} |`
    ),
    "",
    "Our server's figure over the other's, compared within each round:",
    "",
    "| conns | CPU vs Python | CPU vs Node | CPU vs echo | req/s vs Python | p50 vs Python | logging overhead |",
    "|--:|--:|--:|--:|--:|--:|--:|",
    ...ratios.map((x) =>
      `| ${x.connections} | ${cell(x.cpuVsPython, 2)} | ${
        cell(x.cpuVsNode, 2)
      } | ${cell(x.cpuVsEcho, 2)} | ${cell(x.rpsVsPython, 2)} | ${
        cell(x.p50VsPython, 2)
      } | ${cell(x.loggingOverhead, 2)} |`
    ),
    ...(curve.length === 0 ? [] : [
      "",
      "With CURVE on both sides (ours-curve: server.ts --curve-key; " +
      "python-curve: the tutorial's server with curve_server = True), ours " +
      "over Python's, and over our own server without CURVE:",
      "",
      "| conns | CPU vs Python with CURVE | req/s vs Python with CURVE | CPU vs ours without CURVE |",
      "|--:|--:|--:|--:|",
      ...curve.map((x) =>
        `| ${x.connections} | ${cell(x.cpuVsPython, 2)} | ${
          cell(x.rpsVsPython, 2)
        } | ${cell(x.overheadOverNull, 2)} |`
      ),
      "",
      "New CURVE connections (8 loops, each connecting, completing the " +
      "handshake and closing):",
      "",
      "| server | handshakes/s | server CPU us per handshake |",
      "|---|--:|--:|",
      ...handshakes.map((h) =>
        `| ${h.server} | ${cell(h.handshakesPerSecond)} | ${
          cell(h.cpuUsPerHandshake)
        } |`
      ),
    ]),
    "",
    `Idle: ${run.idle.connections} connections held on server.ts: ${
      n(run.idle.rssMiB, 1)
    } MiB RSS in total (${n(run.idle.baselineRssMiB, 1)} MiB before, ${
      n(run.idle.perConnectionKiB, 1)
    } KiB per connection), answering throughout: ${
      run.idle.answeredWhileHeld ? "yes" : "NO"
    }.`,
    "",
    `Targets, judged on the ${
      rounds > 1 ? "median of the rounds" : "one round"
    }:`,
    "",
    ...targets.map((t) =>
      `- ${t.met ? "met" : "MISSED"}: ${t.target}: ${
        "once" in t
          ? n(t.value)
          : `${n(t.value, 2)} (${
            rounds > 1 ? `${range(t, 2)}; ` : ""
          }met in ${t.roundsMet} of ${t.rounds} round${rounds > 1 ? "s" : ""})`
      }`
    ),
    "",
    missed.length === 0
      ? `All ${targets.length} targets met in this run.`
      : `${missed.length} of ${targets.length} targets MISSED in this run: ${
        missed.map((t) => t.target).join("; ")
      }.`,
  ].join("\n");
}

function chart(rows: ReturnType<typeof analyse>["summary"]): string {
  const names = SERVERS.map((s) => s.name);
  const colors = [
    "#1f77b4",
    "#aec7e8",
    "#9467bd",
    "#ffbb78",
    "#ff7f0e",
    "#2ca02c",
    "#7f7f7f",
  ];
  const max =
    Math.ceil(Math.max(...rows.map((r) => r.cpuUsPerRequest.max)) * 1.1 / 10) *
    10;
  const width = 720, height = 360, left = 60, bottom = 40, top = 40;
  const groupWidth = (width - left - 20) / LOADS.length;
  const barWidth = groupWidth / (names.length + 1);
  const y = (v: number) => height - bottom - v / max * (height - bottom - top);
  // A bar for the median round, a line from the lowest round to the highest.
  const bars = rows.map((r) => {
    const g = LOADS.indexOf(r.connections);
    const i = names.indexOf(r.server);
    const x = left + g * groupWidth + (i + 0.5) * barWidth;
    const { median, min, max: high } = r.cpuUsPerRequest;
    const middle = (x + (barWidth - 2) / 2).toFixed(1);
    return `<rect x="${x.toFixed(1)}" y="${y(median).toFixed(1)}" width="${
      (barWidth - 2).toFixed(1)
    }" height="${(height - bottom - y(median)).toFixed(1)}" fill="${
      colors[i]
    }"><title>${r.server}, ${r.connections} connection${
      r.connections === 1 ? "" : "s"
    }: ${median.toFixed(1)} us (${min.toFixed(1)}–${
      high.toFixed(1)
    })</title></rect><line x1="${middle}" x2="${middle}" y1="${
      y(min).toFixed(1)
    }" y2="${y(high).toFixed(1)}" stroke="#333"/>`;
  });
  const labels = LOADS.map((c, g) =>
    `<text x="${(left + g * groupWidth + groupWidth / 2).toFixed(1)}" y="${
      height - 15
    }" text-anchor="middle">${c} connection${c > 1 ? "s" : ""}</text>`
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => {
    const v = max * t;
    return `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${
      v.toFixed(0)
    }</text><line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${
      y(v)
    }" stroke="#ddd"/>`;
  });
  const step = (width - left) / names.length;
  const legend = names.map((n, i) =>
    `<rect x="${left + i * step}" y="8" width="10" height="10" fill="${
      colors[i]
    }"/><text x="${left + i * step + 14}" y="17">${n}</text>`
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">
<text x="12" y="${height / 2}" transform="rotate(-90 12 ${
    height / 2
  })" text-anchor="middle">server CPU us per request</text>
${ticks.join("\n")}
${bars.join("\n")}
${labels.join("\n")}
${legend.join("\n")}
</svg>
`;
}
