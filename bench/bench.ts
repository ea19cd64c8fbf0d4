/**
 * The side-by-side benchmark: our server, the tutorial's multiply_server.py
 * (pyzmq on libzmq), a REP server on zeromq.js under Node, and a raw Deno
 * TCP echo server as the floor, all driven by the same closed-loop generator
 * (bench/load.ts) in one run, rounds interleaved, because these machines are
 * noisy. The figure that tracks a server itself is its CPU time per request,
 * read from /proc before and after a fixed number of requests.
 *
 *     deno task bench [--rounds N] [--quick] [--idle N] [--out DIR]
 *     deno task bench --servers ours,echo --loads 32 --requests 300000
 *
 * Prints a progress line, a table, and writes latest.json and latest.svg to
 * bench/results/ (or --out). With --servers, a partial run for comparisons
 * while working prints its figures and writes nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname;
const DENO = Deno.execPath();
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    idle: { type: "string", default: "5000" },
    servers: { type: "string" },
    out: { type: "string" },
    requests: { type: "string" },
    loads: { type: "string" },
  },
});
const ROUNDS = Number(flags.rounds);
const LOADS = flags.loads
  ? flags.loads.split(",").map(Number)
  : [1, 8, 32, 256];
const REQUESTS: Record<number, number> = flags.quick
  ? { 1: 2000, 8: 5000, 32: 8000, 256: 8000 }
  : { 1: 20_000, 8: 100_000, 32: 100_000, 256: 100_000 };
if (flags.requests) {
  for (const load of LOADS) REQUESTS[load] = Number(flags.requests);
}
const RESULTS = flags.out ?? `${ROOT}bench/results`;
// Each idle connection takes a file descriptor on both sides; stay under the
// limit (raise it with `ulimit -n` for the full 5,000).
const FD_LIMIT = Number(
  new TextDecoder().decode(
    (await new Deno.Command("sh", { args: ["-c", "ulimit -n"] }).output())
      .stdout,
  ),
) || 1024;
const IDLE = Math.min(Number(flags.idle), FD_LIMIT - 100);
if (IDLE < Number(flags.idle)) {
  console.error(
    `bench: open files are limited to ${FD_LIMIT}; holding ${IDLE} idle connections, not ${flags.idle}`,
  );
}

interface ServerSpec {
  name: string;
  label: string;
  command: (port: number) => [string, string[]];
  mode: "zmtp" | "echo";
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
    ) => ["/usr/bin/python3", [
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
  ? ALL_SERVERS.filter((s) => flags.servers!.split(",").includes(s.name))
  : ALL_SERVERS;

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

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
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
  const run = async (command: string, args: string[]) =>
    new TextDecoder().decode(
      (await new Deno.Command(command, { args }).output()).stdout,
    ).trim();
  const cpu = /model name\s*:\s*(.+)/.exec(await run("cat", ["/proc/cpuinfo"]))
    ?.[1] ?? "unknown";
  return {
    date: new Date().toISOString(),
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
    node: await run("node", ["--version"]),
    pyzmq: await run("/usr/bin/python3", [
      "-c",
      "import zmq; print(zmq.__version__, 'libzmq', zmq.zmq_version())",
    ]),
    zeromqJs: JSON.parse(
      await Deno.readTextFile(
        `${ROOT}tests/peers/node_modules/zeromq/package.json`,
      ),
    ).version,
  };
}

// ---------------------------------------------------------------------------

const machine = await versions();
const servers: Running[] = [];
for (const spec of SERVERS) servers.push(await start(spec));
const samples: Sample[] = [];
const steps = ROUNDS * LOADS.length * servers.length;
const t0 = performance.now();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of LOADS) {
      // A different order each round, so no server always runs first.
      const order = servers.map((_, i) =>
        servers[(i + round) % servers.length]
      );
      for (const server of order) {
        const seconds = ((performance.now() - t0) / 1000).toFixed(0);
        await Deno.stderr.write(new TextEncoder().encode(
          `\r\x1b[K[${
            samples.length + 1
          }/${steps}] ${seconds}s round ${round}/${ROUNDS}: ${server.spec.name} at ${connections} connections`,
        ));
        samples.push(await measure(server, connections, round));
      }
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

// Medians over rounds.
const summary = SERVERS.flatMap((spec) =>
  LOADS.map((connections) => {
    const mine = samples.filter((s) =>
      s.server === spec.name && s.connections === connections
    );
    return {
      server: spec.name,
      connections,
      cpuUsPerRequest: median(mine.map((s) => s.cpuUsPerRequest)),
      requestsPerSecond: median(mine.map((s) => s.requestsPerSecond)),
      p50Us: median(mine.map((s) => s.p50Us)),
      p99Us: median(mine.map((s) => s.p99Us)),
      maxUs: Math.max(...mine.map((s) => s.maxUs)),
      errors: mine.reduce((n, s) => n + s.errors, 0),
      peakRssMiB: peaks[spec.name],
    };
  })
);
if (SERVERS.length < ALL_SERVERS.length) {
  // A partial run, for comparisons while working: figures only, no files.
  await Deno.stderr.write(new TextEncoder().encode("\r\x1b[K"));
  for (const s of summary) {
    console.log(
      `${s.server.padEnd(10)} ${String(s.connections).padStart(4)} conns: ${
        s.cpuUsPerRequest.toFixed(2)
      } us/req, ` +
        `${
          s.requestsPerSecond.toFixed(0)
        } req/s, p50 ${s.p50Us} us, errors ${s.errors}`,
    );
  }
  Deno.exit(0);
}
await Deno.stderr.write(
  new TextEncoder().encode(
    `\r\x1b[K[idle] ${IDLE} idle connections on server.ts\n`,
  ),
);
const idle = await idleConnections(IDLE);
const row = (name: string, connections: number) =>
  summary.find((s) => s.server === name && s.connections === connections)!;
const ratio = (a: number, b: number) => Math.round(a / b * 100) / 100;
type Figure = "cpuUsPerRequest" | "requestsPerSecond" | "p50Us";
// Our server's figure over another's, at one load, to two decimals.
const oursOver = (other: string, c: number, figure: Figure) =>
  ratio(row("ours", c)[figure], row(other, c)[figure]);
const ratios = LOADS.map((c) => ({
  connections: c,
  cpuVsPython: oursOver("python", c, "cpuUsPerRequest"),
  cpuVsNode: oursOver("node", c, "cpuUsPerRequest"),
  cpuVsEcho: oursOver("echo", c, "cpuUsPerRequest"),
  rpsVsPython: oursOver("python", c, "requestsPerSecond"),
  p50VsPython: oursOver("python", c, "p50Us"),
  loggingOverhead: oursOver("ours-quiet", c, "cpuUsPerRequest"),
}));
const at = (c: number) => ratios.find((r) => r.connections === c)!;
const targets = [
  {
    target: "CPU/request at 32 connections <= 0.85x Python's",
    value: at(32).cpuVsPython,
    met: at(32).cpuVsPython <= 0.85,
  },
  {
    target: "CPU/request at 32 connections <= 1.25x raw Deno echo's",
    value: at(32).cpuVsEcho,
    met: at(32).cpuVsEcho <= 1.25,
  },
  {
    target: "CPU/request at 256 connections <= Python's",
    value: at(256).cpuVsPython,
    met: at(256).cpuVsPython <= 1,
  },
  {
    target: "requests/s >= Python's at every load",
    value: Math.min(...ratios.map((r) => r.rpsVsPython)),
    met: ratios.every((r) => r.rpsVsPython >= 1),
  },
  {
    target: "p50 latency at 1 connection <= Python's",
    value: at(1).p50VsPython,
    met: at(1).p50VsPython <= 1,
  },
  {
    target: `${IDLE} idle connections < 100 MB RSS`,
    value: Math.round(idle.rssMiB * 1.048576),
    met: idle.rssMiB * 1.048576 < 100,
  },
  {
    target: "per-request logging adds <= 25% CPU/request",
    value: Math.max(...ratios.map((r) => r.loggingOverhead)),
    met: ratios.every((r) => r.loggingOverhead <= 1.25),
  },
];

const result = {
  machine,
  settings: {
    rounds: ROUNDS,
    loads: LOADS,
    requests: REQUESTS,
    generatorProcesses: "1 at 1 connection, else 2",
  },
  servers: Object.fromEntries(SERVERS.map((s) => [s.name, s.label])),
  summary,
  ratios,
  idle,
  targets,
  samples,
};
await Deno.mkdir(RESULTS, { recursive: true });
await Deno.writeTextFile(
  `${RESULTS}/latest.json`,
  JSON.stringify(result, null, 1) + "\n",
);
await Deno.writeTextFile(`${RESULTS}/latest.svg`, chart(summary));
console.log(table(result));
const errors = summary.reduce((n, s) => n + s.errors, 0);
if (errors > 0) {
  console.log(`${errors} wrong replies: the figures above are not valid`);
  Deno.exit(1);
}

function table(r: typeof result): string {
  const f = (n: number, digits = 1) => n.toFixed(digits);
  const lines = [
    `Benchmark, ${
      r.machine.date.slice(0, 10)
    }: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB;`,
    `Deno ${r.machine.deno}, Node ${r.machine.node} with zeromq.js ${r.machine.zeromqJs}, pyzmq ${r.machine.pyzmq}.`,
    `Medians of ${r.settings.rounds} interleaved rounds; every reply checked.`,
    "",
    "| server | conns | CPU us/req | req/s | p50 us | p99 us | max us | peak RSS MiB |",
    "|---|--:|--:|--:|--:|--:|--:|--:|",
    ...r.summary.map((s) =>
      `| ${s.server} | ${s.connections} | ${f(s.cpuUsPerRequest)} | ${
        f(s.requestsPerSecond, 0)
      } | ${s.p50Us} | ${s.p99Us} | ${s.maxUs} | ${f(s.peakRssMiB)} |`
    ),
    "",
    "| conns | CPU vs Python | CPU vs Node | CPU vs echo | req/s vs Python | p50 vs Python | logging overhead |",
    "|--:|--:|--:|--:|--:|--:|--:|",
    ...r.ratios.map((x) =>
      `| ${x.connections} | ${x.cpuVsPython} | ${x.cpuVsNode} | ${x.cpuVsEcho} | ${x.rpsVsPython} | ${x.p50VsPython} | ${x.loggingOverhead} |`
    ),
    "",
    `Idle: ${r.idle.connections} connections held on server.ts: ${
      f(r.idle.rssMiB)
    } MiB RSS in total ` +
    `(${f(r.idle.baselineRssMiB)} MiB before, ${
      f(r.idle.perConnectionKiB)
    } KiB per connection), ` +
    `answering throughout: ${r.idle.answeredWhileHeld ? "yes" : "NO"}.`,
    "",
    ...r.targets.map((t) =>
      `${t.met ? "met " : "MISSED"} ${t.target}: ${t.value}`
    ),
  ];
  return lines.join("\n");
}

function chart(rows: typeof summary): string {
  const names = SERVERS.map((s) => s.name);
  const colors = ["#1f77b4", "#aec7e8", "#ff7f0e", "#2ca02c", "#7f7f7f"];
  const max =
    Math.ceil(Math.max(...rows.map((r) => r.cpuUsPerRequest)) * 1.1 / 10) * 10;
  const width = 720, height = 360, left = 60, bottom = 40, top = 40;
  const groupWidth = (width - left - 20) / LOADS.length;
  const barWidth = groupWidth / (names.length + 1);
  const y = (v: number) => height - bottom - v / max * (height - bottom - top);
  const bars = rows.map((r) => {
    const g = LOADS.indexOf(r.connections);
    const i = names.indexOf(r.server);
    const x = left + g * groupWidth + (i + 0.5) * barWidth;
    return `<rect x="${x.toFixed(1)}" y="${
      y(r.cpuUsPerRequest).toFixed(1)
    }" width="${(barWidth - 2).toFixed(1)}" height="${
      (height - bottom - y(r.cpuUsPerRequest)).toFixed(1)
    }" fill="${colors[i]}"><title>${r.server}, ${r.connections} connections: ${
      r.cpuUsPerRequest.toFixed(1)
    } us</title></rect>`;
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
  const legend = names.map((n, i) =>
    `<rect x="${left + i * 130}" y="8" width="10" height="10" fill="${
      colors[i]
    }"/><text x="${left + i * 130 + 14}" y="17">${n}</text>`
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
