import type { Mutant } from "./_mutant.ts";

// Fair reads (issue 14): lib/zmtp/read_turns.ts.
export const mutants: Mutant[] = [
  {
    name: "no connection starves: at most 32 reads pending at once",
    file: "lib/zmtp/read_turns.ts",
    find: "export const READS_PENDING = 32;",
    replace: "export const READS_PENDING = 1e9;",
    // The hold alone keeps 512 connections fair enough for the quarter
    // rule in some runs; the limit itself is asserted in read_turns_test.
    tests: ["tests/read_turns_test.ts", "tests/fairness_test.ts"],
  },
  {
    name: "reads past the pending limit wait their turn",
    file: "lib/zmtp/read_turns.ts",
    find: "if (!this.#hasRoom()) return -1;",
    replace: "",
    tests: ["tests/read_turns_test.ts"],
  },
  {
    name: "reads from turns before the last no longer count",
    file: "lib/zmtp/read_turns.ts",
    find: "if (ticket >= this.#turn - 1) this.#pending[ticket & 1]--;",
    replace: "this.#pending[ticket & 1]--;",
    tests: ["tests/read_turns_test.ts"],
  },
  {
    name: "the first wave from idle connections is served in turn",
    file: "lib/zmtp/read_turns.ts",
    find:
      "if (this.#returned >= READ_BUDGET) this.#held = this.#backlog = true;",
    replace: "",
    tests: ["tests/fairness_test.ts"],
  },
  {
    name: "a tick of READ_BUDGET reads holds new reads back",
    file: "lib/zmtp/read_turns.ts",
    find: "if (this.#held) return -1;",
    replace: "",
    tests: ["tests/read_turns_test.ts"],
  },
  {
    name: "a backlog in a held turn renews the hold",
    file: "lib/zmtp/read_turns.ts",
    find:
      "if (this.#returned >= READ_BUDGET) this.#held = this.#backlog = true;",
    replace:
      "if (this.#returned >= READ_BUDGET && !this.#held) this.#held = this.#backlog = true;",
    tests: ["tests/read_turns_test.ts"],
  },
  {
    name: "reads returning while held let no waiting reader go",
    file: "lib/zmtp/read_turns.ts",
    find:
      "while (this.#head < waiting.length && !this.#held && this.#hasRoom()) {",
    replace: "while (this.#head < waiting.length && this.#hasRoom()) {",
    tests: ["tests/read_turns_test.ts"],
  },
  {
    name: "a hold lasts while each turn sees another backlog",
    file: "lib/zmtp/read_turns.ts",
    find: "this.#held = this.#backlog;",
    replace: "this.#held = false;",
    tests: ["tests/read_turns_test.ts"],
  },
];
