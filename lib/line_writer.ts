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
  bufferSize?: number;
}

/**
 * Writes lines to a sink in order. Each line is encoded at once into a
 * reusable buffer, so its string dies young instead of surviving garbage
 * collections until the batch leaves. A batch is written with one
 * synchronous call, which costs far less than an asynchronous write (Deno
 * hands those to a thread pool); like Python's `print`, it waits when the
 * reader is slow, so nothing piles up and nothing is lost. A non-blocking
 * sink that is full gets the rest asynchronously. If the sink breaks (a
 * closed pipe) further lines are dropped quietly.
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
  #buffer: Uint8Array;
  #used = 0;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;
  #broken = false;

  /**
   * @param sink where the lines go
   * @param options batching interval and buffer size
   */
  constructor(sink: ByteSink, options: LineWriterOptions = {}) {
    this.#sink = sink;
    this.#interval = options.interval ?? 0;
    this.#buffer = new Uint8Array(options.bufferSize ?? 65536);
  }

  /** Queues text as is, without a newline (a prompt, say). */
  text(text: string): void {
    if (this.#broken) return;
    this.#append(text);
    if (this.#scheduled || this.#writing !== undefined) return;
    this.#scheduled = true;
    if (this.#interval > 0) {
      this.#timer = setTimeout(this.#write, this.#interval);
    } else {
      queueMicrotask(this.#write);
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

  // ASCII, nearly every log line, is copied code unit by code unit; other
  // text goes through the encoder. A full buffer is written out first.
  #append(text: string): void {
    let ascii = true;
    for (let i = 0; i < text.length && ascii; i++) {
      ascii = text.charCodeAt(i) < 0x80;
    }
    const bytes = ascii ? undefined : encoder.encode(text);
    const size = bytes === undefined ? text.length : bytes.length;
    if (this.#used + size > this.#buffer.length) {
      this.#write();
      if (this.#used + size > this.#buffer.length) {
        this.#buffer = grow(this.#buffer, this.#used + size);
      }
    }
    const buffer = this.#buffer;
    if (bytes !== undefined) {
      buffer.set(bytes, this.#used);
    } else {
      for (let i = 0; i < size; i++) {
        buffer[this.#used + i] = text.charCodeAt(i);
      }
    }
    this.#used += size;
  }

  readonly #write = (): void => {
    clearTimeout(this.#timer);
    this.#scheduled = false;
    // During an asynchronous write the rest waits for it to end, in order.
    if (this.#used === 0 || this.#broken || this.#writing) return;
    const bytes = this.#buffer.subarray(0, this.#used);
    let written = 0;
    try {
      while (written < bytes.length) {
        written += this.#sink.writeSync(bytes.subarray(written));
      }
      this.#used = 0;
    } catch (error) {
      if (!(error instanceof Deno.errors.WouldBlock)) {
        this.#broken = true;
        this.#used = 0;
        return;
      }
      // The asynchronous write takes the rest with it; lines that come
      // meanwhile start a new buffer.
      const rest = bytes.subarray(written);
      this.#buffer = new Uint8Array(this.#buffer.length);
      this.#used = 0;
      this.#writing = this.#writeAsync(rest).finally(() => {
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
      this.#used = 0;
    }
  }
}

function grow(buffer: Uint8Array, size: number): Uint8Array {
  const bigger = new Uint8Array(Math.max(size, buffer.length * 2));
  bigger.set(buffer);
  return bigger;
}
