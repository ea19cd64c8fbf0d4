/**
 * Load balancing: send each message to the next connected pipe in turn
 * (RFC 28, REQ and DEALER outgoing).
 *
 * @module
 */

/** Round-robin over the pipes that are attached, in the order they came. */
export class LoadBalancer<Pipe> {
  readonly #pipes: Pipe[] = [];
  #current = 0;

  /** How many pipes can take a message. */
  get size(): number {
    return this.#pipes.length;
  }

  /** Adds a pipe at the end of the rotation. */
  attach(pipe: Pipe): void {
    this.#pipes.push(pipe);
  }

  /** Removes a pipe; the rotation continues with the one after it. */
  detach(pipe: Pipe): void {
    const at = this.#pipes.indexOf(pipe);
    if (at === -1) return;
    this.#pipes.splice(at, 1);
    if (at < this.#current) this.#current--;
  }

  /**
   * The pipe whose turn it is, advancing the rotation.
   *
   * @returns a pipe, or `undefined` when none is attached
   */
  next(): Pipe | undefined {
    if (this.#pipes.length === 0) return undefined;
    if (this.#current >= this.#pipes.length) this.#current = 0;
    return this.#pipes[this.#current++];
  }
}
