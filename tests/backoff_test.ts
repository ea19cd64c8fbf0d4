import assert from "node:assert/strict";
import { backoffDelay } from "../lib/zmtp/transport.ts";

// The defaults docs/guide.md states: 100 ms doubling to 5 s, with jitter.
const DEFAULTS = { reconnectInterval: 100, reconnectMaxInterval: 5_000 };

Deno.test("backoffDelay() doubles from the interval up to the cap", () => {
  assert.deepEqual(
    Array.from(
      { length: 9 },
      (_, attempt) => backoffDelay(attempt, DEFAULTS, () => 0),
    ),
    [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000],
  );
  assert.equal(backoffDelay(1_000, DEFAULTS, () => 0), 5000);
});

Deno.test("backoffDelay() adds jitter of up to one interval", () => {
  assert.equal(backoffDelay(0, DEFAULTS, () => 0.5), 150);
  assert.equal(backoffDelay(8, DEFAULTS, () => 0.999), 5100);
});

Deno.test("backoffDelay() keeps the interval when the cap is 0 or below it", () => {
  const fixed = { reconnectInterval: 100, reconnectMaxInterval: 0 };
  assert.equal(backoffDelay(5, fixed, () => 0), 100);
});
