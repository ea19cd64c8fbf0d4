/**
 * The mutation check: every promise the docs make has a test that fails
 * without it. Each mutant in `tests/mutants/*.ts` patches one promised
 * behaviour out of a copy of the repository; the tests it names must then
 * fail. A mutant whose tests still pass has survived, and so has a promise
 * nothing would miss: the run fails. A mutant whose text is no longer in
 * its file fails the run too (the source moved on and the catalogue did
 * not).
 *
 *     tools/deno task mutants [--list] [--only TEXT] [--jobs N]
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { Mutant } from "../tests/mutants/_mutant.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CATALOGUE = `${ROOT}tests/mutants/`;
// Untracked folders the tests use (installed peers, the pinned Deno, built
// tools): linked into each copy rather than copied.
const LINKED = [
  "tests/peers/node_modules",
  "tools/deno-runtime/node_modules",
  "bench/out",
];
const TEST_FLAGS = [
  "--allow-net",
  "--allow-run",
  "--allow-read",
  "--allow-env",
  "--allow-write",
];
// A mutant's tests that run longer than this are stopped, and the mutant
// counts as killed only if they had already failed.
const TIME_LIMIT_MS = 300_000;

const USAGE =
  `usage: deno task mutants [--list | --stale] [--only TEXT] [--jobs N]

  --list       print the catalogue and exit
  --stale      only check that each mutant's text occurs once in its file
  --only TEXT  run only the mutants whose name contains TEXT
  --jobs N     mutants run at once (default 2)`;

interface Entry extends Mutant {
  catalogue: string;
}

interface Outcome {
  entry: Entry;
  verdict: "killed" | "survived" | "stale";
  detail: string;
  ms: number;
}

async function loadCatalogue(): Promise<Entry[]> {
  const entries: Entry[] = [];
  const files = [...Deno.readDirSync(CATALOGUE)]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith(".ts") && !name.startsWith("_"))
    .sort();
  for (const name of files) {
    const module = await import(`${CATALOGUE}${name}`);
    for (const mutant of module.mutants as Mutant[]) {
      entries.push({ ...mutant, catalogue: name });
    }
  }
  return entries;
}

function countOccurrences(text: string, part: string): number {
  let count = 0;
  for (let at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
    count++;
  }
  return count;
}

async function trackedFiles(): Promise<string[]> {
  const { success, stdout } = await new Deno.Command("git", {
    args: ["ls-files", "-z"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error("git ls-files failed");
  return new TextDecoder().decode(stdout).split("\0").filter((f) => f !== "");
}

// A copy of the tracked tree (working-tree contents, so uncommitted edits
// are what is tested), with the untracked folders linked in.
async function copyTree(files: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mutant-" });
  for (const file of files) {
    const source = `${ROOT}${file}`;
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(source);
    } catch {
      continue; // deleted in the working tree
    }
    const target = `${dir}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), {
      recursive: true,
    });
    if (info.isSymlink) {
      await Deno.symlink(await Deno.readLink(source), target);
    } else {
      await Deno.copyFile(source, target);
      if (info.mode !== null) await Deno.chmod(target, info.mode & 0o777);
    }
  }
  for (const folder of LINKED) {
    try {
      await Deno.stat(`${ROOT}${folder}`);
    } catch {
      continue;
    }
    const target = `${dir}/${folder}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), {
      recursive: true,
    });
    await Deno.symlink(`${ROOT}${folder}`, target);
  }
  return dir;
}

async function runMutant(entry: Entry, files: string[]): Promise<Outcome> {
  const started = performance.now();
  const outcome = (verdict: Outcome["verdict"], detail: string): Outcome => ({
    entry,
    verdict,
    detail,
    ms: Math.round(performance.now() - started),
  });
  const original = await Deno.readTextFile(`${ROOT}${entry.file}`).catch(
    () => undefined,
  );
  if (original === undefined) {
    return outcome("stale", `${entry.file} does not exist`);
  }
  const count = countOccurrences(original, entry.find);
  if (count !== 1) {
    return outcome(
      "stale",
      `its text occurs ${count} times in ${entry.file}, not once`,
    );
  }
  const dir = await copyTree(files);
  try {
    await Deno.writeTextFile(
      `${dir}/${entry.file}`,
      original.replace(entry.find, () => entry.replace),
    );
    // Type-checked once by `deno task check`; a copy in a new folder would
    // be checked again from nothing, for every mutant.
    const args = ["test", "--no-check", ...TEST_FLAGS];
    if (entry.filter !== undefined) args.push("--filter", entry.filter);
    args.push(...entry.tests);
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, TIME_LIMIT_MS);
    const { code, stdout } = await child.output();
    clearTimeout(timer);
    const text = new TextDecoder().decode(stdout);
    const summary = text.match(/^(?:ok|FAILED) \| .*$/m)?.[0] ?? "";
    if (timedOut) {
      return summary.startsWith("FAILED") || /\bFAILED\b/.test(text)
        ? outcome("killed", `failed, then timed out`)
        : outcome("survived", `timed out after ${TIME_LIMIT_MS} ms`);
    }
    if (code === 0) return outcome("survived", summary || "tests passed");
    if (summary === "" && /\berror: /.test(text + "")) {
      // A patch that does not compile proves nothing about the tests.
      return outcome("stale", "the patched source did not type-check");
    }
    return outcome("killed", summary || `exit code ${code}`);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        list: { type: "boolean" },
        stale: { type: "boolean" },
        only: { type: "string" },
        jobs: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`mutants: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const jobs = Number(values.jobs ?? "2");
  if (!Number.isInteger(jobs) || jobs < 1) {
    console.error(`mutants: --jobs must be a positive integer\n${USAGE}`);
    return 2;
  }
  let entries = await loadCatalogue();
  if (values.only !== undefined) {
    entries = entries.filter((e) => e.name.includes(values.only!));
  }
  if (values.list) {
    for (const e of entries) {
      console.log(
        `${e.catalogue}: ${e.name} (${e.file}; ${e.tests.join(" ")})`,
      );
    }
    return 0;
  }
  if (values.stale) {
    let stale = 0;
    for (const e of entries) {
      const text = await Deno.readTextFile(`${ROOT}${e.file}`).catch(() => "");
      const count = countOccurrences(text, e.find);
      if (count !== 1) {
        stale++;
        console.log(
          `STALE    ${e.name} [${e.catalogue}]: ${count} times in ${e.file}`,
        );
      }
    }
    console.log(`mutants: ${entries.length - stale} current, ${stale} stale`);
    return stale === 0 ? 0 : 1;
  }
  if (entries.length === 0) {
    console.error("mutants: no mutants to run");
    return 1;
  }
  const files = await trackedFiles();
  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const entry = entries[next++];
      const result = await runMutant(entry, files);
      outcomes.push(result);
      const mark = result.verdict === "killed"
        ? "killed  "
        : result.verdict === "survived"
        ? "SURVIVED"
        : "STALE   ";
      console.log(
        `${mark} ${entry.name} [${entry.catalogue}] (${
          (result.ms / 1000).toFixed(1)
        } s): ${result.detail}`,
      );
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(jobs, entries.length) }, worker),
  );
  const killed = outcomes.filter((o) => o.verdict === "killed").length;
  const failed = outcomes.length - killed;
  console.log(`mutants: ${killed} killed, ${failed} not killed`);
  return failed === 0 ? 0 : 1;
}

Deno.exit(await main());
