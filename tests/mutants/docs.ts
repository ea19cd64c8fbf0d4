/**
 * Mutants for the documentation's promises: every console block of
 * README.md and docs/*.md prints what it shows, the README's test command is
 * the one .ci/run runs, and every link between the pages leads somewhere.
 *
 * @module
 */

import type { Mutant } from "./_mutant.ts";

export const mutants: Mutant[] = [
  {
    name: "docs/guide.md's console block with no server prints what it shows",
    file: "docs/guide.md",
    find: "no reply after 3 tries: connection refused",
    replace: "no reply after 2 tries: connection refused",
    tests: ["tests/readme_test.ts"],
    filter: "the pipeline with no server",
  },
  {
    name: "a console block in docs/*.md must have a check",
    file: "docs/testing.md",
    find: "## Running them\n\n",
    replace:
      "## Running them\n\n```console\n$ echo unchecked\nunchecked\n```\n\n",
    tests: ["tests/readme_test.ts"],
    filter: "every console block is one this file checks",
  },
  {
    name: "the README's test command is the one .ci/run runs",
    file: ".ci/run",
    find: "tools/setup && tools/deno task test 2>&1",
    replace: "tools/deno task test 2>&1",
    tests: ["tests/readme_test.ts"],
    filter: "the test command is the one .ci/run runs",
  },
  {
    name: "a link between the pages leads to a heading",
    file: "docs/security.md",
    find: "(design.md#dependencies)",
    replace: "(design.md#dependency)",
    tests: ["tests/readme_test.ts"],
    filter: "every relative link",
  },
  {
    name: "the Performance report is the saved run's",
    file: "docs/performance.md",
    // The report's last line, whatever the run: "All N targets met in this
    // run." or "K of N targets MISSED in this run: ...".
    find: " in this run",
    replace: " in that run",
    tests: ["tests/readme_test.ts"],
    filter: "the Performance report",
  },
];
