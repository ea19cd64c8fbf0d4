/**
 * `deno task compile` (tools/compile.ts) builds standalone server and client
 * binaries that hold only the programs: the modules server.ts and client.ts
 * load, and deno.json (read for the version). Never node_modules, tools/ (a
 * second Deno) or the tests. Where it cannot build, it says so in one line
 * and leaves dist/ as it was.
 *
 * A real build needs Deno's `denort` runtime, which this network cannot
 * download, so the first test runs `deno compile` itself, as the task does,
 * with DENORT_BIN set to this Deno: Deno then prints the list of embedded
 * files, and the binary it writes is that Deno plus what was embedded (the
 * task refuses such a DENORT_BIN, as a later test checks). The last test
 * builds and runs real binaries when DENORT_BIN points at a genuine denort.
 */
import assert from "node:assert/strict";
import { freePort, Proc, ROOT } from "./_process.ts";
import { BUILDS } from "../tools/compile.ts";

const DENO = Deno.execPath();
// What may be embedded besides the programs' own modules: the config the
// version comes from, and (once CURVE lands) the libsodium npm packages.
const ALLOWED_EXTRA = ["deno.json"];
const ALLOWED_NPM = /libsodium/;
// Deno adds about 3 MB to its own size for a one-line program; node_modules
// (about 40 MB) or a second Deno (about 90 MB) could never fit under this.
const MAX_ADDED_BYTES = 16 * 2 ** 20;

/** One `deno compile` of the compile task, writing into `outDir`. */
interface Build {
  entry: string;
  name: string;
  args: string[];
}

function compileTask(outDir: string): Build[] {
  return BUILDS.map(({ name, entry, flags }) => ({
    entry,
    name,
    args: [...flags, "--output", `${outDir}/${name}`, entry],
  }));
}

/** The local files a program loads, relative to ROOT (`deno info`). */
async function moduleGraph(entry: string): Promise<Set<string>> {
  const { stdout, success } = await new Deno.Command(DENO, {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stderr: "inherit",
  }).output();
  assert.ok(success, `deno info ${entry}`);
  const info = JSON.parse(new TextDecoder().decode(stdout));
  return new Set(
    (info.modules as { specifier: string }[])
      .filter((m) => m.specifier.startsWith("file://"))
      .map((m) => new URL(m.specifier).pathname.slice(ROOT.length)),
  );
}

/**
 * The entries of the "Embedded Files" tree Deno prints: `lib/cli.ts` for a
 * file, `lib/zmtp/*` for a folder it shows folded.
 */
function embeddedEntries(output: string): string[] {
  const lines = output.split("\n");
  const start = lines.indexOf("Embedded Files");
  assert.ok(start >= 0, `no "Embedded Files" in:\n${output}`);
  const entries: string[] = [];
  const folders: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith("Files:")) break;
    const match = /^([│ ]*)[├└]─([─┬]) (.+?) \(\d/.exec(line);
    if (!match) continue; // blank lines and the binary's own name
    const depth = match[1].length / 2;
    folders.length = depth;
    const path = [...folders, match[3]].join("/");
    if (match[2] === "┬") folders.push(match[3]);
    else entries.push(path);
  }
  return entries;
}

Deno.test("deno task compile embeds only deno.json and the files and folders the programs load: no node_modules, no tools/, within a size bound", async () => {
  const out = await Deno.makeTempDir({ prefix: "multiply-compile-" });
  try {
    const denoSize = (await Deno.stat(DENO)).size;
    for (const build of compileTask(out)) {
      const compile = new Proc(DENO, ["compile", ...build.args], {
        env: { DENORT_BIN: DENO, NO_COLOR: "1" },
      });
      const result = await compile.finish(120_000);
      assert.equal(result.code, 0, result.stderr);
      const graph = await moduleGraph(build.entry);
      const entries = embeddedEntries(result.stderr);
      assert.ok(entries.includes(build.entry), `${build.entry} embedded`);
      for (const entry of entries) {
        if (entry.includes("node_modules")) {
          assert.match(entry, ALLOWED_NPM, `${build.name} embeds ${entry}`);
        } else if (entry.endsWith("/*")) {
          const folder = entry.slice(0, -1);
          assert.ok(
            [...graph].some((file) => file.startsWith(folder)),
            `${build.name} embeds ${entry}, which ${build.entry} never loads`,
          );
        } else {
          assert.ok(
            graph.has(entry) || ALLOWED_EXTRA.includes(entry),
            `${build.name} embeds ${entry}, which ${build.entry} never loads`,
          );
        }
      }
      const added = (await Deno.stat(`${out}/${build.name}`)).size - denoSize;
      assert.ok(
        added < MAX_ADDED_BYTES,
        `${build.name} adds ${added} bytes to Deno's own ${denoSize}`,
      );
    }
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/** What dist/ holds: its entries, or null when there is none. */
function distListing(): string[] | null {
  try {
    return [...Deno.readDirSync(`${ROOT}dist`)].map((e) => e.name).sort();
  } catch {
    return null;
  }
}

/** `deno task compile` with `env`, DENORT_BIN unset unless given there. */
async function compileWith(env: Record<string, string>) {
  const inherited = Deno.env.toObject();
  delete inherited.DENORT_BIN;
  const { code, stdout, stderr } = await new Deno.Command(DENO, {
    args: ["task", "--quiet", "compile"],
    cwd: ROOT,
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

const ZIP = `denort-${Deno.build.target}.zip`;
const WHERE =
  `get ${ZIP} from the assets of Deno's v${Deno.version.deno} release, unzip it, and set DENORT_BIN to the denort inside; nothing was written to dist/`;

Deno.test("deno task compile refuses a DENORT_BIN that is Deno itself, in one line, and builds nothing", async () => {
  const before = distListing();
  const result = await compileWith({ DENORT_BIN: DENO });
  assert.equal(result.code, 1);
  assert.equal(
    result.stderr,
    `compile: DENORT_BIN=${DENO} is not a denort: it answers --version with "deno ${Deno.version.deno} (stable, release, ${Deno.build.target})", which a denort never does (it runs only the program compiled into it); ${WHERE}\n`,
  );
  assert.deepEqual(distListing(), before);
});

// Where Deno keeps the denort it downloads: with one there, the next test
// cannot play its absence.
const { denoDir } = JSON.parse(
  new TextDecoder().decode(
    new Deno.Command(DENO, { args: ["info", "--json"] }).outputSync().stdout,
  ),
);
const cached = (() => {
  try {
    Deno.statSync(`${denoDir}/dl/release/v${Deno.version.deno}/${ZIP}`);
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    `deno task compile with no denort to be had says in one line what to set and where a denort comes from, and leaves dist/ as it was${
      cached ? " (skipped: a denort is in Deno's cache)" : ""
    }`,
  ignore: cached,
  async fn() {
    const before = distListing();
    // The download fails wherever the test runs: through a proxy on a port
    // where nothing listens.
    const proxy = `http://127.0.0.1:${freePort()}`;
    const result = await compileWith({
      HTTPS_PROXY: proxy,
      HTTP_PROXY: proxy,
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `compile: deno compile could not download ${ZIP}, the runtime it builds on (no network?); ${WHERE}\n`,
    );
    assert.deepEqual(distListing(), before);
  },
});

const denort = Deno.env.get("DENORT_BIN");
const reason =
  "skipped: DENORT_BIN is not set and denort cannot be downloaded here";

Deno.test({
  name: `deno task compile builds server and client binaries that work${
    denort ? "" : ` (${reason})`
  }`,
  ignore: !denort,
  async fn() {
    const build = new Proc(DENO, ["task", "compile"], {
      env: { DENORT_BIN: denort! },
    });
    const built = await build.finish(180_000);
    assert.equal(built.code, 0, built.stderr);
    const port = freePort();
    await using server = new Proc(`${ROOT}dist/server`, ["5", String(port)]);
    await server.waitFor(/Waiting for clients on port/);
    const client = new Proc(`${ROOT}dist/client`, [String(port)], {
      input: "100\n1000\n",
    });
    const result = await client.finish();
    assert.equal(result.stdout, "500.0\n5000.0\n", result.stderr);
  },
});
