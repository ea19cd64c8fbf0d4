import assert from "node:assert/strict";
import { ReadTurns } from "../lib/zmtp/read_turns.ts";

Deno.test("ReadTurns.enter() admits reads until the limit is pending", () => {
  const turns = new ReadTurns(3);
  const tickets = [turns.enter(), turns.enter(), turns.enter()];
  assert.ok(tickets.every((ticket) => ticket >= 0));
  assert.equal(turns.enter(), -1);
  turns.done(tickets[0]);
  const again = turns.enter();
  assert.ok(again >= 0);
  turns.done(again);
  turns.done(tickets[1]);
  turns.done(tickets[2]);
});

Deno.test("ReadTurns.wait() admits the waiting first come first served as reads return", async () => {
  const turns = new ReadTurns(2);
  const first = turns.enter();
  const second = turns.enter();
  const order: string[] = [];
  const waits = ["a", "b", "c"].map((name) =>
    turns.wait().then((ticket) => {
      order.push(name);
      return ticket;
    })
  );
  assert.equal(turns.waiting, 3);
  // Nobody jumps the queue, even when room is made.
  turns.done(first);
  assert.equal(turns.enter(), -1);
  const a = await waits[0];
  assert.deepEqual(order, ["a"]);
  turns.done(second);
  const b = await waits[1];
  assert.deepEqual(order, ["a", "b"]);
  turns.done(a);
  turns.done(b);
  turns.done(await waits[2]);
  assert.deepEqual(order, ["a", "b", "c"]);
  assert.equal(turns.waiting, 0);
});

Deno.test("ReadTurns: reads pending for two turns (idle peers) stop holding the others back", async () => {
  const turns = new ReadTurns(2);
  const idle = [turns.enter(), turns.enter()];
  // Nothing returns: only turns going by can let the waiting reader go.
  const ticket = await turns.wait();
  assert.ok(ticket >= 0);
  assert.equal(turns.waiting, 0);
  // The idle reads returning later does not open more room than there is.
  turns.done(idle[0]);
  turns.done(idle[1]);
  const next = turns.enter();
  assert.ok(next >= 0);
  assert.equal(turns.enter(), -1, "the limit still holds for fresh reads");
  turns.done(ticket);
  turns.done(next);
});
