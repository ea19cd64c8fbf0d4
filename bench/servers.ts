/**
 * The servers the benchmark compares, how each is started and stopped, and
 * what is read from /proc about a running one (CPU time, memory).
 *
 * @module
 */

import { freePort, pythonWithZmq, ROOT } from "../tests/_process.ts";

const DENO = Deno.execPath();

/** How a generator talks to a server. */
export type Mode = "zmtp" | "echo" | "curve";

/** One server of the comparison. */
export interface ServerSpec {
  name: string;
  label: string;
  /** The command that runs it on a port; `curve` is the run's certificate. */
  command: (port: number, curve: CurveKeys | undefined) => [string, string[]];
  mode: Mode;
  /** The loads it runs at, when not all (CURVE runs at 32 connections). */
  loads?: number[];
}

/** The run's CURVE certificate for the CURVE servers. */
export interface CurveKeys {
  dir: string;
  secret: string;
  publicKey: string;
}

function needCurve(curve: CurveKeys | undefined): CurveKeys {
  if (curve === undefined) throw new Error("No CURVE certificate in this run");
  return curve;
}

// Our server runs exactly as `deno task server` runs it, flags and all.
const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const SERVER_TASK: string[] = config.tasks.server.split(" ");
if (SERVER_TASK[0] !== "deno" || SERVER_TASK.at(-1) !== "server.ts") {
  throw new Error(`Cannot read the server task: ${config.tasks.server}`);
}

function ours(port: number, ...extra: string[]): [string, string[]] {
  return [DENO, [
    ...SERVER_TASK.slice(1, -1),
    ...extra.filter((arg) => arg.startsWith("--allow-")),
    `${ROOT}server.ts`,
    "2",
    String(port),
    ...extra.filter((arg) => !arg.startsWith("--allow-")),
  ]];
}

function tutorial(script: string, ...args: string[]): [string, string[]] {
  return [pythonWithZmq(), ["-u", `${ROOT}${script}`, ...args]];
}

/** Every server, in the order the tables list them. */
export const ALL_SERVERS: readonly ServerSpec[] = [
  {
    name: "ours",
    label: "server.ts (logging to /dev/null)",
    command: (port) => ours(port),
    mode: "zmtp",
  },
  {
    name: "ours-quiet",
    label: "server.ts --quiet",
    command: (port) => ours(port, "--quiet"),
    mode: "zmtp",
  },
  {
    name: "python",
    label: "multiply_server.py (pyzmq)",
    command: (port) =>
      tutorial("tests/tutorial/multiply_server.py", "2", String(port)),
    mode: "zmtp",
  },
  {
    name: "node",
    label: "zeromq.js REP under Node",
    command: (port) => [
      "node",
      [`${ROOT}tests/peers/zeromq_rep.mjs`, "2", String(port)],
    ],
    mode: "zmtp",
  },
  {
    name: "ours-curve",
    label: "server.ts --curve-key (CURVE, logging to /dev/null)",
    command: (port, curve) =>
      ours(
        port,
        `--allow-read=${needCurve(curve).dir}`,
        "--curve-key",
        needCurve(curve).secret,
      ),
    mode: "curve",
    loads: [32],
  },
  {
    name: "python-curve",
    label: "multiply_server.py with curve_server = True (pyzmq)",
    command: (port, curve) =>
      tutorial(
        "bench/python_curve_server.py",
        needCurve(curve).secret,
        "2",
        String(port),
      ),
    mode: "curve",
    loads: [32],
  },
  {
    name: "echo",
    label: "raw Deno.Conn echo (floor)",
    command: (port) => [DENO, [
      "run",
      "--allow-net",
      `${ROOT}bench/echo_server.ts`,
      String(port),
    ]],
    mode: "echo",
  },
  {
    name: "node-echo",
    label: "node:net echo under Deno (floor)",
    command: (port) => [DENO, [
      "run",
      "--allow-net",
      `${ROOT}bench/echo_node_server.ts`,
      String(port),
    ]],
    mode: "echo",
  },
];

/** The loads a server runs at, out of the run's. */
export function loadsFor(spec: ServerSpec, loads: readonly number[]): number[] {
  return spec.loads === undefined
    ? [...loads]
    : loads.filter((c) => spec.loads!.includes(c));
}

/** A server started on its own port. */
export interface Running {
  spec: ServerSpec;
  port: number;
  child: Deno.ChildProcess;
}

/**
 * Runs a command with its open-files soft limit raised to `openFiles`
 * (within the hard limit): a server holding 1,024 connections, or 5,000
 * idle ones, needs more than the usual 1,024.
 */
export function withOpenFiles(
  openFiles: number,
  [command, args]: [string, string[]],
): [string, string[]] {
  return ["sh", [
    "-c",
    `ulimit -n ${openFiles} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
    command,
    ...args,
  ]];
}

/** This process's hard open-files limit: what a child may raise its own to. */
export async function hardOpenFilesLimit(): Promise<number> {
  const { stdout } = await new Deno.Command("sh", {
    args: ["-c", "ulimit -Hn"],
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  return text === "unlimited" ? 1 << 20 : Number(text) || 1024;
}

async function waitForPort(port: number, child: Deno.ChildProcess) {
  let ended = false;
  child.status.then(() => ended = true);
  for (let i = 0; i < 300 && !ended; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(
    ended ? "the server ended at start" : `nothing listens on port ${port}`,
  );
}

/** Starts a server, its log to /dev/null, and waits until it listens. */
export async function start(
  spec: ServerSpec,
  curve: CurveKeys | undefined,
  openFiles: number,
): Promise<Running> {
  const port = freePort();
  const [command, args] = withOpenFiles(openFiles, spec.command(port, curve));
  const child = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    await waitForPort(port, child);
  } catch (error) {
    await stop({ spec, port, child });
    throw new Error(`${spec.name}: ${(error as Error).message}`);
  }
  return { spec, port, child };
}

/** Stops a server at once. */
export async function stop(server: Running): Promise<void> {
  try {
    server.child.kill("SIGKILL");
  } catch {
    // Gone already.
  }
  await server.child.status;
}

const TICKS_PER_SECOND = Number(
  new TextDecoder().decode(
    (await new Deno.Command("getconf", { args: ["CLK_TCK"] }).output()).stdout,
  ),
) || 100;

async function procFile(pid: number, name: string): Promise<string> {
  // Deno asks for --allow-all to read /proc; cat needs only --allow-run.
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/${name}`],
  }).output();
  return new TextDecoder().decode(stdout);
}

/**
 * CPU time of a process and all its threads, in microseconds: the on-CPU
 * nanoseconds the scheduler keeps per thread (/proc/PID/task/TID/schedstat),
 * a thousand times finer than the 10 ms ticks of /proc/PID/stat.
 */
export async function cpuMicros(pid: number): Promise<number> {
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

/** Resident memory of a process now and at its peak, in KiB. */
export async function memoryKiB(
  pid: number,
): Promise<{ rss: number; peak: number }> {
  const status = await procFile(pid, "status");
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), peak: field("VmHWM") };
}
