import assert from "node:assert/strict";
import { FairQueue } from "../lib/zmtp/fair_queue.ts";
import { LoadBalancer } from "../lib/zmtp/load_balancer.ts";

/** A plain in-memory queue of messages, standing in for a pipe's inbound queue. */
class Queue {
  readonly messages: Uint8Array[][] = [];
  constructor(readonly name: string, count: number) {
    for (let i = 0; i < count; i++) {
      this.messages.push([new TextEncoder().encode(`${name}${i}`)]);
    }
  }
  get size() {
    return this.messages.length;
  }
  read() {
    return this.messages.shift();
  }
}

function drain(queue: FairQueue<Queue>): string[] {
  const order: string[] = [];
  for (let next = queue.next(); next; next = queue.next()) {
    order.push(new TextDecoder().decode(next.message[0]));
  }
  return order;
}

Deno.test("FairQueue.next() takes messages round-robin over the pipes that have one", () => {
  const queue = new FairQueue<Queue>();
  for (
    const pipe of [new Queue("a", 3), new Queue("b", 1), new Queue("c", 2)]
  ) queue.attach(pipe);
  assert.deepEqual(drain(queue), ["a0", "b0", "c0", "a1", "c1", "a2"]);
  assert.equal(queue.next(), undefined);
});

Deno.test("FairQueue.activate() brings back a pipe that got a message", () => {
  const queue = new FairQueue<Queue>();
  const a = new Queue("a", 0);
  const b = new Queue("b", 1);
  queue.attach(a);
  queue.attach(b);
  assert.deepEqual(drain(queue), ["b0"]);
  a.messages.push([new TextEncoder().encode("late")]);
  assert.equal(queue.next(), undefined, "not active until activated");
  queue.activate(a);
  assert.deepEqual(drain(queue), ["late"]);
});

Deno.test("FairQueue.detach() forgets a pipe and its messages", () => {
  const queue = new FairQueue<Queue>();
  const a = new Queue("a", 2);
  const b = new Queue("b", 2);
  const c = new Queue("c", 2);
  [a, b, c].forEach((pipe) => queue.attach(pipe));
  queue.detach(b);
  queue.detach(b);
  assert.deepEqual(drain(queue).sort(), ["a0", "a1", "c0", "c1"]);
});

Deno.test("FairQueue: one busy peer cannot starve another", () => {
  const queue = new FairQueue<Queue>();
  const busy = new Queue("busy", 1000);
  const quiet = new Queue("quiet", 1);
  queue.attach(busy);
  queue.attach(quiet);
  const firstTwo = [queue.next()!, queue.next()!].map((n) =>
    n.message[0].length
  );
  assert.ok(drain(queue).length === 999);
  assert.deepEqual(firstTwo.sort(), ["busy0".length, "quiet0".length].sort());
});

Deno.test("LoadBalancer.next() rotates over attached pipes and skips detached ones", () => {
  const balancer = new LoadBalancer<string>();
  assert.equal(balancer.next(), undefined);
  ["a", "b", "c"].forEach((pipe) => balancer.attach(pipe));
  assert.deepEqual([1, 2, 3, 4].map(() => balancer.next()), [
    "a",
    "b",
    "c",
    "a",
  ]);
  balancer.detach("b");
  assert.deepEqual([1, 2, 3].map(() => balancer.next()), ["c", "a", "c"]);
  assert.equal(balancer.size, 2);
});
