/**
 * The benchmark's command line: what a run measures, or which saved run to
 * report. A command line that cannot be used prints usage and exits 2.
 *
 * @module
 */

import {
  parseCommandLine,
  parseInteger,
  printError,
  UsageError,
} from "../lib/cli.ts";
import { ALL_SERVERS, type ServerSpec } from "./servers.ts";

/**
 * How long `--quick` takes, measured on this project's 2-core machine while
 * other work shared it (55 s); the usage says it.
 */
export const QUICK_SECONDS = 60;

/** The usage text. */
export const USAGE =
  `usage: deno task bench [--rounds N] [--idle N] [--out DIR | --save]
       deno task bench --quick            (one short round, about ${QUICK_SECONDS} s)
       deno task bench --servers NAME,... [--loads N,...] [--warmup-ms MS] [--duration-ms MS]
       deno task bench --report FILE [--embed PAGE]`;

/** The closed-loop loads of a full run, in connections. */
export const LOADS: readonly number[] = [1, 8, 32, 256, 512, 1024];

/** What a run measures. */
export interface RunOptions {
  rounds: number;
  loads: number[];
  warmupMs: number;
  durationMs: number;
  /** Idle connections held on our server; absent in a partial run. */
  idle?: number;
  servers: ServerSpec[];
  /** Only some servers (`--servers`): print the tables, save nothing. */
  partial: boolean;
  quick: boolean;
  /** Where latest.json and latest.svg go. */
  results: string;
  save: boolean;
}

/** What the command line asks for: a run, or the report of a saved one. */
export type Options =
  | { report: string; embed?: string }
  | { run: RunOptions };

/** Parses the command line; prints usage and exits 2 when it cannot be used. */
export function parseOptions(args: readonly string[], root: string): Options {
  try {
    return parse(args, root);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`bench: ${error.message}\n\n${USAGE}`);
    Deno.exit(2);
  }
}

function parse(args: readonly string[], root: string): Options {
  const cli = parseCommandLine(args, {
    rounds: { type: "string" },
    quick: { type: "boolean" },
    idle: { type: "string" },
    servers: { type: "string" },
    out: { type: "string" },
    save: { type: "boolean" },
    report: { type: "string" },
    embed: { type: "string" },
    loads: { type: "string" },
    "warmup-ms": { type: "string" },
    "duration-ms": { type: "string" },
    help: { type: "boolean", short: "h" },
  }, 0);
  if (cli.flag("help")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const report = cli.string("report");
  const embed = cli.string("embed");
  if (report !== undefined) return { report, embed };
  if (embed !== undefined) throw new UsageError("--embed goes with --report");
  const count = (name: string, min = 1) => {
    const text = cli.string(name);
    return text === undefined
      ? undefined
      : parseInteger(text, `--${name}`, min, Number.MAX_SAFE_INTEGER);
  };
  const out = cli.string("out");
  const save = cli.flag("save");
  if (save && out !== undefined) {
    throw new UsageError("give --save or --out, not both");
  }
  const names = cli.string("servers")?.split(",");
  for (const name of names ?? []) {
    if (!ALL_SERVERS.some((s) => s.name === name)) {
      throw new UsageError(
        `no server '${name}'; there are ${
          ALL_SERVERS.map((s) => s.name).join(", ")
        }`,
      );
    }
  }
  const partial = names !== undefined &&
    ALL_SERVERS.some((s) => !names.includes(s.name));
  if (partial && save) {
    throw new UsageError("--save keeps whole runs only, not --servers");
  }
  const quick = cli.flag("quick");
  const loads = cli.string("loads")?.split(",").map((text) =>
    parseInteger(text, "--loads", 1, 100_000)
  );
  return {
    run: {
      rounds: count("rounds") ?? (quick ? 1 : 5),
      loads: loads ?? [...LOADS],
      warmupMs: count("warmup-ms", 0) ?? (quick ? 200 : 1000),
      durationMs: count("duration-ms") ?? (quick ? 500 : 4000),
      idle: partial ? undefined : count("idle", 1) ?? (quick ? 200 : 5000),
      servers: ALL_SERVERS.filter((s) => !names || names.includes(s.name)),
      partial,
      quick,
      results: save ? `${root}bench/results` : out ?? `${root}bench/out`,
      save,
    },
  };
}
