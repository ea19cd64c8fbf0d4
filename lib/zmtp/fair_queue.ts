/**
 * Fair queueing: take the next message round-robin over the pipes that have
 * one (RFC 28, REP and ROUTER incoming).
 *
 * @module
 */

/** What the fair queue needs of a pipe: its queue of whole messages. */
export interface MessageSource {
  /** Messages waiting. */
  readonly size: number;
  /** Takes the oldest message, if any. */
  read(): Uint8Array[] | undefined;
}

/**
 * Keeps pipes in one list whose front part holds the active ones (those with
 * messages waiting), as libzmq's `fq_t` does: activation and deactivation
 * are a swap, and a cursor walks the active part.
 */
export class FairQueue<Pipe extends MessageSource> {
  readonly #pipes: Pipe[] = [];
  readonly #positions = new Map<Pipe, number>();
  #active = 0;
  #current = 0;

  /** Adds a pipe; it becomes active if it already holds messages. */
  attach(pipe: Pipe): void {
    this.#positions.set(pipe, this.#pipes.length);
    this.#pipes.push(pipe);
    if (pipe.size > 0) this.activate(pipe);
  }

  /** Removes a pipe and the messages it holds from consideration. */
  detach(pipe: Pipe): void {
    let at = this.#positions.get(pipe);
    if (at === undefined) return;
    if (at < this.#active) {
      this.#swap(at, --this.#active);
      at = this.#active;
    }
    this.#swap(at, this.#pipes.length - 1);
    this.#pipes.pop();
    this.#positions.delete(pipe);
  }

  /** Marks a pipe as holding messages; call when its queue stops being empty. */
  activate(pipe: Pipe): void {
    const at = this.#positions.get(pipe);
    if (at === undefined || at < this.#active) return;
    this.#swap(at, this.#active++);
  }

  /**
   * Takes the next message, round-robin over active pipes.
   *
   * @returns the pipe and its message, or `undefined` when none waits
   */
  next(): { pipe: Pipe; message: Uint8Array[] } | undefined {
    while (this.#active > 0) {
      if (this.#current >= this.#active) this.#current = 0;
      const pipe = this.#pipes[this.#current];
      const message = pipe.read();
      if (pipe.size === 0) {
        // Deactivate; the pipe swapped into this place is the next in turn.
        this.#swap(this.#current, --this.#active);
      } else {
        this.#current++;
      }
      if (message !== undefined) return { pipe, message };
    }
    return undefined;
  }

  #swap(a: number, b: number): void {
    if (a === b) return;
    const pipes = this.#pipes;
    [pipes[a], pipes[b]] = [pipes[b], pipes[a]];
    this.#positions.set(pipes[a], a);
    this.#positions.set(pipes[b], b);
  }
}
