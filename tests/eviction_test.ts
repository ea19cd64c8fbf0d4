/**
 * The rule a full server closes a connection by (eviction.ts): idle peers
 * that cannot be pinged go first, then idle ones that can, then busy ones
 * that cannot; busy peers that can be pinged never; silent longest first
 * within each.
 */
import assert from "node:assert/strict";
import { chooseEvictee, type Standing } from "../lib/zmtp/eviction.ts";

type Peer = Standing & { name: string };
const peer = (
  name: string,
  pingable: boolean,
  active: boolean,
  silentSince: number,
): Peer => ({ name, pingable, active, silentSince });
const choose = (...peers: Peer[]) => chooseEvictee(peers, (p) => p)?.name;

Deno.test("chooseEvictee() takes an idle peer that cannot be pinged before an idle one that can, however long silent", () => {
  assert.equal(
    choose(
      peer("idle 3.1", true, false, 0),
      peer("idle 3.0", false, false, 500),
    ),
    "idle 3.0",
  );
});

Deno.test("chooseEvictee() takes the peer silent longest within a tier", () => {
  assert.equal(
    choose(
      peer("3.0 newer", false, false, 300),
      peer("3.0 older", false, false, 100),
      peer("3.0 middle", false, false, 200),
    ),
    "3.0 older",
  );
});

Deno.test("chooseEvictee() takes a busy peer that cannot be pinged only when no peer is idle", () => {
  assert.equal(
    choose(
      peer("busy 3.0", false, true, 0),
      peer("idle 3.1", true, false, 900),
    ),
    "idle 3.1",
  );
  assert.equal(
    choose(peer("busy 3.0", false, true, 0), peer("busy 3.1", true, true, 0)),
    "busy 3.0",
  );
});

Deno.test("chooseEvictee() never takes a busy peer that can be pinged", () => {
  assert.equal(
    choose(
      peer("busy 3.1", true, true, 0),
      peer("busy 3.1 too", true, true, 1),
    ),
    undefined,
  );
});
