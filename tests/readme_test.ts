/**
 * The documentation's examples print what it shows: README.md and every
 * docs/*.md. Every `console` block is typed as written, through `sh` and with
 * the real tasks, except that its ports are swapped for free ones (other work
 * may hold 2345 or 2500 here); the broker and CURVE examples, the benchmark
 * report, the README's test command (the one .ci/run runs) and the links
 * between the pages are checked too.
 */
import assert from "node:assert/strict";
import {
  freePort,
  portIsFree,
  Proc,
  python,
  ROOT,
  startServer,
} from "./_process.ts";

/** A page of the documentation: its path from the repository's root. */
interface Page {
  path: string;
  text: string;
}

/** README.md, then docs/*.md in name order. */
async function readPages(): Promise<Page[]> {
  const docs: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}docs`)) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      docs.push(`docs/${entry.name}`);
    }
  }
  return await Promise.all(
    ["README.md", ...docs.sort()].map(async (path) => ({
      path,
      text: await Deno.readTextFile(`${ROOT}${path}`),
    })),
  );
}

const PAGES = await readPages();
const README = PAGES[0].text;
// Plain text, as the pages show it (on a terminal the Task line is green).
const ENV = { NO_COLOR: "1" };

interface ConsoleBlock {
  page: string;
  command: string;
  output: string;
}

/** Every ```console block of every page: its `$` command line and the lines after it. */
function consoleBlocks(): ConsoleBlock[] {
  return PAGES.flatMap(({ path, text }) =>
    [...text.matchAll(/```console\n([\s\S]*?)```/g)].map(([, body]) => {
      const [first, ...rest] = body.split("\n");
      assert.match(
        first,
        /^\$ /,
        `${path}: a console block starts with "$ ":\n${body}`,
      );
      assert.ok(
        !rest.some((line) => line.startsWith("$ ")),
        `${path}: one command per console block:\n${body}`,
      );
      return { page: path, command: first.slice(2), output: rest.join("\n") };
    })
  );
}

/** The one console block, on any page, whose command matches. */
function block(command: RegExp): ConsoleBlock {
  const found = consoleBlocks().filter((b) => command.test(b.command));
  assert.equal(found.length, 1, `console blocks matching ${command}`);
  return found[0];
}

/** The one page where a pattern matches, and what it captured. */
function onePage(pattern: RegExp): { page: string; match: RegExpExecArray } {
  const found = PAGES.flatMap(({ path, text }) => {
    const match = pattern.exec(text);
    return match ? [{ page: path, match }] : [];
  });
  assert.equal(found.length, 1, `pages matching ${pattern}`);
  return found[0];
}

/** Where a console block lives, for a test's name; "docs" if nowhere yet. */
function pageOf(command: RegExp): string {
  return consoleBlocks().find((b) => command.test(b.command))?.page ?? "docs";
}

/** Swaps each documented port for the one used here, in a text. */
function withPorts(text: string, ports: Record<string, number>): string {
  return Object.entries(ports).reduce(
    (t, [from, to]) => t.replaceAll(from, String(to)),
    text,
  );
}

/** Runs a command line as a reader types it; stdout and stderr as one. */
async function typed(command: string): Promise<string> {
  const shell = new Proc("sh", ["-c", `exec 2>&1; ${command}`], {
    env: ENV,
  });
  const result = await shell.finish(30_000);
  return result.stdout;
}

const EXAMPLES = {
  tutorial: /^printf '100\\n1000\\nabc\\n' \| tools\/deno task client 2500$/,
  noServer: /^printf '100\\n' \| tools\/deno task client 2345 --timeout/,
  noHost: /^printf '100\\n' \| tools\/deno task client 2345 no-such-host/,
  verbose: /^printf .* --connect .* --connect .* --verbose$/,
  server: /^tools\/deno task server$/,
  client: /^tools\/deno task client$/,
};

Deno.test("README.md, docs/*.md: every console block is one this file checks", () => {
  assert.ok(PAGES.length > 1, "docs/*.md is read");
  for (const { page, command } of consoleBlocks()) {
    const checks = Object.values(EXAMPLES).filter((p) => p.test(command));
    assert.equal(checks.length, 1, `${page}: no check for: $ ${command}`);
  }
});

Deno.test("README.md: the test command is the one .ci/run runs, and the service command is there", async () => {
  const [, body] = /## Two commands\n\n```sh\n([\s\S]*?)```/.exec(README)!;
  const commands = body.trimEnd().split("\n").map((line) =>
    line.replace(/\s+#.*$/, "")
  );
  assert.deepEqual(commands, [
    "tools/deno task server",
    "tools/setup && tools/deno task test",
  ]);
  const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
  assert.match(
    ci,
    /^tools\/setup && tools\/deno task test 2>&1 \| tee "\$log"$/m,
  );
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(
    / /g,
    "-",
  );
}

Deno.test("README.md, docs/*.md: every relative link leads to a file, and its #anchor to a heading", async () => {
  const anchors = new Map(PAGES.map(({ path, text }) => [
    path,
    new Set(
      [...text.matchAll(/^#+ (.*)$/gm)].map(([, heading]) => anchor(heading)),
    ),
  ]));
  let links = 0;
  for (const { path, text } of PAGES) {
    const dir = path.includes("/")
      ? path.slice(0, path.lastIndexOf("/") + 1)
      : "";
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      links++;
      const [file, hash] = target.split("#");
      const resolved = file === ""
        ? path
        : new URL(file, `file:///${dir}`).pathname.slice(1);
      await Deno.stat(`${ROOT}${resolved}`).catch(() => {
        assert.fail(`${path}: ${target}: no such file`);
      });
      if (hash !== undefined) {
        assert.ok(
          anchors.get(resolved.replace(/\/$/, ""))?.has(hash),
          `${path}: ${target}: no such heading`,
        );
      }
    }
  }
  assert.ok(links > 0);
});

Deno.test(`${pageOf(EXAMPLES.tutorial)}: the pipeline to a 5x server on port 2500 prints what it shows`, async () => {
  const { command, output } = block(EXAMPLES.tutorial);
  await using ours = await startServer(["5", "0", "--quiet"]);
  const ports = { "2500": ours.port };
  assert.equal(
    await typed(withPorts(command, ports)),
    withPorts(output, ports),
  );
});

Deno.test(`${pageOf(EXAMPLES.noHost)}: the pipeline to a host that does not exist prints what it shows, at once`, async () => {
  const { command, output } = block(EXAMPLES.noHost);
  const started = performance.now();
  assert.equal(await typed(command), output);
  const ms = performance.now() - started;
  assert.ok(ms < 9_000, `took ${Math.round(ms)} ms, not at once`);
});

Deno.test(`${pageOf(EXAMPLES.noServer)}: the pipeline with no server prints what it shows`, async () => {
  const { command, output } = block(EXAMPLES.noServer);
  const ports = { "2345": freePort() };
  assert.equal(
    await typed(withPorts(command, ports)),
    withPorts(output, ports),
  );
});

/**
 * Checks a --verbose transcript against the order rule the guide states:
 * requests in order, each reply preceded by the server that computed it.
 */
function assertEachReplyFromItsServer(
  transcript: string,
  requests: number[],
  multipliers: Record<string, number>,
) {
  const [task, ...lines] = transcript.trimEnd().split("\n");
  assert.match(task, /^Task client /);
  assert.equal(lines.length, requests.length * 2, transcript);
  requests.forEach((request, i) => {
    const [, endpoint] = /^reply from (\S+)$/.exec(lines[2 * i]) ?? [];
    assert.ok(endpoint in multipliers, `line ${2 * i + 2}: ${lines[2 * i]}`);
    assert.equal(lines[2 * i + 1], `${request * multipliers[endpoint]}.0`);
  });
}

Deno.test(`${pageOf(EXAMPLES.verbose)}: the two-server --verbose example: requests in order, each reply from the server it names`, async () => {
  const { command, output } = block(EXAMPLES.verbose);
  const requests = /^printf '([^']*)'/.exec(command)![1].split("\\n")
    .filter((line) => line !== "").map(Number);
  // The page's own transcript keeps the rule it states.
  assertEachReplyFromItsServer(output, requests, {
    "tcp://127.0.0.1:2345": 2,
    "tcp://127.0.0.1:2500": 5,
  });
  await using two = await startServer(["2", "0", "--quiet"]);
  await using five = await startServer(["5", "0", "--quiet"]);
  const ports = { "2345": two.port, "2500": five.port };
  const transcript = await typed(withPorts(command, ports));
  assertEachReplyFromItsServer(transcript, requests, {
    [`tcp://127.0.0.1:${two.port}`]: 2,
    [`tcp://127.0.0.1:${five.port}`]: 5,
  });
  assert.equal(
    transcript.split("\n")[0],
    withPorts(output, ports).split("\n")[0],
  );
});

// The session on the tutorial's default port, typed on a terminal. The
// commands name no port, so this runs only when 2345 is free here.
const defaultPortFree = portIsFree(2345);

Deno.test({
  name: `${
    pageOf(EXAMPLES.client)
  }: the tutorial's session on the default port prints what it shows${
    defaultPortFree ? "" : " (skipped: port 2345 is in use here)"
  }`,
  ignore: !defaultPortFree,
  async fn() {
    const server = block(EXAMPLES.server);
    const client = block(EXAMPLES.client);
    const numbers = [...client.output.matchAll(/multiply: (\S+)/g)].map((m) =>
      m[1]
    );
    // The server on a terminal of its own, where the reader presses Ctrl-C
    // once the last request is logged.
    await using task = python([
      `${ROOT}tests/peers/pty_keys.py`,
      `wait=received: ${numbers.at(-1)} sending`,
      "key=^C",
      "--",
      `${ROOT}tools/deno`,
      "task",
      "server",
    ], { env: ENV });
    await task.waitFor(/Waiting for clients/);
    const session = python([
      `${ROOT}tests/peers/pty_run.py`,
      ...numbers,
      "--",
      `${ROOT}tools/deno`,
      "task",
      "client",
    ], { env: ENV });
    const typedSession = await session.finish();
    assert.equal(typedSession.code, 0, typedSession.stdout);
    // The screen ends with the prompt that Ctrl-D then closed.
    const screen = typedSession.stdout.replace(/\r\n/g, "\n").replace(
      / \n$/,
      "",
    );
    assert.equal(screen, client.output.trimEnd());
    const log = await task.finish();
    assert.equal(log.code, 0, log.stdout);
    assert.equal(
      log.stdout.replace(/\r\n/g, "\n"),
      server.output.trimEnd() + "\n",
    );
  },
});

const BROKER = /```sh\n(tools\/python tests\/peers\/broker\.py[\s\S]*?)```/;

Deno.test(`${onePage(BROKER).page}: the broker example answers as its comment says`, async () => {
  const [, body] = onePage(BROKER).match;
  const ports = { "5559": freePort(), "5560": freePort() };
  const lines = withPorts(body, ports).trimEnd().split("\n").map((line) => {
    const [, command, comment] = /^(.*?)\s*(?:#\s*(.*))?$/.exec(line)!;
    return { command, comment };
  });
  const last = lines.pop()!;
  const background: Proc[] = [];
  try {
    for (const { command } of lines) {
      assert.match(command, /&$/, "every line but the last runs in background");
      background.push(
        new Proc("sh", ["-c", `exec ${command.slice(0, -1)}`], { env: ENV }),
      );
    }
    const shell = new Proc("sh", ["-c", last.command], { env: ENV });
    const result = await shell.finish(30_000);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, last.comment!.split(", ").join("\n") + "\n");
    // A server that started before the broker says only what the page says.
    const [, notice] = onePage(/says once on stderr\n`([^`]+)`/).match;
    lines.forEach(({ command }, i) => {
      if (!command.includes("server.ts")) return;
      for (const said of background[i].stderr.split("\n").filter(Boolean)) {
        assert.equal(said, withPorts(notice, ports), command);
      }
    });
  } finally {
    for (const proc of background) await proc[Symbol.asyncDispose]();
  }
});

/**
 * Types a ```sh block of a page line by line, in a directory of its own
 * for the certificates inside the repository (where the keygen task may
 * write, deno task running there): lines ending in `&` run in the
 * background until they print their first line, the others to their end;
 * the last line must print what its comment says.
 */
async function typeScript(body: string, ports: Record<string, number>) {
  const dir = await Deno.makeTempDir({ dir: ROOT, prefix: ".readme-curve-" });
  const certs = dir.slice(ROOT.length) + "/certs";
  const lines = withPorts(body, ports).replaceAll("certs", certs).trimEnd()
    .split("\n").map((line) => {
      const [, command, comment] = /^(.*?)\s*(?:#\s*(.*))?$/.exec(line)!;
      return { command, comment };
    });
  const last = lines.pop()!;
  const background: Proc[] = [];
  // As typed at a shell of its own, where deno task sets INIT_CWD itself
  // (the test runner's task has set it already).
  const fresh = "unset INIT_CWD; ";
  try {
    for (const { command } of lines) {
      if (command.endsWith("&")) {
        const started = new Proc("sh", [
          "-c",
          `${fresh}exec ${command.slice(0, -1)}`,
        ], { env: ENV });
        background.push(started);
        await started.waitFor(/\n/);
        continue;
      }
      const step = new Proc("sh", ["-c", fresh + command], { env: ENV });
      const done = await step.finish(30_000);
      assert.equal(done.code, 0, `${command}\n${done.stderr}`);
    }
    const shell = new Proc("sh", ["-c", fresh + last.command], { env: ENV });
    const result = await shell.finish(30_000);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, last.comment!.split(", ").join("\n") + "\n");
  } finally {
    for (const proc of background) await proc[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
}

const CURVE = /```sh\n(tools\/deno task keygen certs\/server[\s\S]*?)```/;

Deno.test(`${onePage(CURVE).page}: the CURVE example serves the admitted client, as its comment says`, async () => {
  const [, body] = onePage(CURVE).match;
  await typeScript(body, { "2345": freePort() });
});

const CURVE_BROKER =
  /```sh\n(tools\/deno task keygen certs\/frontend[\s\S]*?)```/;

Deno.test(
  `${
    onePage(CURVE_BROKER).page
  }: the CURVE broker example, CURVE on both hops, answers as its comment says`,
  async () => {
    const [, body] = onePage(CURVE_BROKER).match;
    await typeScript(body, { "5559": freePort(), "5560": freePort() });
  },
);

const REPORT =
  /<!-- From `tools\/deno task bench --report bench\/results\/latest\.json`[^\n]*-->\n([\s\S]*?)<!-- End of the report\. -->/;

Deno.test(
  `${
    onePage(REPORT).page
  }: the Performance report is bench --report of bench/results/latest.json`,
  async () => {
    const [, quoted] = onePage(REPORT).match;
    const bench = new Proc(Deno.execPath(), [
      "task",
      "--quiet",
      "bench",
      "--report",
      "bench/results/latest.json",
    ]);
    const result = await bench.finish();
    assert.equal(result.code, 0, result.stderr);
    // deno fmt pads table cells, draws separator rows its own way and wraps
    // prose: compare the words and numbers.
    const normal = (text: string) =>
      text.split("\n").filter((line) => !/^\|[\s:|-]+\|$/.test(line)).join(" ")
        .replace(/\s+/g, " ").trim();
    assert.equal(normal(quoted), normal(result.stdout));
  },
);
