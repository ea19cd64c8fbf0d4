/**
 * Fair turns for reads: a process-wide limit on how many reads are pending
 * at once, so that no connection waits seconds while others are served
 * again and again.
 *
 * Why (docs/performance.md has the evidence): Deno completes a read op
 * through tokio, whose cooperative budget lets a task poll 128 I/O
 * resources before it must yield. The op driver's reads past that budget
 * are deferred, and deferred wakers run after the reactor's fresh ones (in
 * reverse order). When more than ~128 connections have data at once, the
 * connections served in the last round (whose peers answered fast) take
 * the whole budget round after round, and the rest starve for 0.3-4 s.
 *
 * So at most {@link READS_PENDING} reads are pending at once, which keeps
 * every round of wakeups within the budget; a connection that would read
 * past that waits its turn, first come first served, and reads when a
 * pending read returns. A read pending for two turns (its peer is idle)
 * stops counting, so idle connections cannot hold the rest back: a turn
 * is a timer's, the one thing that makes the runtime park on its reactor,
 * and a timer is set only while someone waits.
 *
 * A burst after a quiet spell overflows the budget the other way: each
 * idle connection keeps a read pending (no longer counted), and when their
 * peers all send at once, more than 128 of those reads complete together.
 * The runtime defers the rest, and every connection served meanwhile reads
 * again and, woken fresh, goes first: in the first wave from 1,024 idle
 * connections some waited 0.1-0.16 s while others were served 5-10 times.
 * So a tick that returns {@link READ_BUDGET} reads or more (a sign, not a
 * proof, that the runtime deferred others: writes spend the same budget)
 * holds new reads back until a turn passes without such a tick: the reads
 * the runtime deferred go first.
 *
 * At light load nobody waits: the cost is a counter per read and a
 * microtask per tick.
 *
 * @module
 */

/** Reads that may be pending at once before others wait their turn. */
export const READS_PENDING = 32;

/**
 * Reads one tick of the runtime returns before it defers the rest: tokio's
 * cooperative budget.
 */
export const READ_BUDGET = 128;

/** Admits reads, first come first served, a bounded number at a time. */
export class ReadTurns {
  readonly #maxPending: number;
  // Reads pending, by the parity of the turn they started in; reads from
  // turns before the last are no longer counted.
  readonly #pending = [0, 0];
  #turn = 0;
  // Readers waiting, in order; #head indexes the first.
  #waiting: ((ticket: number) => void)[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // Reads returned in this tick: counted by done(), judged by #tickEnd, a
  // microtask queued by the first and run after the rest.
  #returned = 0;
  // New reads wait while held: a tick returned a budget's worth, in this
  // turn or the last (#backlog: in this one).
  #held = false;
  #backlog = false;

  /** @param maxPending reads that may be pending before others wait */
  constructor(maxPending: number = READS_PENDING) {
    this.#maxPending = maxPending;
  }

  /** How many readers wait for their turn. */
  get waiting(): number {
    return this.#waiting.length - this.#head;
  }

  /**
   * Starts a read now if there is room and nobody waits.
   *
   * @returns the ticket to give {@link done} when the read returns, or -1
   *   if the read must {@link wait}
   */
  enter(): number {
    // Nobody waits while there is room (done() and the turns let them go
    // at once), so a reader that finds room overtakes no one.
    if (!this.#hasRoom()) return -1;
    if (this.#held) return -1;
    return this.#start();
  }

  /**
   * Waits for room, behind those already waiting.
   *
   * @returns a promise of the ticket to give {@link done} when the read
   *   returns
   */
  wait(): Promise<number> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#timer ??= setTimeout(this.#nextTurn, 0);
    });
  }

  /**
   * A read has returned (or was not made after all).
   *
   * @param ticket what {@link enter} or {@link wait} gave
   */
  done(ticket: number): void {
    if (ticket >= this.#turn - 1) this.#pending[ticket & 1]--;
    if (this.#returned++ === 0) queueMicrotask(this.#tickEnd);
    this.#admit();
  }

  /** True while new reads are held back for reads the runtime deferred. */
  get held(): boolean {
    return this.#held;
  }

  // After the reads one tick returned (their continuations were queued
  // before this microtask).
  #tickEnd = (): void => {
    if (this.#returned >= READ_BUDGET) this.#held = this.#backlog = true;
    this.#returned = 0;
  };

  #hasRoom(): boolean {
    return this.#pending[0] + this.#pending[1] < this.#maxPending;
  }

  #start(): number {
    this.#pending[this.#turn & 1]++;
    return this.#turn;
  }

  // Lets waiting readers go while there is room.
  #admit(): void {
    const waiting = this.#waiting;
    while (this.#head < waiting.length && !this.#held && this.#hasRoom()) {
      const resolve = waiting[this.#head];
      waiting[this.#head++] = NOOP;
      resolve(this.#start());
    }
    if (this.#head === waiting.length && this.#head > 0) {
      this.#waiting = [];
      this.#head = 0;
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  // A turn: reads started two turns ago stop counting (their peers are
  // idle, or they would have returned), and their room goes to the waiting;
  // a hold ends unless this turn saw a backlog too.
  #nextTurn = (): void => {
    this.#timer = undefined;
    this.#turn++;
    this.#pending[this.#turn & 1] = 0;
    this.#held = this.#backlog;
    this.#backlog = false;
    this.#admit();
    if (this.#head < this.#waiting.length) {
      this.#timer = setTimeout(this.#nextTurn, 0);
    }
  };
}

const NOOP = () => {};

/** The one instance every connection in this process reads through. */
export const readTurns: ReadTurns = new ReadTurns();
