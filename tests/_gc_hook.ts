/**
 * Memory figures from a process run with tests/peers/gc_hook.ts preloaded:
 * on SIGUSR2 the hook collects garbage, trims malloc and prints one
 * `gc_hook {...}` line on stderr.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Proc, ROOT, SERVER_V8_FLAGS } from "./_process.ts";

/** Deno flags that preload the hook (and let it collect) in a Deno process. */
export const GC_HOOK_FLAGS: readonly string[] = [
  "--allow-ffi",
  `--v8-flags=${SERVER_V8_FLAGS},--expose-gc`,
  "--preload",
  `${ROOT}tests/peers/gc_hook.ts`,
];

/** What the hook reports, in octets. */
export interface HookFigures {
  heapUsed: number;
  external: number;
  mallocInUse: number;
}

/** Has the hook collect and trim, and returns its next line's figures. */
export async function collectGarbage(proc: Proc): Promise<HookFigures> {
  const seen = proc.stderr.split("gc_hook ").length - 1;
  proc.kill("SIGUSR2");
  // The hook's next line: one more than there were, whole.
  await proc.waitFor(
    new RegExp(`(?:[^]*?gc_hook [^\\n]*\\n){${seen + 1}}`),
    5000,
    "stderr",
  );
  const line = proc.stderr.split("gc_hook ").at(-1)!.split("\n")[0];
  const facts = JSON.parse(line);
  assert.ok(
    facts.gc && facts.mallocInUse !== undefined,
    `the hook collected and asked malloc: ${line}`,
  );
  return facts;
}
