/**
 * Runs the library's examples (`deno test --doc`: lib/zmtp's JSDoc and
 * docs/library.md), type checked, with loopback network and temporary files
 * only.
 *
 * Deno 2.9 imports every export of a documented file into each of its
 * examples, so `compilerOptions.noUnusedLocals` fails them all with TS6192
 * (denoland/deno#26900). The examples are therefore checked with a copy of
 * deno.json that leaves out that one option; everything else, the import
 * map and the lock file included, is the project's own.
 *
 * Usage: deno run --allow-read --allow-write --allow-run tools/doctest.ts
 *
 * @module
 */

const root = new URL("..", import.meta.url).pathname;
const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
delete config.compilerOptions?.noUnusedLocals;
config.lock = { path: `${root}deno.lock`, frozen: false };
const directory = await Deno.makeTempDir({ prefix: "multiply-doctest-" });
const configFile = `${directory}/deno.json`;
await Deno.writeTextFile(configFile, JSON.stringify(config));
try {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--doc",
      `--config=${configFile}`,
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      `${root}lib/zmtp/`,
      `${root}docs/library.md`,
    ],
    cwd: root,
  }).spawn().status;
  Deno.exitCode = code;
} finally {
  await Deno.remove(directory, { recursive: true });
}
