/**
 * lib/zmtp as a Deno package: what `deno publish` would ship, what its
 * generated docs show, and a program that imports it from outside.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ROOT } from "./_process.ts";

async function run(
  args: string[],
  cwd = ROOT,
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("deno publish --dry-run ships lib/zmtp/, README.md, LICENSE and deno.json, nothing else", async () => {
  const { code, output } = await run(["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(code, 0, output);
  const files = [...output.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((match) =>
    match[1].slice(ROOT.length)
  );
  assert.ok(files.includes("lib/zmtp/mod.ts"), output);
  assert.ok(files.includes("LICENSE"), output);
  const stray = files.filter((file) =>
    !file.startsWith("lib/zmtp/") &&
    !["README.md", "LICENSE", "deno.json"].includes(file)
  );
  assert.deepEqual(stray, []);
});

interface DocNode {
  name: string;
  declarations: {
    kind: string;
    def?: {
      constructors?: { accessibility?: string }[];
      methods?: { name: string; accessibility?: string }[];
      properties?: { name: string; accessibility?: string }[];
    };
  }[];
}

Deno.test("deno doc: the public classes show bind/connect/close and no protected or pipe members", async () => {
  const { code, output } = await run(["doc", "--json", "lib/zmtp/mod.ts"]);
  assert.equal(code, 0, output);
  const doc = JSON.parse(output);
  const symbols: DocNode[] = doc.nodes[`file://${ROOT}lib/zmtp/mod.ts`].symbols;
  const members = (name: string) => {
    const node = symbols.find((symbol) => symbol.name === name);
    assert.ok(node, `${name} is exported`);
    const def = node.declarations.find((d) => d.kind === "class")?.def ?? {};
    return [...def.methods ?? [], ...def.properties ?? []];
  };
  for (const name of ["bind", "connect", "disconnect", "close", "events"]) {
    assert.ok(members("Socket").some((member) => member.name === name), name);
  }
  for (const name of ["Socket", "Request", "Reply"]) {
    const hidden = members(name).filter((member) =>
      member.accessibility !== undefined || /^pipe/.test(member.name)
    ).map((member) => member.name);
    assert.deepEqual(hidden, [], `${name}'s non-public members`);
  }
});

Deno.test("lib/zmtp/mod.ts imported by path, from a project without our deno.json, makes a CURVE key pair", async () => {
  const directory = await Deno.makeTempDir({ prefix: "multiply-consumer-" });
  try {
    await Deno.writeTextFile(`${directory}/deno.json`, "{}\n");
    await Deno.writeTextFile(
      `${directory}/main.ts`,
      `import { curveKeyPair } from "${ROOT}lib/zmtp/mod.ts";\n` +
        `const { publicKey, secretKey } = await curveKeyPair();\n` +
        `console.log(publicKey.length, secretKey.length);\n`,
    );
    const { code, output } = await run(
      ["run", "--quiet", "--allow-read", "--no-lock", "main.ts"],
      directory,
    );
    assert.equal(code, 0, output);
    assert.equal(output, "40 40\n");
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});
