/**
 * Mutants for liveness (lib/zmtp/liveness.ts): each removes one rule, and
 * the tests named must then fail. The fake-clock tests in
 * tests/liveness_state_test.ts kill each in milliseconds; where the promise
 * is about the program (server.ts, a Reply), a real-socket test too.
 */
import type { Mutant } from "./_mutant.ts";

const FILE = "lib/zmtp/liveness.ts";
const STATE = ["tests/liveness_state_test.ts"];
const PROCESS = ["tests/liveness_test.ts"];

export const mutants: Mutant[] = [
  {
    name: "handshake timeout",
    file: FILE,
    find: "if (limit > 0 && now - this.#openedAt >= limit) {",
    replace: "if (limit > 0 && now - this.#openedAt >= Infinity) {",
    tests: STATE,
  },
  {
    name: "handshake timeout (server.ts closes unfinished handshakes)",
    file: FILE,
    find: "if (limit > 0 && now - this.#openedAt >= limit) {",
    replace: "if (limit > 0 && now - this.#openedAt >= Infinity) {",
    tests: ["tests/fuzz_test.ts"],
    filter: "handshake timeout",
  },
  {
    name: "heartbeats: a PING after interval ms of silence",
    file: FILE,
    find: "if (now - this.#lastHeard >= interval) {",
    replace: "if (false) {",
    tests: STATE,
  },
  {
    name: "heartbeats: server.ts drops frozen peers",
    file: FILE,
    find: "if (now - this.#lastHeard >= interval) {",
    replace: "if (false) {",
    tests: PROCESS,
    filter: "frozen after their handshake",
  },
  {
    name: "heartbeats: close timeout ms after an unanswered PING",
    file: FILE,
    find: "} else if (now - this.#pingSentAt >= timeout) {",
    replace: "} else if (false) {",
    tests: STATE,
  },
  {
    name: "heartbeats: server.ts drops a peer that does not answer its PING",
    file: FILE,
    find: "} else if (now - this.#pingSentAt >= timeout) {",
    replace: "} else if (false) {",
    tests: PROCESS,
    filter: "frozen after their handshake",
  },
  {
    name: "TTL sent: our PING carries heartbeat.ttl",
    file: FILE,
    find: "Math.ceil(this.#options.heartbeat.ttl / TTL_UNIT)",
    replace: "0",
    tests: STATE,
  },
  {
    name: "TTL sent: server.ts's PING carries twice --heartbeat",
    file: FILE,
    find: "Math.ceil(this.#options.heartbeat.ttl / TTL_UNIT)",
    replace: "0",
    tests: PROCESS,
    filter: "carry twice its --heartbeat",
  },
  {
    name: "TTL sent: rounded up to tenths of a second",
    file: FILE,
    find: "Math.ceil(this.#options.heartbeat.ttl / TTL_UNIT)",
    replace: "Math.floor(this.#options.heartbeat.ttl / TTL_UNIT)",
    tests: STATE,
  },
  {
    name: "TTL sent: capped at 0xffff",
    file: FILE,
    find: "      TTL_MAX,\n",
    replace: "      TTL_MAX * 1000,\n",
    tests: STATE,
  },
  {
    name: "TTL honoured: a peer silent for its PING's TTL is closed",
    file: FILE,
    find: "if (ttl > 0) {",
    replace: "if (false) {",
    tests: STATE,
  },
  {
    name: "TTL honoured: server.ts drops a peer silent for its TTL",
    file: FILE,
    find: "if (ttl > 0) {",
    replace: "if (false) {",
    tests: PROCESS,
    filter: "honours a peer's TTL",
  },
  {
    name: "TTL honoured: our own PONG's write does not answer it",
    file: FILE,
    find: "if (this.#readerBlocked()) this.#writes++;",
    replace: "if (this.#readerBlocked()) this.#reads++;",
    tests: [...STATE, ...PROCESS],
    filter: "TTL",
  },
  {
    name: "write-stall: six heartbeat periods without write progress",
    file: FILE,
    find: "const stall = WRITE_STALL_PERIODS * (interval + timeout);",
    replace: "const stall = Infinity;",
    tests: STATE,
  },
  {
    name: "write-stall: a Reply drops a peer its writes are stuck on",
    file: FILE,
    find: "const stall = WRITE_STALL_PERIODS * (interval + timeout);",
    replace: "const stall = Infinity;",
    tests: PROCESS,
    filter: "write to it is stuck",
  },
  {
    name: "write-stall: heartbeats wait while the reader waits on a write",
    file: FILE,
    find: "if (this.#io.writing && this.#readerBlocked()) {",
    replace: "if (false) {",
    tests: [...STATE, ...PROCESS],
    filter: "/stuck|slowly/",
  },
  {
    name: "write progress shows the peer alive while the reader waits on it",
    file: FILE,
    find: "if (this.#readerBlocked()) this.#writes++;",
    replace: "",
    tests: STATE,
  },
  {
    name: "a read loop we paused is a slow application, not a silent peer",
    file: FILE,
    find: "return this.#io.readerPaused && !this.#io.writing;",
    replace: "return false;",
    tests: STATE,
  },
  {
    name: "unpingable peers (ZMTP 3.0, 2.0) get no PING",
    file: FILE,
    find: "if (interval <= 0 || !this.#pingable) return undefined;",
    replace: "if (interval <= 0) return undefined;",
    tests: STATE,
  },
  {
    name: "silentFor: how long a peer has been silent",
    file: FILE,
    find: "return Math.max(0, now - this.#lastHeard);",
    replace: "return Math.max(0, now - now);",
    tests: STATE,
  },
];
