/**
 * Reads lines of bytes from a stream, ending at `\n`, `\r\n` or `\r`, as
 * Python's `input()` does with its universal newlines.
 *
 * @module
 */

/**
 * Yields each line without its line ending, as raw bytes; a last line with
 * no ending is yielded too.
 *
 * @param stream the bytes to split, such as `Deno.stdin.readable`
 *
 * @example
 * ```ts ignore
 * import { readLines } from "./lines.ts";
 * for await (const line of readLines(Deno.stdin.readable)) console.log(line.length);
 * ```
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  let held: Uint8Array = new Uint8Array(0);
  let skipLineFeed = false;
  for await (const chunk of stream) {
    let start = 0;
    if (skipLineFeed && chunk[0] === 0x0a) start = 1;
    skipLineFeed = false;
    for (let i = start; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte !== 0x0a && byte !== 0x0d) continue;
      yield join(held, chunk.subarray(start, i));
      held = new Uint8Array(0);
      if (byte === 0x0d) {
        if (i + 1 === chunk.length) skipLineFeed = true;
        else if (chunk[i + 1] === 0x0a) i++;
      }
      start = i + 1;
    }
    if (start < chunk.length) held = join(held, chunk.subarray(start));
  }
  if (held.length > 0) yield held;
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
