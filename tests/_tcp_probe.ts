/**
 * A raw TCP peer for tests that run it inside a network namespace, where
 * the test cannot reach a socket itself: it says on stdout what happens to
 * its connections and takes commands on stdin.
 *
 *     _tcp_probe.ts listen HOST PORT
 *     _tcp_probe.ts connect HOST PORT [ABORT_MS]
 *
 * Prints, one a line:
 *
 *     listening HOST PORT
 *     accepted ID                       (listen: IDs 0, 1, ...)
 *     connected ID MS                   (connect: ID 0, after MS ms)
 *     connect-failed NAME MS            (Deno.connect rejected on its own)
 *     connect-aborted MS AFTER_MS       (ABORT_MS passed and the AbortSignal
 *                                        fired; AFTER_MS from abort() on)
 *     data ID TEXT                      (a line received)
 *     eof ID                            (the peer's FIN)
 *     error ID NAME SECONDS             (a read failed, SECONDS after our
 *                                        last send on ID: ETIMEDOUT, RST...)
 *     sent ID / closed ID               (commands done)
 *
 * Commands: `send ID TEXT` (writes TEXT and a newline), `close ID`.
 *
 * @module
 */

const encoder = new TextEncoder();
const connections = new Map<number, Deno.Conn>();
const lastSend = new Map<number, number>();
const closed = new Set<number>();

function say(line: string): void {
  console.log(line);
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void | Promise<void>,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      await onLine(buffered.slice(0, end));
      buffered = buffered.slice(end + 1);
    }
  }
}

async function serve(id: number, conn: Deno.Conn): Promise<void> {
  connections.set(id, conn);
  try {
    await readLines(conn.readable, (line) => say(`data ${id} ${line}`));
    say(`eof ${id}`);
  } catch (error) {
    if (closed.has(id)) return;
    const since = (performance.now() - (lastSend.get(id) ?? 0)) / 1000;
    say(`error ${id} ${(error as Error).name} ${since.toFixed(1)}`);
  }
}

async function command(line: string): Promise<void> {
  const [verb, idText, ...rest] = line.split(" ");
  const id = Number(idText);
  const conn = connections.get(id);
  if (!conn) return say(`no-connection ${idText}`);
  if (verb === "send") {
    lastSend.set(id, performance.now());
    try {
      await conn.write(encoder.encode(rest.join(" ") + "\n"));
      say(`sent ${id}`);
    } catch (error) {
      say(`send-failed ${id} ${(error as Error).name}`);
    }
  } else if (verb === "close") {
    closed.add(id);
    conn.close();
    say(`closed ${id}`);
  } else {
    say(`unknown-command ${verb}`);
  }
}

async function main(args: string[]): Promise<void> {
  const [mode, hostname, portText, abortText] = args;
  const port = Number(portText);
  const commands = readLines(Deno.stdin.readable, command);
  if (mode === "listen") {
    const listener = Deno.listen({ hostname, port });
    say(`listening ${hostname} ${(listener.addr as Deno.NetAddr).port}`);
    let id = 0;
    for await (const conn of listener) {
      say(`accepted ${id}`);
      serve(id++, conn);
    }
  } else if (mode === "connect") {
    const controller = new AbortController();
    const start = performance.now();
    let abortedAt = 0;
    const timer = abortText === undefined ? undefined : setTimeout(() => {
      abortedAt = performance.now();
      controller.abort();
    }, Number(abortText));
    try {
      const conn = await Deno.connect({
        hostname,
        port,
        signal: controller.signal,
      });
      clearTimeout(timer);
      say(`connected 0 ${(performance.now() - start).toFixed(1)}`);
      await serve(0, conn);
    } catch (error) {
      clearTimeout(timer);
      const now = performance.now();
      say(
        abortedAt
          ? `connect-aborted ${(now - start).toFixed(1)} ${
            (now - abortedAt).toFixed(2)
          }`
          : `connect-failed ${(error as Error).name} ${
            (now - start).toFixed(1)
          }`,
      );
      Deno.exit(0);
    }
  } else {
    console.error("usage: _tcp_probe.ts listen|connect HOST PORT [ABORT_MS]");
    Deno.exit(2);
  }
  await commands;
}

if (import.meta.main) await main(Deno.args);
