import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";

// Every ```ts block in the library's JSDoc and in docs/library.md is one doc
// test.
async function countExamples(): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(`${ROOT}lib/zmtp`)) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(`${ROOT}lib/zmtp/${entry.name}`);
    count += text.match(/^ \* ```ts$/gm)?.length ?? 0;
  }
  const library = await Deno.readTextFile(`${ROOT}docs/library.md`);
  count += library.match(/^```ts$/gm)?.length ?? 0;
  return count;
}

Deno.test("lib/zmtp's JSDoc examples and docs/library.md's type-check and run (deno task doctest)", async () => {
  const examples = await countExamples();
  assert.ok(examples > 0, "no examples found");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    // Through the task docs/library.md names, so that the task is tested too.
    args: ["task", "--quiet", "doctest"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout) +
    new TextDecoder().decode(stderr);
  assert.equal(code, 0, output);
  const summary = /^ok \| (\d+) passed \| 0 failed/m.exec(output);
  assert.ok(summary !== null, output);
  assert.equal(Number(summary[1]), examples, "every example ran");
});
