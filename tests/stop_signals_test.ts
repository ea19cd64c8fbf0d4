/**
 * StopSignals, with a fake clock: the first stop signal is graceful, one
 * within REPEAT_WINDOW_MS of it is the same keypress, a later one stops at
 * once. (tests/cli_test.ts presses the keys on a real terminal.)
 */
import assert from "node:assert/strict";
import { REPEAT_WINDOW_MS, StopSignals } from "../lib/stop_signals.ts";

Deno.test("StopSignals.signal() takes the first signal for a graceful stop", () => {
  assert.equal(new StopSignals().signal(1000), "graceful");
});

Deno.test("StopSignals.signal() takes signals within the window for the same keypress", () => {
  const signals = new StopSignals();
  signals.signal(1000);
  assert.equal(signals.signal(1000), "repeat");
  assert.equal(signals.signal(1000 + REPEAT_WINDOW_MS - 1), "repeat");
});

Deno.test("StopSignals.signal() takes a signal after the window for a stop at once", () => {
  const signals = new StopSignals();
  signals.signal(1000);
  signals.signal(1010);
  assert.equal(signals.signal(1000 + REPEAT_WINDOW_MS), "at once");
  assert.equal(signals.signal(1000 + 10 * REPEAT_WINDOW_MS), "at once");
});
