/**
 * Batched output: lines collect in memory and leave in one write per batch,
 * so that a busy server logs thousands of requests with few system calls.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Where the lines go; `Deno.stdout` fits. */
export interface ByteSink {
  writeSync(bytes: Uint8Array): number;
  write(bytes: Uint8Array): Promise<number>;
}

/** Options for {@link LineWriter}. */
export interface LineWriterOptions {
  /**
   * Milliseconds lines may wait to be batched; 0 writes at the end of the
   * current task.
   * @default {0}
   */
  interval?: number;
  /**
   * Octets held before a write is forced, whatever the interval.
   * @default {65536}
   */
  maxPending?: number;
}

/**
 * Writes lines to a sink in order. A batch is written with one synchronous
 * call, which costs far less than an asynchronous write (Deno hands those to
 * a thread pool); like Python's `print`, it waits when the reader is slow,
 * so nothing piles up in memory and nothing is lost. A non-blocking sink
 * that is full gets the rest asynchronously. If the sink breaks (a closed
 * pipe) further lines are dropped quietly.
 *
 * @example
 * ```ts ignore
 * import { LineWriter } from "./line_writer.ts";
 * const out = new LineWriter(Deno.stdout, { interval: 5 });
 * out.line("received: 100 sending: 200.0");
 * await out.flush();
 * ```
 */
export class LineWriter {
  readonly #sink: ByteSink;
  readonly #interval: number;
  readonly #maxPending: number;
  #pending = "";
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;
  #broken = false;

  /**
   * @param sink where the lines go
   * @param options batching interval and size
   */
  constructor(sink: ByteSink, options: LineWriterOptions = {}) {
    this.#sink = sink;
    this.#interval = options.interval ?? 0;
    this.#maxPending = options.maxPending ?? 65536;
  }

  /** Queues text as is, without a newline (a prompt, say). */
  text(text: string): void {
    if (this.#broken) return;
    this.#pending += text;
    if (this.#pending.length >= this.#maxPending) {
      this.#write();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#interval > 0) {
        this.#timer = setTimeout(this.#write, this.#interval);
      } else {
        queueMicrotask(this.#write);
      }
    }
  }

  /** Queues one line; a newline is added. */
  line(text: string): void {
    this.text(text + "\n");
  }

  /** Writes everything queued so far; resolves once it has left. */
  async flush(): Promise<void> {
    this.#write();
    while (this.#writing !== undefined) await this.#writing;
  }

  readonly #write = (): void => {
    clearTimeout(this.#timer);
    this.#scheduled = false;
    // During an asynchronous write, the rest waits for it to end, in order.
    if (this.#pending === "" || this.#broken || this.#writing) return;
    const bytes = encoder.encode(this.#pending);
    this.#pending = "";
    let written = 0;
    try {
      while (written < bytes.length) {
        written += this.#sink.writeSync(bytes.subarray(written));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.WouldBlock)) {
        this.#broken = true;
        return;
      }
      this.#writing = this.#writeAsync(bytes.subarray(written)).finally(() => {
        this.#writing = undefined;
        this.#write();
      });
    }
  };

  async #writeAsync(bytes: Uint8Array): Promise<void> {
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
