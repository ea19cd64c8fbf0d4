/**
 * The side-by-side benchmark: our server, the tutorial's multiply_server.py
 * (pyzmq on libzmq), a REP server on zeromq.js under Node, and two echo
 * servers as floors (Deno.Conn and node:net, both under Deno), all in one
 * run, rounds interleaved, because these machines are noisy. Closed-loop
 * load comes from bench/loadgen (C); CURVE and idle connections from
 * bench/load.ts.
 *
 *     deno task bench [--rounds N] [--idle N] [--out DIR | --save]
 *     deno task bench --quick
 *     deno task bench --servers ours,python --loads 256 --duration-ms 2000
 *     deno task bench --report bench/results/latest.json
 *     deno task bench --report bench/results/latest.json --embed docs/performance.md
 *
 * The parts: options.ts (the command line), servers.ts (the servers, their
 * processes, /proc), closed_loop.ts and deno_load.ts (generating load),
 * rounds.ts (the schedule), saved_run.ts (the raw JSON), analyse.ts (raw
 * rounds to figures and targets, in one place), report.ts and chart.ts
 * (Markdown and SVG). A run writes latest.json (raw rounds only) and
 * latest.svg to bench/out/ (not tracked), --out DIR, or with --save the
 * committed bench/results/. The run fails (exit 1) when a figure is missing
 * or not a number, or a reply was wrong; so does --report of such a run.
 *
 * @module
 */

import { printError } from "../lib/cli.ts";
import { pythonWithZmq, ROOT } from "../tests/_process.ts";
import { generateKeyPair, writeCertificate } from "../lib/zmtp/curve_keys.ts";
import { encodeZ85Key } from "../lib/zmtp/z85.ts";
import { analyse, problems } from "./analyse.ts";
import { chart } from "./chart.ts";
import { checkLoadgen } from "./loadgen.ts";
import { measureIdle } from "./deno_load.ts";
import { machine, ZEROMQ_JS } from "./machine.ts";
import { parseOptions, type RunOptions } from "./options.ts";
import { report, reportProblems } from "./report.ts";
import { plan, Progress, runRounds } from "./rounds.ts";
import { FORMAT, readSavedRun, type SavedRun } from "./saved_run.ts";
import {
  type CurveKeys,
  hardOpenFilesLimit,
  loadsFor,
  memoryKiB,
  type Running,
  start,
  stop,
} from "./servers.ts";

/** What makes a run and its report invalid; printed, and true when sound. */
function sound(run: SavedRun, markdown: string, partial = false): boolean {
  const found = [...problems(run, partial), ...reportProblems(markdown)];
  if (found.length > 0) {
    printError(
      `bench: this run is not valid:\n${found.map((p) => `  ${p}`).join("\n")}`,
    );
  }
  return found.length === 0;
}

/** Prints the report, or what makes it invalid; returns the exit status. */
function printReport(run: SavedRun, partial = false): number {
  const markdown = report(run, analyse(run));
  console.log(markdown);
  return sound(run, markdown, partial) ? 0 : 1;
}

// The markers around the report in docs/performance.md.
const FROM =
  /(<!-- From `tools\/deno task bench --report [^`]*`[^\n]*-->\n)[\s\S]*?(<!-- End of the report\. -->)/;

/** Puts a sound run's report between a page's markers; the exit status. */
async function embed(run: SavedRun, page: string): Promise<number> {
  const markdown = report(run, analyse(run));
  if (!sound(run, markdown)) return 1;
  const text = await Deno.readTextFile(page);
  if (!FROM.test(text)) {
    printError(
      `bench: ${page} has no report markers (<!-- From \`tools/deno task bench --report ...\` --> ... <!-- End of the report. -->)`,
    );
    return 1;
  }
  await Deno.writeTextFile(
    page,
    text.replace(FROM, (_, from, end) => `${from}\n${markdown}\n\n${end}`),
  );
  printError(
    `bench: the report is in ${page} now; tools/deno fmt ${page} lays out its tables`,
  );
  return 0;
}

/** Stops the benchmark with one line that says what to do. */
function setupMissing(message: string): never {
  printError(message);
  Deno.exit(1);
}

async function makeCurveCertificate(): Promise<CurveKeys> {
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

/** Found before any server starts: each message says to run tools/setup. */
async function checkSetup(options: RunOptions): Promise<void> {
  const missing = await checkLoadgen();
  if (missing) setupMissing(missing);
  if (options.servers.some((s) => s.name.startsWith("python"))) {
    try {
      pythonWithZmq();
    } catch (error) {
      setupMissing((error as Error).message);
    }
  }
  if (options.servers.some((s) => s.name === "node")) {
    try {
      await Deno.stat(ZEROMQ_JS);
    } catch {
      setupMissing(
        "bench: zeromq.js is not installed in tests/peers: run tools/setup",
      );
    }
  }
}

/**
 * The open files each child may use: the most connections at once and some
 * to spare, within the hard limit (the children raise their own soft limit
 * to it). Idle connections are held within it, fewer if need be.
 */
async function openFiles(options: RunOptions): Promise<number> {
  const hard = await hardOpenFilesLimit();
  const busiest = Math.max(...options.loads) + 100;
  if (busiest > hard) {
    setupMissing(
      `bench: ${
        Math.max(...options.loads)
      } connections need ${busiest} open files, and the hard limit is ${hard}: raise it (ulimit -Hn) or give fewer --loads`,
    );
  }
  if (options.idle !== undefined && options.idle + 100 > hard) {
    printError(
      `bench: open files are limited to ${hard}; holding ${
        hard - 100
      } idle connections, not ${options.idle}`,
    );
    options.idle = hard - 100;
  }
  return Math.min(hard, Math.max(busiest, (options.idle ?? 0) + 100));
}

async function runBench(options: RunOptions): Promise<number> {
  await checkSetup(options);
  const files = await openFiles(options);
  const curve = options.servers.some((s) => s.mode === "curve")
    ? await makeCurveCertificate()
    : undefined;
  const { steps, seconds } = plan(options);
  printError(
    `bench: ${steps} measurements in ${options.rounds} round${
      options.rounds === 1 ? "" : "s"
    }, about ${seconds} s${options.idle ? ", then idle connections" : ""}`,
  );
  const progress = new Progress();
  const about = await machine(
    options.servers.some((s) => s.name.startsWith("python")),
  );
  const servers: Running[] = [];
  let measured;
  const peakRssMiB: Record<string, number> = {};
  try {
    for (const spec of options.servers) {
      servers.push(await start(spec, curve, files));
    }
    measured = await runRounds(servers, options, curve, progress);
    for (const server of servers) {
      peakRssMiB[server.spec.name] = (await memoryKiB(server.child.pid)).peak /
        1024;
    }
  } finally {
    await Promise.all(servers.map(stop));
  }
  let idle;
  if (options.idle !== undefined) {
    progress.show(`${options.idle} idle connections on server.ts`);
    const server = await start(options.servers[0], curve, files);
    try {
      idle = await measureIdle(server, options.idle, files);
    } finally {
      await stop(server);
    }
  }
  progress.clear();
  const run: SavedRun = {
    format: FORMAT,
    machine: about,
    settings: {
      rounds: options.rounds,
      loads: options.loads,
      warmupMs: options.warmupMs,
      durationMs: options.durationMs,
      serverLoads: Object.fromEntries(
        options.servers.filter((s) => s.loads !== undefined).map((
          s,
        ) => [s.name, loadsFor(s, options.loads)]),
      ),
      handshakeServers: options.servers.filter((s) => s.mode === "curve").map(
        (s) => s.name,
      ),
    },
    servers: Object.fromEntries(options.servers.map((s) => [s.name, s.label])),
    peakRssMiB,
    idle,
    samples: measured.samples,
    handshakes: measured.handshakes,
  };
  const status = printReport(run, options.partial);
  const took = `bench: took ${progress.seconds.toFixed(0)} s`;
  if (options.partial) {
    printError(`${took} (a partial run, --servers: nothing written)`);
    return status;
  }
  await Deno.mkdir(options.results, { recursive: true });
  await Deno.writeTextFile(
    `${options.results}/latest.json`,
    JSON.stringify(run, null, 1) + "\n",
  );
  await Deno.writeTextFile(
    `${options.results}/latest.svg`,
    chart(analyse(run).rows),
  );
  printError(
    `${took}; written to ${options.results.replace(ROOT, "")}/${
      options.save ? "" : " (not tracked; --save updates bench/results/)"
    }`,
  );
  return status;
}

const options = parseOptions(Deno.args, ROOT);
if ("report" in options) {
  let run: SavedRun;
  try {
    run = await readSavedRun(options.report);
  } catch (error) {
    setupMissing(`bench: ${(error as Error).message}`);
  }
  Deno.exit(
    options.embed === undefined
      ? printReport(run)
      : await embed(run, options.embed),
  );
}
Deno.exit(await runBench(options.run));
