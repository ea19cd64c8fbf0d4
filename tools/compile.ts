/**
 * `deno task compile`: builds the standalone binaries `dist/server` and
 * `dist/client` with `deno compile`, or says in one line why it cannot and
 * leaves `dist/` as it was.
 *
 * `deno compile` builds on `denort`, Deno's runtime for standalone binaries:
 * `denort-<target>.zip` among the assets of Deno's release of the same
 * version, which it downloads once into `DENO_DIR/dl/`, or the file named by
 * `DENORT_BIN`. Where it can have neither, this says so, instead of Deno's
 * network error and backtrace. A `DENORT_BIN` that is not a denort is
 * refused before anything is built: Deno itself would build a binary of
 * Deno's size that starts a REPL. Both are built in a folder of their own
 * and moved into `dist/` only once both are built.
 *
 * @module
 */

/** One binary: its name in `dist/`, its entry point, `deno compile`'s flags. */
export interface Build {
  name: string;
  entry: string;
  flags: readonly string[];
}

/** What `deno task compile` builds: each program with the task's permissions. */
export const BUILDS: readonly Build[] = [
  {
    name: "server",
    entry: "server.ts",
    flags: [
      "--allow-net",
      "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=20",
      "--exclude-unused-npm",
    ],
  },
  {
    name: "client",
    entry: "client.ts",
    flags: ["--allow-net", "--exclude-unused-npm"],
  },
];

const ROOT = new URL("..", import.meta.url).pathname;
const DIST = `${ROOT}dist`;
const DENO = Deno.execPath();
const VERSION = Deno.version.deno;
const ZIP = `denort-${Deno.build.target}.zip`;
const WHERE =
  `get ${ZIP} from the assets of Deno's v${VERSION} release, unzip it, and set DENORT_BIN to the denort inside`;

/** A reason to build nothing, said in one line. */
class CompileError extends Error {}

/**
 * Why `path` cannot be a denort, or nothing when it may be one. A denort
 * has no options of its own: run alone it looks for the program compiled
 * into it, finds none and fails. Deno, and any other program, answers
 * `--version`.
 */
async function notDenort(path: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return "no such file";
  }
  if (!info.isFile) return "not a file";
  if (((info.mode ?? 0o111) & 0o111) === 0) return "not executable";
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(10_000),
    }).output();
  } catch (error) {
    return `cannot be run (${(error as Error).message})`;
  }
  if (!output.success) return undefined;
  const said = new TextDecoder().decode(output.stdout).split("\n")[0].trim();
  return `it answers --version${
    said === "" ? "" : ` with "${said}"`
  }, which a denort never does (it runs only the program compiled into it)`;
}

// The denort `deno compile` downloads and keeps, where it keeps it.
async function cachedDenort(): Promise<string> {
  const output = await new Deno.Command(DENO, {
    args: ["info", "--json"],
    stdin: "null",
    stderr: "null",
  }).output();
  const { denoDir } = JSON.parse(new TextDecoder().decode(output.stdout));
  return `${denoDir}/dl/release/v${VERSION}/${ZIP}`;
}

function childEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  if (env.DENORT_BIN === "") delete env.DENORT_BIN;
  return env;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<number> {
  const denort = Deno.env.get("DENORT_BIN") || undefined;
  if (denort !== undefined) {
    const why = await notDenort(denort);
    if (why !== undefined) {
      throw new CompileError(
        `DENORT_BIN=${denort} is not a denort: ${why}; ${WHERE}`,
      );
    }
  }
  const distExisted = await exists(DIST);
  await Deno.mkdir(DIST, { recursive: true });
  const staging = await Deno.makeTempDir({ dir: DIST, prefix: ".building-" });
  try {
    for (const build of BUILDS) {
      const { code, stderr } = await new Deno.Command(DENO, {
        args: [
          "compile",
          ...build.flags,
          "--output",
          `${staging}/${build.name}`,
          build.entry,
        ],
        cwd: ROOT,
        // An empty DENORT_BIN means none, to us; Deno would read "".
        clearEnv: true,
        env: childEnv(),
        stdin: "null",
        stdout: "inherit",
        stderr: "piped",
      }).output();
      if (code === 0) {
        await Deno.stderr.write(stderr);
        continue;
      }
      if (denort === undefined && !await exists(await cachedDenort())) {
        throw new CompileError(
          `deno compile could not download ${ZIP}, the runtime it builds on (no network?); ${WHERE}`,
        );
      }
      await Deno.stderr.write(stderr);
      throw new CompileError(`deno compile ${build.entry} failed`);
    }
    for (const build of BUILDS) {
      await Deno.rename(`${staging}/${build.name}`, `${DIST}/${build.name}`);
    }
    return 0;
  } finally {
    await Deno.remove(staging, { recursive: true });
    if (!distExisted) {
      // Built nothing: leave no empty dist/ behind.
      await Deno.remove(DIST).catch(() => {});
    }
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    if (!(error instanceof CompileError)) throw error;
    console.error(`compile: ${error.message}; nothing was written to dist/`);
    Deno.exit(1);
  }
}
