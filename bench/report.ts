/**
 * The report of a run in Markdown, as docs/performance.md embeds it between
 * its markers: made from {@link Analysis} only, so `deno task bench` and
 * `deno task bench --report FILE` print the same text for the same run.
 *
 * @module
 */

import type { Analysis, Figure, Row, Spread, Target } from "./analyse.ts";
import { FIGURES, loadsOf } from "./analyse.ts";
import type { SavedRun } from "./saved_run.ts";

function n(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Markdown: the run, its tables and its targets. */
export function report(run: SavedRun, analysis: Analysis): string {
  const { rounds } = run.settings;
  const cell = (s: Spread, digits: number) =>
    rounds > 1
      ? `${n(s.median, digits)} (${n(s.min, digits)}–${n(s.max, digits)})`
      : n(s.median, digits);
  const figures = (row: Row, names: Figure[]) =>
    names.map((f) => cell(row.figures[f], FIGURES[f])).join(" | ");
  const missed = analysis.targets.filter((t) => !t.met);
  const viaLoadTs = [
    ...new Set(
      analysis.rows.filter((r) => r.generator === "load.ts").map((r) =>
        r.server
      ),
    ),
  ];
  return [
    header(run),
    "",
    "Latency in microseconds, from sending a request to its whole reply:",
    "",
    "| server | conns | p50 | p99 | p99.9 | max |",
    "|---|--:|--:|--:|--:|--:|",
    ...analysis.rows.map((r) =>
      `| ${r.server} | ${r.connections} | ${
        figures(r, ["p50Us", "p99Us", "p999Us", "maxUs"])
      } |`
    ),
    "",
    "Throughput; the server's CPU time per request (all its threads, from " +
    "/proc/PID/task/*/schedstat: over the generator's whole run, connecting " +
    "and warm-up included, divided by every reply in it); and fairness (the " +
    "fewest replies any connection got in the measured time over the most; " +
    "1 is even, 0 means a connection got none):",
    "",
    "| server | conns | req/s | CPU us/req | fairness |",
    "|---|--:|--:|--:|--:|",
    ...analysis.rows.map((r) =>
      `| ${r.server} | ${r.connections} | ${
        figures(r, ["requestsPerSecond", "cpuUsPerRequest", "fairness"])
      } |`
    ),
    "",
    ...(viaLoadTs.length === 0 ? [] : [
      `${viaLoadTs.join(" and ")} ${
        viaLoadTs.length === 1 ? "is" : "are"
      } driven by bench/load.ts (our CURVE client on Deno), since ` +
      "bench/loadgen speaks no CURVE; their CPU time is read around the " +
      "measured time only.",
      "",
    ]),
    ...(analysis.generatorCpuUs === undefined ? [] : [
      `bench/loadgen's own CPU time per request: ${
        n(analysis.generatorCpuUs.min, 1)
      }–${n(analysis.generatorCpuUs.max, 1)} us.`,
      "",
    ]),
    "Peak RSS over the run, in MiB: " +
    Object.keys(run.servers).map((s) => `${s} ${n(run.peakRssMiB[s], 1)}`).join(
      ", ",
    ) + ".",
    ...(analysis.handshakes.length === 0 ? [] : [
      "",
      "New CURVE connections (8 loops, each connecting, completing the " +
      "handshake and closing):",
      "",
      "| server | handshakes/s | server CPU us per handshake |",
      "|---|--:|--:|",
      ...analysis.handshakes.map((h) =>
        `| ${h.server} | ${cell(h.handshakesPerSecond, 0)} | ${
          cell(h.cpuUsPerHandshake, 0)
        } |`
      ),
    ]),
    ...(run.idle === undefined ? [] : [
      "",
      `Idle: ${run.idle.connections} connections held on server.ts: ${
        n(run.idle.rssMiB, 1)
      } MiB RSS in total (${n(run.idle.baselineRssMiB, 1)} MiB before, ${
        n(run.idle.perConnectionKiB, 1)
      } KiB per connection), answering throughout: ${
        run.idle.answeredWhileHeld ? "yes" : "NO"
      }.`,
    ]),
    ...(analysis.targets.length === 0 ? [] : [
      "",
      "Targets: each is ours over the other's, as the ratio of the medians " +
      "in the tables above, and is met only when that ratio holds and the " +
      "same comparison held in a majority of the rounds.",
      "",
      ...analysis.targets.map(targetLine),
      "",
      missed.length === 0
        ? `All ${analysis.targets.length} targets met in this run.`
        : `${missed.length} of ${analysis.targets.length} targets MISSED in this run: ${
          missed.map((t) => t.text).join("; ")
        }.`,
    ]),
  ].join("\n");
}

function header(run: SavedRun): string {
  const m = run.machine;
  const { rounds, warmupMs, durationMs, loads } = run.settings;
  const special = Object.keys(run.servers).filter((s) =>
    loadsOf(run, s).join() !== loads.join()
  ).map((s) => `${s} at ${loadsOf(run, s).join(", ")}`);
  return `Run of ${
    String(m.date).slice(0, 10)
  } at commit ${m.commit}: ${m.cpu}, ` +
    `${m.cores} cores, ${m.memoryGiB} GiB; Deno ${m.deno}, Node ${m.node} ` +
    `with zeromq.js ${m.zeromqJs}, pyzmq ${m.pyzmq}. ${rounds} round${
      rounds === 1 ? "" : "s"
    }, servers interleaved; at ${loads.join(", ")} connection${
      loads.length === 1 && loads[0] === 1 ? "" : "s"
    }${
      special.length ? ` (${special.join("; ")})` : ""
    }, each connection keeping one request in flight (closed loop), ` +
    `${warmupMs / 1000} s of warm-up then ${
      durationMs / 1000
    } s measured; every reply checked. ` +
    (rounds > 1
      ? "Each figure is the median of the rounds, with the lowest and " +
        "highest round in brackets."
      : "One round: figures vary from run to run, and only several rounds " +
        "show by how much.");
}

function targetLine(t: Target): string {
  const figures = t.ours === undefined
    ? `${n(t.value, 1)}${t.unit}`
    : `${n(t.ours, t.unit === " us" && t.ours < 100 ? 1 : 0)}${t.unit} over ${
      n(t.theirs!, t.unit === " us" && t.theirs! < 100 ? 1 : 0)
    }${t.unit} = ${n(t.value, 2)}`;
  const held = t.rounds === 1 && t.aggregation === "measured once"
    ? ""
    : `; held in ${t.roundsMet} of ${t.rounds} round${
      t.rounds === 1 ? "" : "s"
    }`;
  return `- ${
    t.met ? "met" : "MISSED"
  }: ${t.text}: ${figures} (${t.aggregation}${held})`;
}

/**
 * What is wrong with a report's text: NaN, Infinity, undefined, or an empty
 * table cell. Empty when it is sound.
 */
export function reportProblems(markdown: string): string[] {
  const found: string[] = [];
  for (const [i, line] of markdown.split("\n").entries()) {
    if (/NaN|Infinity|undefined|null/.test(line)) {
      found.push(`line ${i + 1}: ${line}`);
    } else if (
      line.startsWith("|") && !/^\|[-:| ]+\|$/.test(line) &&
      line.split("|").slice(1, -1).some((c) => c.trim() === "")
    ) {
      found.push(`line ${i + 1} has an empty cell: ${line}`);
    }
  }
  return found;
}
