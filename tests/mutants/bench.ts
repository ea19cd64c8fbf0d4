import type { Mutant } from "./_mutant.ts";

/** The benchmark's promises: a report tells the truth or the run fails. */
export const mutants: Mutant[] = [
  {
    name: "bench: a figure missing for a server that ran fails the run",
    file: "bench/analyse.ts",
    find: "if (mine.length !== 1) {\n          found.push(",
    replace: "if (mine.length > 1) {\n          found.push(",
    tests: ["tests/bench_test.ts"],
    filter: "--report of a sound run",
  },
  {
    name: "bench: a figure that is not a number fails the run",
    file: "bench/analyse.ts",
    find: "found.push(`${what} is ${value}`);",
    replace: "",
    tests: ["tests/bench_test.ts"],
    filter: "--report of a sound run",
  },
  {
    name: "bench: NaN or an empty cell in a report's text fails it",
    file: "bench/report.ts",
    find: "/NaN|Infinity|undefined|null/",
    replace: "/^$x/",
    tests: ["tests/bench_test.ts"],
    filter: "reportProblems",
  },
  {
    name: "bench: a target met in a minority of rounds is not met",
    file: "bench/analyse.ts",
    find: "met: meets(worst) && roundsMet * 2 > rounds,",
    replace: "met: meets(worst),",
    tests: ["tests/bench_test.ts"],
    filter: "--report of a sound run",
  },
];
