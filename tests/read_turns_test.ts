import assert from "node:assert/strict";
import { READ_BUDGET, ReadTurns, readTurns } from "../lib/zmtp/read_turns.ts";

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

// Starts `count` reads, as connections do before their peers go quiet.
function startReads(turns: ReadTurns, count: number): number[] {
  const tickets = Array.from({ length: count }, () => turns.enter());
  assert.ok(tickets.every((ticket) => ticket >= 0));
  return tickets;
}

// Returns those reads in this tick, as the runtime does after a burst.
function returnReads(turns: ReadTurns, tickets: number[]): void {
  for (const ticket of tickets) turns.done(ticket);
}

// The microtask that judges a tick runs before this resolves.
const afterTick = () => Promise.resolve();
const afterTimers = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("ReadTurns: a tick that returns READ_BUDGET reads holds new reads back, with room to spare, until a turn passes", async () => {
  const turns = new ReadTurns(1000);
  returnReads(turns, startReads(turns, READ_BUDGET));
  await afterTick();
  assert.equal(turns.held, true);
  assert.equal(turns.enter(), -1, "a new read waits, though 1,000 more fit");
  const ticket = await turns.wait();
  assert.ok(ticket >= 0, "a turn without a backlog lets it go");
  assert.equal(turns.held, false);
  turns.done(ticket);
});

Deno.test("ReadTurns: a tick that returns fewer than READ_BUDGET reads holds nothing back", async () => {
  const turns = new ReadTurns(1000);
  returnReads(turns, startReads(turns, READ_BUDGET - 1));
  await afterTick();
  assert.equal(turns.held, false);
  const ticket = turns.enter();
  assert.ok(ticket >= 0);
  turns.done(ticket);
});

Deno.test("ReadTurns: the hold lasts as long as each turn sees another tick of READ_BUDGET reads", async () => {
  const turns = new ReadTurns(1000);
  const started = startReads(turns, 2 * READ_BUDGET);
  returnReads(turns, started.slice(0, READ_BUDGET));
  await afterTick();
  const waiter = turns.wait();
  await afterTimers();
  assert.equal(turns.held, true, "the turn the backlog came in ends held");
  // The runtime's deferred reads come in the next turn: the backlog is
  // still draining, so the turn after it keeps the hold.
  returnReads(turns, started.slice(READ_BUDGET));
  await afterTick();
  await afterTimers();
  assert.equal(turns.held, true);
  assert.equal(turns.waiting, 1, "still waiting two turns on");
  const ticket = await waiter;
  assert.equal(turns.held, false, "a turn without a backlog ends the hold");
  turns.done(ticket);
});

Deno.test("the process-wide readTurns lets 32 reads be pending at once and makes the 33rd wait", () => {
  const tickets: number[] = [];
  for (
    let ticket = readTurns.enter();
    ticket >= 0;
    ticket = readTurns.enter()
  ) {
    tickets.push(ticket);
    if (tickets.length > 10_000) break;
  }
  for (const ticket of tickets) readTurns.done(ticket);
  assert.equal(tickets.length, 32);
});
