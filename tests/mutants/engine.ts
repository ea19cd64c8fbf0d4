/**
 * Mutants for promises the engine made before the catalogue existed.
 *
 * @module
 */

import type { Mutant } from "./_mutant.ts";

export const mutants: Mutant[] = [
  {
    name:
      "frame size check: a size over the limit is refused before allocating",
    file: "lib/zmtp/frame.ts",
    find: "if (size <= limit) return size;",
    replace: "return size;",
    tests: ["tests/frame_test.ts"],
    filter: "refuses a size over the limit",
  },
];
