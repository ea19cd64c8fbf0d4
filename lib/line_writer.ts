/**
 * Batched output: lines collect in memory and leave in one write per batch,
 * so that a busy server logs thousands of requests with few system calls.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Where the lines go; `Deno.stdout` fits. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes lines to a sink in order, at most one write in flight; lines that
 * come while a write is under way go out together in the next one. If the
 * sink breaks (a closed pipe) further lines are dropped quietly.
 *
 * @example
 * ```ts ignore
 * import { LineWriter } from "./line_writer.ts";
 * const out = new LineWriter(Deno.stdout);
 * out.line("received: 100 sending: 200.0");
 * await out.flush();
 * ```
 */
export class LineWriter {
  readonly #sink: ByteSink;
  #pending = "";
  #writing: Promise<void> | undefined;
  #scheduled = false;
  #broken = false;

  /**
   * @param sink where the lines go
   */
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  /** Queues text as is, without a newline (a prompt, say). */
  text(text: string): void {
    if (this.#broken) return;
    this.#pending += text;
    if (!this.#scheduled && this.#writing === undefined) {
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#start();
      });
    }
  }

  /** Queues one line; a newline is added. */
  line(text: string): void {
    this.text(text + "\n");
  }

  /** Resolves once everything queued so far has been written. */
  async flush(): Promise<void> {
    while (this.#writing !== undefined || this.#pending !== "") {
      this.#start();
      await this.#writing;
    }
  }

  #start(): void {
    if (this.#writing !== undefined || this.#pending === "") return;
    const bytes = encoder.encode(this.#pending);
    this.#pending = "";
    this.#writing = this.#writeAll(bytes).finally(() => {
      this.#writing = undefined;
      this.#start();
    });
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      let written = 0;
      while (written < bytes.length) {
        written += await this.#sink.write(bytes.subarray(written));
      }
    } catch {
      this.#broken = true;
      this.#pending = "";
    }
  }
}
