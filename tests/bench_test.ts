/**
 * `deno task bench` works from a clone and tells the truth: a quick run
 * measures every server at every load, checks every reply, and writes its
 * raw rounds to the untracked bench/out/, leaving the committed
 * bench/results/ as it was; `--report` of that run prints the very same
 * report; and a run with a figure missing or not a number, or a report with
 * an empty cell, fails. No figure is asserted: speed targets live in the
 * benchmark, never in a test.
 */
import assert from "node:assert/strict";
import { analyse, figureOf, FIGURES } from "../bench/analyse.ts";
import { LOADS } from "../bench/options.ts";
import { FORMAT, type SavedRun } from "../bench/saved_run.ts";
import { reportProblems } from "../bench/report.ts";
import { Proc, ROOT } from "./_process.ts";

const SERVERS = [
  "ours",
  "ours-quiet",
  "python",
  "node",
  "ours-curve",
  "python-curve",
  "echo",
  "node-echo",
];

async function readOrNothing(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

function bench(args: string[]): Proc {
  return new Proc(Deno.execPath(), ["task", "--quiet", "bench", ...args], {
    cwd: ROOT,
  });
}

Deno.test("deno task bench --quick runs every server at every load, every reply correct, into bench/out/, and --report prints the same report", async () => {
  const tracked = await Promise.all(
    ["latest.json", "latest.svg"].map((name) =>
      readOrNothing(`${ROOT}bench/results/${name}`)
    ),
  );
  const started = Date.now();
  const result = await bench(["--quick"]).finish(300_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const out = `${ROOT}bench/out`;
  assert.ok(
    (await Deno.stat(`${out}/latest.json`)).mtime!.getTime() >= started - 1000,
    "bench/out/latest.json written by this run",
  );
  const run: SavedRun = JSON.parse(
    await Deno.readTextFile(`${out}/latest.json`),
  );
  assert.equal(run.format, FORMAT);
  assert.deepEqual(Object.keys(run.servers).sort(), [...SERVERS].sort());
  assert.deepEqual(run.settings.loads, LOADS);
  for (const server of SERVERS) {
    const loads = server.endsWith("-curve") ? [32] : LOADS;
    for (const connections of loads) {
      const [sample, ...more] = run.samples.filter((s) =>
        s.server === server && s.connections === connections
      );
      assert.ok(sample, `${server} at ${connections}: measured`);
      assert.equal(more.length, 0, "one round");
      assert.equal(sample.mismatches, 0, `${server} at ${connections}`);
      assert.equal(sample.errors, 0, `${server} at ${connections}`);
      for (const figure of Object.keys(FIGURES) as (keyof typeof FIGURES)[]) {
        assert.ok(Number.isFinite(figureOf(sample, figure)));
      }
      assert.match(
        result.stdout,
        new RegExp(`^\\| ${server} \\| ${connections} \\|`, "m"),
      );
    }
  }
  assert.deepEqual(
    run.handshakes.map((h) => h.server).sort(),
    ["ours-curve", "python-curve"],
    "new CURVE connections measured on both CURVE servers",
  );
  assert.equal(run.idle?.connections, 200);
  assert.equal(run.idle?.answeredWhileHeld, true);
  assert.match(await Deno.readTextFile(`${out}/latest.svg`), /^<svg /);
  assert.deepEqual(reportProblems(result.stdout), []);
  assert.match(
    result.stdout,
    /\n(All (\d+) targets met|\d+ of \d+ targets MISSED) in this run/,
  );
  assert.match(result.stderr, /^bench: \d+ measurements in 1 round, about/);
  assert.match(result.stderr, /\nbench: took \d+ s; written to bench\/out\//);
  // Not a terminal: no progress drawn over itself.
  const log = result.stdout + result.stderr;
  assert.equal(log.includes("\r"), false, "a carriage return in a log");
  assert.equal(log.includes("\x1b"), false, "an escape code in a log");
  assert.deepEqual(
    await Promise.all(
      ["latest.json", "latest.svg"].map((name) =>
        readOrNothing(`${ROOT}bench/results/${name}`)
      ),
    ),
    tracked,
    "bench/results/ untouched",
  );
  const again = await bench(["--report", `${out}/latest.json`]).finish();
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, result.stdout, "the same report from the JSON");
});

Deno.test("deno task bench --servers ours,echo, a partial run, prints both servers' figures and writes nothing", async () => {
  const result = await bench([
    "--servers",
    "ours,echo",
    "--loads",
    "1,8",
    "--warmup-ms",
    "100",
    "--duration-ms",
    "300",
    "--rounds",
    "2",
  ]).finish(120_000);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  for (const server of ["ours", "echo"]) {
    for (const connections of [1, 8]) {
      // Latency, then throughput: each figure "median (lowest–highest)".
      const figure = "[\\d,.]+ \\([\\d,.]+–[\\d,.]+\\)";
      assert.match(
        result.stdout,
        new RegExp(
          `^\\| ${server} \\| ${connections} \\| ${figure} \\| ${figure} \\| ${figure} \\| ${figure} \\|$`,
          "m",
        ),
      );
      assert.match(
        result.stdout,
        new RegExp(
          `^\\| ${server} \\| ${connections} \\| ${figure} \\| ${figure} \\| ${figure} \\|$`,
          "m",
        ),
      );
    }
  }
  assert.match(result.stderr, /a partial run, --servers: nothing written/);
});

/** A whole, sound run of two servers at two loads, two rounds, made up. */
function madeUpRun(): SavedRun {
  const sample = (server: string, connections: number, round: number) => ({
    server,
    connections,
    round,
    generator: "loadgen" as const,
    seconds: 1,
    requests: 1000 * round,
    requestsPerSecond: 1000 * round,
    latencyUs: { p50: 100, p99: 200, p999: 300, max: 400 + round },
    perConnection: { min: 9, max: 10, zero: 0 },
    mismatches: 0,
    errors: 0,
    serverCpuUsPerRequest: 10 + round,
    generatorCpuUsPerRequest: 1,
  });
  return {
    format: FORMAT,
    machine: {
      date: "2026-12-01T00:00:00Z",
      commit: "abc1234",
      cpu: "a CPU",
      cores: 2,
      memoryGiB: 1,
      deno: "2",
      node: "v20",
      zeromqJs: "6",
      pyzmq: "24",
    },
    settings: {
      rounds: 2,
      loads: [1, 8],
      warmupMs: 100,
      durationMs: 1000,
      serverLoads: {},
      handshakeServers: [],
    },
    servers: { ours: "server.ts", python: "multiply_server.py" },
    peakRssMiB: { ours: 60, python: 20 },
    idle: {
      connections: 10,
      baselineRssMiB: 50,
      rssMiB: 51,
      perConnectionKiB: 100,
      answeredWhileHeld: true,
    },
    samples: ["ours", "python"].flatMap((server) =>
      [1, 8].flatMap((c) => [1, 2].map((r) => sample(server, c, r)))
    ),
    handshakes: [],
  };
}

async function reportOf(run: unknown) {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(run));
    return await bench(["--report", file]).finish();
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("deno task bench --report of a sound run prints every figure; with one missing or not a number it exits 1 and says which", async () => {
  const sound = await reportOf(madeUpRun());
  assert.equal(sound.code, 0, sound.stderr);
  assert.deepEqual(reportProblems(sound.stdout), []);
  assert.match(sound.stdout, /^\| ours \| 8 \| 100 \(100–100\) \| 200 /m);
  assert.match(sound.stdout, /- met: requests\/s at every load >= Python's/);

  const missing = madeUpRun();
  missing.samples = missing.samples.filter((s) =>
    !(s.server === "python" && s.connections === 8 && s.round === 2)
  );
  const gap = await reportOf(missing);
  assert.equal(gap.code, 1);
  assert.match(
    gap.stderr,
    /python at 8 connections, round 2: 0 samples, not 1/,
  );

  const nan = madeUpRun();
  // JSON has no NaN: a figure that was NaN is saved as null.
  (nan.samples[0].latencyUs as unknown as Record<string, unknown>).p999 = null;
  const notANumber = await reportOf(nan);
  assert.equal(notANumber.code, 1);
  assert.match(notANumber.stderr, /ours at 1 connections, round 1: p99.9 is/);

  const wrong = madeUpRun();
  wrong.samples[3].mismatches = 2;
  const mismatched = await reportOf(wrong);
  assert.equal(mismatched.code, 1);
  assert.match(mismatched.stderr, /2 wrong replies/);

  // Medians meet "requests/s >= Python's" at every load (1,500 over 1,500,
  // the first load worst), round 2 at 8 connections does not (2,000 over
  // 2,050): not met.
  const split = madeUpRun();
  for (const s of split.samples) {
    if (s.server === "python" && s.connections === 8) {
      s.requestsPerSecond = s.round === 1 ? 950 : 2050;
    }
  }
  const someRounds = await reportOf(split);
  assert.equal(someRounds.code, 0, someRounds.stderr);
  assert.match(
    someRounds.stdout,
    /^- MISSED: requests\/s at every load >= Python's: 1,500\/s over 1,500\/s = 1\.00 \(ratio of the medians, worst load \(1 connection\); held in 1 of 2 rounds\)$/m,
  );

  const old = await reportOf({ ...madeUpRun(), format: 1 });
  assert.equal(old.code, 1);
  assert.match(old.stderr, /not a run in the layout of format 2/);
});

Deno.test("reportProblems() finds NaN and empty cells in a report's text", () => {
  assert.deepEqual(reportProblems("| a | b |\n|---|--:|\n| x | 1 |"), []);
  assert.equal(reportProblems("| x | NaN (NaN–NaN) |").length, 1);
  assert.equal(reportProblems("| x |  | 1 |").length, 1);
  assert.equal(reportProblems("- met: a target: undefined").length, 1);
});

Deno.test("deno task bench --report FILE --embed PAGE puts the report between the page's markers, and refuses a page without them", async () => {
  const run = await Deno.makeTempFile({ suffix: ".json" });
  const page = await Deno.makeTempFile({ suffix: ".md" });
  try {
    await Deno.writeTextFile(run, JSON.stringify(madeUpRun()));
    await Deno.writeTextFile(
      page,
      "# Performance\n\n<!-- From `tools/deno task bench --report bench/results/latest.json`; checked. -->\n\nold report\n\n<!-- End of the report. -->\n\nAfter.\n",
    );
    const embedded = await bench(["--report", run, "--embed", page]).finish();
    assert.equal(embedded.code, 0, embedded.stderr);
    const printed = await bench(["--report", run]).finish();
    assert.equal(
      await Deno.readTextFile(page),
      "# Performance\n\n<!-- From `tools/deno task bench --report bench/results/latest.json`; checked. -->\n\n" +
        printed.stdout + "\n<!-- End of the report. -->\n\nAfter.\n",
    );
    await Deno.writeTextFile(page, "# Performance\n\nNo markers.\n");
    const refused = await bench(["--report", run, "--embed", page]).finish();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /has no report markers/);
  } finally {
    await Deno.remove(run);
    await Deno.remove(page);
  }
});

Deno.test("the idle-memory target is judged on the figure before rounding: 95.3 MiB (99.9 MB) is under 100 MB, 95.4 MiB is not", () => {
  const under = madeUpRun();
  under.idle!.rssMiB = 95.3;
  const met = analyse(under).targets.find((t) => t.text.includes("idle"));
  assert.equal(met?.met, true);
  assert.equal(met?.value, 99.9);
  const over = madeUpRun();
  over.idle!.rssMiB = 95.4;
  const missed = analyse(over).targets.find((t) => t.text.includes("idle"));
  assert.equal(missed?.met, false);
});
