/**
 * A first-in, first-out queue on one array, for the pipes' message queues.
 *
 * @module
 */

// Slots read from the front before a queue that never empties is compacted.
const COMPACT_AFTER = 1024;
// An empty queue whose array grew past this many slots gets a fresh one, so
// that a burst's storage does not stay with an idle connection.
const KEEP_SLOTS = 16;

/**
 * Items are kept by index and taken from the front. Slots are cleared one by
 * one rather than with `length = 0`, which would drop the array's storage and
 * make the next push allocate it again.
 */
export class Queue<T> {
  // Made on the first push: many queues (an idle peer's) never hold one.
  #items: (T | undefined)[] | undefined;
  #head = 0;
  #tail = 0;

  /** How many items wait. */
  get size(): number {
    return this.#tail - this.#head;
  }

  /** Adds an item at the back. */
  push(item: T): void {
    (this.#items ??= [])[this.#tail++] = item;
  }

  /** The newest item, left in place. */
  last(): T | undefined {
    return this.#head === this.#tail ? undefined : this.#items![this.#tail - 1];
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.#head === this.#tail ? undefined : this.#items![this.#head];
  }

  /** Takes the oldest item. */
  shift(): T | undefined {
    if (this.#head === this.#tail) return undefined;
    const items = this.#items!;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === this.#tail) {
      this.#head = 0;
      this.#tail = 0;
      if (items.length > KEEP_SLOTS) this.#items = undefined;
    } else if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#tail) {
      // A queue that never empties moves its items to the front now and
      // then, or it would grow for ever.
      items.copyWithin(0, this.#head, this.#tail);
      items.fill(undefined, this.#tail - this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    return item;
  }

  /** Drops every item. */
  clear(): void {
    this.#items = undefined;
    this.#head = 0;
    this.#tail = 0;
  }
}
