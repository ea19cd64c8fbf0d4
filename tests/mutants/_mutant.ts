/**
 * The shape of one mutant: a small patch to the source that removes one
 * promised behaviour, and the tests that must then fail. `tools/mutants.ts`
 * applies each to a copy of the repository and runs its tests there.
 *
 * @module
 */

/** One patch that removes one promise, and the tests that claim it. */
export interface Mutant {
  /** The promise the patch removes, as the docs state it. */
  name: string;
  /** The file patched, relative to the repository root. */
  file: string;
  /** Text that occurs exactly once in the file. */
  find: string;
  /** What the text becomes. */
  replace: string;
  /** Test files, relative to the root, that must fail once patched. */
  tests: string[];
  /** A `deno test --filter` for those files, when only some tests claim it. */
  filter?: string;
}
