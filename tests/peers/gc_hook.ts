/**
 * A diagnostic hook, preloaded into a server under test:
 *
 *     deno run --v8-flags=--expose-gc --allow-ffi --preload tests/peers/gc_hook.ts ...
 *
 * On SIGUSR2 it runs V8's full garbage collection (twice: the second waits
 * for the first's sweeping, which frees ArrayBuffers' memory in the
 * background), then, where glibc is the allocator, `malloc_trim(0)`, which
 * gives the memory malloc holds free back to the system, and prints one
 * line to stderr, the figures in octets:
 *
 *     gc_hook {"rss":..,"heapTotal":..,"heapUsed":..,"external":..,"mallocInUse":..,"mallocFree":..}
 *
 * `mallocInUse` is what the program has allocated from malloc and not freed
 * (glibc's mallinfo2: uordblks + hblkhd), `mallocFree` what malloc keeps
 * free in its arenas (fordblks). So a test can tell memory the program
 * holds from memory that V8 or malloc merely keeps.
 *
 * @module
 */

const gc = (globalThis as { gc?: () => void }).gc;
let libc:
  | Deno.DynamicLibrary<{
    malloc_trim: { parameters: ["usize"]; result: "i32" };
    mallinfo2: { parameters: []; result: { struct: "usize"[] } };
  }>
  | undefined;
try {
  libc = Deno.dlopen("libc.so.6", {
    malloc_trim: { parameters: ["usize"], result: "i32" },
    // struct mallinfo2: ten size_t fields.
    mallinfo2: { parameters: [], result: { struct: Array(10).fill("usize") } },
  });
} catch {
  // Not glibc, or no --allow-ffi: V8's figures alone.
}

Deno.addSignalListener("SIGUSR2", () => {
  gc?.();
  gc?.();
  let mallocInUse: number | undefined;
  let mallocFree: number | undefined;
  if (libc !== undefined) {
    libc.symbols.malloc_trim(0n);
    const info = new BigUint64Array(libc.symbols.mallinfo2().buffer);
    mallocInUse = Number(info[7] + info[4]); // uordblks + hblkhd
    mallocFree = Number(info[8]); // fordblks
  }
  const { rss, heapTotal, heapUsed, external } = Deno.memoryUsage();
  const facts = {
    rss,
    heapTotal,
    heapUsed,
    external,
    mallocInUse,
    mallocFree,
    gc: gc !== undefined,
  };
  Deno.stderr.writeSync(
    new TextEncoder().encode(`gc_hook ${JSON.stringify(facts)}\n`),
  );
});
