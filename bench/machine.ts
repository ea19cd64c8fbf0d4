/**
 * What a run ran on: the date, the commit (and whether it had changes), the
 * CPU, and the versions of every runtime and library compared.
 *
 * @module
 */

import { pythonWithZmq, ROOT } from "../tests/_process.ts";

/** zeromq.js's package file, once tools/setup has installed it. */
export const ZEROMQ_JS = `${ROOT}tests/peers/node_modules/zeromq/package.json`;

async function output(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await new Deno.Command(command, { args, cwd: ROOT })
      .output();
    return new TextDecoder().decode(stdout).trim();
  } catch {
    return "unknown";
  }
}

/** The machine and versions of a run, as the report's first line shows them. */
export async function machine(
  usesPython: boolean,
): Promise<Record<string, string | number>> {
  const cpu = /model name\s*:\s*(.+)/.exec(
    await output("cat", ["/proc/cpuinfo"]),
  )?.[1] ?? "unknown";
  const commit = await output("git", ["rev-parse", "--short", "HEAD"]);
  // Code not committed yet: say so, since the commit alone does not tell.
  const dirty = await output("git", [
    "status",
    "--porcelain",
    "--untracked-files=no",
    "--",
    ".",
    ":(exclude)bench/results",
  ]);
  let zeromqJs = "not installed";
  try {
    zeromqJs = JSON.parse(await Deno.readTextFile(ZEROMQ_JS)).version;
  } catch {
    // Reported as not installed.
  }
  return {
    date: new Date().toISOString(),
    commit: dirty ? `${commit} with changes` : commit,
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    deno: Deno.version.deno,
    node: await output("node", ["--version"]),
    pyzmq: usesPython
      ? await output(pythonWithZmq(), [
        "-c",
        "import zmq; print(zmq.__version__, 'on libzmq', zmq.zmq_version())",
      ])
      : "not run",
    zeromqJs,
  };
}
