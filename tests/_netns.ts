/**
 * Test helpers: hosts on separate network stacks. A {@link Lab} is a set of
 * Linux network namespaces ("broker", "server1", "server2", "client" by
 * default), each with one interface `eth0` on 10.231.0.0/24, joined by veth
 * pairs to a bridge in a namespace of its own (a switch). A host's link can
 * be cut and restored silently; an address in the lab answers nothing at all
 * (a firewalled host). Nothing of a lab is linked to the machine's own
 * network: its addresses reach only its hosts, so labs of parallel runs
 * cannot clash, and everything goes when the lab is disposed of.
 *
 * ```ts
 * const reason = await netnsAvailable();
 * Deno.test({ name: "...", ignore: reason !== undefined }, async () => {
 *   await using lab = await Lab.create();
 *   await using server = lab.deno("server1", "server.ts", ["2", "5555", lab.address("server1")]);
 *   await server.waitFor(/Waiting for clients/);
 *   await lab.cut("server1");    // nothing gets through, nobody is told
 *   await lab.restore("server1");
 * });
 * ```
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN), iproute2's `ip`, and the
 * kernel's veth and bridge drivers; {@link netnsAvailable} says which is
 * missing. Also here: {@link blackholeEndpoint}, an endpoint whose SYNs are
 * dropped, with or without a lab.
 *
 * @module
 */

import {
  BROKER_READY,
  brokerArgs,
  denoArgs,
  Proc,
  type ProcOptions,
  pythonWithZmq,
  ROOT,
  sleep,
} from "./_process.ts";

/** Every namespace of ours is named `${PREFIX}-${pid}-${n}-${host}`. */
export const PREFIX = "mlab";
/** The hosts of a lab unless {@link LabOptions.hosts} says otherwise. */
const DEFAULT_HOSTS = ["broker", "server1", "server2", "client"];

const NET = "10.231.0"; // a /24 inside each lab, and only there
const VOID_HOST = 254; // the blackhole's last octet
const BRIDGE = "br0";

const DENO = Deno.execPath();

/** A command that failed, with what it printed on stderr. */
export class CommandError extends Error {
  constructor(command: string, args: string[], stderr: string, code: number) {
    super(
      `${command} ${args.join(" ")}: exit ${code}: ${
        stderr.trim() || "(no message)"
      }`,
    );
    this.name = "CommandError";
  }
}

/** Runs a command to its end; returns stdout, throws {@link CommandError}. */
export async function command(
  name: string,
  args: string[],
  input?: string,
): Promise<string> {
  const child = new Deno.Command(name, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (code !== 0) {
    throw new CommandError(name, args, decoder.decode(stderr), code);
  }
  return decoder.decode(stdout);
}

function ip(args: string[], input?: string): Promise<string> {
  return command("ip", args, input);
}

/** Runs `ip -n NAMESPACE -batch -` with one command a line. */
function ipBatch(namespace: string, lines: string[]): Promise<string> {
  return ip(["-n", namespace, "-batch", "-"], lines.join("\n") + "\n");
}

let availability: Promise<string | undefined> | undefined;

/**
 * Undefined when this process can make network namespaces, veth pairs and
 * bridges; otherwise one line saying why not, for a test's name. Tries once
 * per process, with a namespace of its own that it removes.
 */
export function netnsAvailable(): Promise<string | undefined> {
  return availability ??= probe();
}

async function probe(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") {
    return `network namespaces need Linux, not ${Deno.build.os}`;
  }
  const run = await Deno.permissions.query({ name: "run" });
  if (run.state !== "granted") return "no --allow-run permission";
  try {
    await ip(["-V"]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return "no `ip` command (install iproute2)";
    }
    return `\`ip -V\` failed: ${firstLine(error)}`;
  }
  const uid = (await command("id", ["-u"]).catch(() => "?")).trim();
  if (uid !== "0") return `not root (uid ${uid}): ip netns needs root`;
  const name = `${PREFIX}-${Deno.pid}-probe`;
  try {
    await ip(["netns", "add", name]);
    await ipBatch(name, [
      "link add name pa type veth peer name pb",
      `link add name ${BRIDGE} type bridge`,
      `link set pa master ${BRIDGE}`,
    ]);
    return undefined;
  } catch (error) {
    return `no permission or kernel support for netns, veth and bridge: ${
      firstLine(error)
    }`;
  } finally {
    await ip(["netns", "del", name]).catch(() => {});
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").find((line) => line.trim() !== "") ?? text;
}

/** Names of the network namespaces `ip netns list` shows. */
export async function listNamespaces(): Promise<string[]> {
  const text = await ip(["netns", "list"]);
  return text.split("\n").map((line) => line.split(" ")[0]).filter(Boolean);
}

/** Our namespaces (any run's), by name prefix. */
export async function ourNamespaces(): Promise<string[]> {
  return (await listNamespaces()).filter((name) =>
    name.startsWith(`${PREFIX}-`)
  );
}

/**
 * Which of `pids` run now. Asks a shell: Deno wants --allow-all, not just
 * --allow-read, to look at /proc/PID.
 */
async function running(pids: number[]): Promise<Set<number>> {
  if (pids.length === 0) return new Set();
  const text = await command("sh", [
    "-c",
    'for pid; do [ -d "/proc/$pid" ] && echo "$pid"; done; exit 0',
    "sh",
    ...pids.map(String),
  ]);
  return new Set(text.split("\n").filter(Boolean).map(Number));
}

/**
 * Ends what still runs in each namespace (they are ours: nothing else runs
 * in them), then removes them. Ignores names that are already gone.
 */
async function removeNamespaces(names: string[]): Promise<void> {
  await Promise.all(names.map(async (name) => {
    const pids = await ip(["netns", "pids", name]).catch(() => "");
    for (const pid of pids.split("\n").filter(Boolean).map(Number)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // It ended meanwhile.
      }
    }
    await ip(["netns", "del", name]).catch(() => {});
  }));
}

/**
 * Removes the namespaces of our runs whose process is gone (a run that was
 * killed before it could dispose of its lab); returns their names.
 * {@link Lab.create} calls it each time.
 */
async function sweepStaleNamespaces(): Promise<string[]> {
  const pidOf = (name: string) => Number(name.split("-")[1]);
  const ours = (await ourNamespaces()).filter((name) =>
    Number.isInteger(pidOf(name)) && pidOf(name) !== Deno.pid
  );
  const alive = await running([...new Set(ours.map(pidOf))]);
  const stale = ours.filter((name) => !alive.has(pidOf(name)));
  await removeNamespaces(stale);
  return stale;
}

/** One TCP socket as `ss -tni` shows it. */
export interface TcpSocket {
  /** ESTAB, SYN-SENT, FIN-WAIT-1, ... */
  state: string;
  local: string;
  peer: string;
  /** Retransmissions so far (ss's "retrans:current/total", the total). */
  retransmits: number;
  /** ss's detail line, for messages. */
  info: string;
}

/**
 * The TCP sockets (listeners excepted) of this network namespace, or of
 * `namespace`, as `ss -tni` shows them.
 */
export async function tcpSockets(namespace?: string): Promise<TcpSocket[]> {
  const text = namespace === undefined
    ? await command("ss", ["-Htni"])
    : await ip(["netns", "exec", namespace, "ss", "-Htni"]);
  const sockets: TcpSocket[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (/^\s/.test(line)) {
      const socket = sockets.at(-1);
      if (socket) {
        socket.info = line.trim();
        const retrans = line.match(/\bretrans:\d+\/(\d+)/);
        socket.retransmits = retrans ? Number(retrans[1]) : 0;
      }
      continue;
    }
    const [state, , , local, peer] = line.trim().split(/\s+/);
    sockets.push({ state, local, peer, retransmits: 0, info: "" });
  }
  return sockets;
}

/**
 * Waits until `count` TCP sockets of this namespace (or of `namespace`)
 * match; returns them. The kernel announces no such event (a segment sent
 * again, a state reached), so this asks ss every 50 ms, for at most `ms`.
 */
export async function waitForSockets(
  match: (socket: TcpSocket) => boolean,
  options: { namespace?: string; count?: number; ms?: number; what?: string } =
    {},
): Promise<TcpSocket[]> {
  const { namespace, count = 1, ms = 10_000 } = options;
  const deadline = Date.now() + ms;
  while (true) {
    const sockets = await tcpSockets(namespace);
    const matching = sockets.filter(match);
    if (matching.length >= count) return matching;
    if (Date.now() > deadline) {
      throw new Error(
        `no ${count} sockets ${options.what ?? "matching"} within ${ms} ms${
          namespace ? ` in ${namespace}` : ""
        }: ${
          sockets.map((s) => `${s.state} ${s.local} ${s.peer} ${s.info}`)
            .join("; ") || "none"
        }`,
      );
    }
    await sleep(50);
  }
}

/** Whether `socket`'s peer is `peer` (ADDR:PORT) or on `peer` (ADDR). */
export function peerIs(socket: TcpSocket, peer: string): boolean {
  return socket.peer === peer || socket.peer.startsWith(`${peer}:`);
}

/**
 * Whether `socket` is an established connection to `local` (ADDR:PORT),
 * from `peer` (ADDR:PORT or ADDR) when given, that has received a ZMTP
 * greeting (64 octets) and more (READY).
 */
export function greetedAt(
  socket: TcpSocket,
  local: string,
  peer?: string,
): boolean {
  return socket.state === "ESTAB" && socket.local === local &&
    (peer === undefined || peerIs(socket, peer)) &&
    Number(socket.info.match(/bytes_received:(\d+)/)?.[1] ?? 0) > 64;
}

/**
 * Registers a test that needs a lab: where namespaces cannot be made
 * (`reason`, from {@link netnsAvailable}), it is ignored, with the reason in
 * its name.
 */
export function labTest(
  reason: string | undefined,
  name: string,
  fn: () => Promise<void>,
): void {
  Deno.test({
    name: reason === undefined ? name : `${name} (skipped: ${reason})`,
    ignore: reason !== undefined,
    fn,
  });
}

/** Options for {@link Lab.create}. */
export interface LabOptions {
  /**
   * Host names, each 1 to 12 lower-case letters or digits, starting with a
   * letter; default {@link DEFAULT_HOSTS}.
   */
  hosts?: string[];
  /**
   * More set-up once the lab is built (sysctls, say); if it throws, create()
   * removes the lab and rethrows.
   */
  setup?: (lab: Lab) => Promise<void>;
}

/**
 * Hosts in network namespaces of their own around a switch. Create with
 * `await using lab = await Lab.create()`: disposing of it stops what
 * {@link run} started and removes every namespace, and with them every
 * interface, even after a failure.
 */
export class Lab implements AsyncDisposable {
  static #count = 0;
  /** This lab's namespaces are named `${id}-sw` and `${id}-${host}`. */
  readonly id: string;
  readonly hosts: readonly string[];
  readonly #created: string[] = [];
  readonly #procs: Proc[] = [];
  #disposed = false;

  private constructor(hosts: string[]) {
    this.id = `${PREFIX}-${Deno.pid}-${Lab.#count++}`;
    this.hosts = hosts;
  }

  /** Builds a lab (after sweeping stale namespaces of crashed runs). */
  static async create(options: LabOptions = {}): Promise<Lab> {
    const hosts = [...(options.hosts ?? DEFAULT_HOSTS)];
    for (const host of hosts) {
      if (!/^[a-z][a-z0-9]{0,11}$/.test(host) || host === "sw") {
        throw new Error(`Lab: bad host name "${host}"`);
      }
    }
    if (new Set(hosts).size !== hosts.length || hosts.length > 200) {
      throw new Error(`Lab: hosts must be distinct, at most 200`);
    }
    await sweepStaleNamespaces();
    const lab = new Lab(hosts);
    try {
      await lab.#build();
      await options.setup?.(lab);
      return lab;
    } catch (error) {
      await lab[Symbol.asyncDispose]();
      throw error;
    }
  }

  async #build(): Promise<void> {
    const switchNs = this.#switch;
    const all = [switchNs, ...this.hosts.map((host) => this.namespace(host))];
    for (const name of all) {
      await ip(["netns", "add", name]);
      this.#created.push(name);
    }
    // The switch: a bridge, and one veth pair a host, created in place so
    // that no interface of ours ever appears in the machine's namespace.
    // No IPv6 addresses anywhere: the only traffic is the tests'.
    await ipBatch(switchNs, [
      "link set lo up",
      `link add name ${BRIDGE} type bridge`,
      `link set ${BRIDGE} addrgenmode none`,
      `link set ${BRIDGE} up`,
      ...this.hosts.flatMap((host, i) => [
        `link add name ${port(host)} address ${
          mac(1, i)
        } type veth peer name eth0 address ${mac(0, i)} netns ${
          this.namespace(host)
        }`,
        `link set ${port(host)} addrgenmode none`,
        `link set ${port(host)} master ${BRIDGE}`,
        `link set ${port(host)} up`,
      ]),
    ]);
    // Permanent neighbour entries: no ARP, so that a cut host's address
    // does not fail resolution (which reports EHOSTUNREACH within 3 s)
    // but swallows every packet, and so does the void address.
    await Promise.all(
      this.hosts.map((host, i) =>
        ipBatch(this.namespace(host), [
          "link set lo up",
          "link set eth0 addrgenmode none",
          `addr add ${this.address(host)}/24 dev eth0`,
          "link set eth0 up",
          ...this.hosts.flatMap((other, j) =>
            j === i ? [] : [
              `neigh replace ${this.address(other)} lladdr ${
                mac(0, j)
              } dev eth0 nud permanent`,
            ]
          ),
          `neigh replace ${this.blackholeAddress} lladdr ${
            mac(2, 0)
          } dev eth0 nud permanent`,
        ])
      ),
    );
  }

  get #switch(): string {
    return `${this.id}-sw`;
  }

  #check(host: string): string {
    if (!this.hosts.includes(host)) {
      throw new Error(`Lab: no host "${host}" (hosts: ${this.hosts})`);
    }
    if (this.#disposed) throw new Error(`Lab ${this.id} is disposed of`);
    return host;
  }

  /** The network namespace of `host`, for `ip netns exec`. */
  namespace(host: string): string {
    return `${this.id}-${this.#check(host)}`;
  }

  /** The IPv4 address of `host`. */
  address(host: string): string {
    return `${NET}.${this.hosts.indexOf(this.#check(host)) + 1}`;
  }

  /** `tcp://ADDRESS:PORT` of `host`. */
  endpoint(host: string, port: number): string {
    return `tcp://${this.address(host)}:${port}`;
  }

  /**
   * An address in the lab that belongs to no one: every host sends its
   * frames to a MAC address no interface has, so SYNs to it vanish without
   * an answer, ICMP error or ARP failure — a firewalled host.
   */
  get blackholeAddress(): string {
    return `${NET}.${VOID_HOST}`;
  }

  /** Runs `command` inside `host`; disposing of the lab stops it. */
  run(
    host: string,
    command: string,
    args: string[],
    options?: ProcOptions,
  ): Proc {
    // `ip netns exec` execs the command: the Proc's pid is the command's.
    const proc = new Proc(
      "ip",
      ["netns", "exec", this.namespace(host), command, ...args],
      options,
    );
    this.#procs.push(proc);
    return proc;
  }

  /** Runs a script of ours inside `host`, as _process.ts's deno() does. */
  deno(
    host: string,
    script: string,
    args: string[],
    options?: ProcOptions,
  ): Proc {
    return this.run(host, DENO, denoArgs(script, args), options);
  }

  /**
   * tests/peers/broker.py inside `host`: frontend on `port`, backend on
   * `port + 1`, both on the host's address; returned once it says it is ready.
   */
  async broker(host: string, port: number): Promise<Proc> {
    const proc = this.run(
      host,
      pythonWithZmq(),
      brokerArgs(port, port + 1, this.address(host)),
    );
    await proc.waitFor(BROKER_READY);
    return proc;
  }

  /** Runs `command` inside `host` to its end; returns its stdout. */
  exec(host: string, name: string, args: string[]): Promise<string> {
    return ip(["netns", "exec", this.namespace(host), name, ...args]);
  }

  /**
   * Sets a sysctl of `host`'s network stack (net.ipv4.tcp_syn_retries,
   * net.ipv4.tcp_retries2, ...), which other namespaces do not see.
   */
  async sysctl(
    host: string,
    key: string,
    value: string | number,
  ): Promise<void> {
    if (!/^net\.[a-z0-9_.]+$/.test(key)) {
      throw new Error(`Lab.sysctl: not a net.* key: ${key}`);
    }
    const path = `/proc/sys/${key.replaceAll(".", "/")}`;
    await this.exec(host, "sh", [
      "-c",
      'printf "%s\\n" "$1" > "$0"',
      path,
      String(value),
    ]);
  }

  /** The TCP sockets of `host` (`ss -tni`), listeners excepted. */
  sockets(host: string): Promise<TcpSocket[]> {
    return tcpSockets(this.namespace(host));
  }

  /** {@link waitForSockets} in `host`. */
  waitForSockets(
    host: string,
    match: (socket: TcpSocket) => boolean,
    options: { count?: number; ms?: number; what?: string } = {},
  ): Promise<TcpSocket[]> {
    return waitForSockets(match, {
      ...options,
      namespace: this.namespace(host),
    });
  }

  /**
   * Waits until `host`'s stack has sent a segment to `peer` (ADDR:PORT, or
   * ADDR) again at least `count` times: evidence that its segments are lost.
   */
  async waitForRetransmits(
    host: string,
    peer: string,
    count = 1,
    ms = 10_000,
  ): Promise<TcpSocket> {
    const [socket] = await this.waitForSockets(
      host,
      (s) => peerIs(s, peer) && s.retransmits >= count,
      { ms, what: `retransmitting to ${peer} ${count} times` },
    );
    return socket;
  }

  /**
   * Cuts `host`'s link at the switch: its port leaves the bridge, so that
   * every frame from or to `host` is dropped. The host's own interface stays
   * up (it sees no carrier loss), and no one is told: no RST, no FIN, no
   * ICMP. Established connections stall; connects to it stay pending (the
   * neighbour entries are permanent: with ARP, a connect would fail with
   * EHOSTUNREACH after 3 s). Not the bridge port's STP state: "listening"
   * drops frames but the bridge's forward-delay timer reopens the port
   * within about 15-30 s, and "disabled" is undone at once without STP.
   */
  async cut(host: string): Promise<void> {
    await ip([
      "-n",
      this.#switch,
      "link",
      "set",
      port(this.#check(host)),
      "nomaster",
    ]);
  }

  /** Puts `host`'s port back on the bridge: frames flow at once. */
  async restore(host: string): Promise<void> {
    await ip([
      "-n",
      this.#switch,
      "link",
      "set",
      port(this.#check(host)),
      "master",
      BRIDGE,
    ]);
  }

  /** Stops what run() started, then removes every namespace of the lab. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all(this.#procs.map((proc) => proc[Symbol.asyncDispose]()));
    await removeNamespaces(this.#created);
    const left = (await listNamespaces()).filter((name) =>
      name.startsWith(`${this.id}-`)
    );
    if (left.length > 0) {
      throw new Error(`Lab ${this.id}: namespaces left behind: ${left}`);
    }
  }
}

function port(host: string): string {
  return `p-${host}`;
}

/** A locally administered MAC address: 02:00:0a:e7:KIND:INDEX. */
function mac(kind: number, index: number): string {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return `02:00:0a:e7:${hex(kind)}:${hex(index + 1)}`;
}

/** An endpoint whose SYNs vanish; dispose of it to end it. */
export interface Blackhole extends AsyncDisposable {
  endpoint: string;
  hostname: string;
  port: number;
  /** How its SYNs are dropped. */
  technique: "full-backlog" | "lab-void";
}

/**
 * An endpoint that takes no connection and says nothing: a connect to it
 * stays pending until the caller gives up (or until the kernel does, after
 * about 130 s of SYN retransmissions).
 *
 * With a lab, `tcp://10.231.0.254:PORT`, the lab's void address, reachable
 * from the lab's hosts only. Without one, a listener on 127.0.0.1 whose
 * accept queue is full (tests/peers/full_backlog.py): Linux drops SYNs to a
 * listener with a full accept queue whatever tcp_syncookies and
 * tcp_abort_on_overflow say, needs no root, and the test process itself
 * can connect to it.
 */
export async function blackholeEndpoint(
  options: { lab?: Lab; port?: number } = {},
): Promise<Blackhole> {
  if (options.lab) {
    const hostname = options.lab.blackholeAddress;
    const port = options.port ?? 5555;
    return {
      endpoint: `tcp://${hostname}:${port}`,
      hostname,
      port,
      technique: "lab-void",
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const listener = new Proc(
    pythonWithZmq(),
    ["-u", `${ROOT}tests/peers/full_backlog.py`, "127.0.0.1"],
    { interactiveStdin: true },
  );
  try {
    const [, hostname, port] = await listener.waitFor(
      /^blackhole (\S+) (\d+)$/m,
      10_000,
    );
    return {
      endpoint: `tcp://${hostname}:${port}`,
      hostname,
      port: Number(port),
      technique: "full-backlog",
      [Symbol.asyncDispose]: () => listener[Symbol.asyncDispose](),
    };
  } catch (error) {
    await listener[Symbol.asyncDispose]();
    throw error;
  }
}
