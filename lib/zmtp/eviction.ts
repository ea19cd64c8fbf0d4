/**
 * Which connection a full server closes to make room for a new one: the
 * rule that keeps idle peers that cannot be pinged (ZMTP 3.0 and 2.0
 * peers, which heartbeats never find out) from locking everyone else out.
 * Pure: the peers' standing in, a choice out.
 *
 * @module
 */

/** What the rule needs to know of one connection. */
export interface Standing {
  /** The peer answers PING (ZMTP 3.1 with heartbeats on). */
  pingable: boolean;
  /** A message from or to the peer is under way (mid-request). */
  active: boolean;
  /** Since when (ms) nothing has been read from the peer. */
  silentSince: number;
}

/**
 * How readily a connection is closed to make room, lowest first: idle
 * peers that cannot be pinged (0), idle peers that can (1), active peers
 * that cannot be pinged (2); `undefined` for an active peer that can be
 * pinged, which is never closed for another.
 *
 * @example
 * ```ts
 * import { evictionTier } from "./eviction.ts";
 * evictionTier({ pingable: false, active: false, silentSince: 0 }); // 0
 * evictionTier({ pingable: true, active: true, silentSince: 0 }); // undefined
 * ```
 */
export function evictionTier(standing: Standing): number | undefined {
  if (!standing.active) return standing.pingable ? 1 : 0;
  return standing.pingable ? undefined : 2;
}

/**
 * The peer to close to make room: the one silent longest in the lowest
 * {@link evictionTier}, or `undefined` when every peer is active and can
 * be pinged.
 *
 * @param peers the candidates
 * @param standing how each stands
 * @returns the peer to close, if any
 *
 * @example
 * ```ts
 * import { chooseEvictee } from "./eviction.ts";
 * const peers = [
 *   { name: "busy 3.1", pingable: true, active: true, silentSince: 0 },
 *   { name: "idle 3.1", pingable: true, active: false, silentSince: 100 },
 *   { name: "idle 3.0", pingable: false, active: false, silentSince: 200 },
 * ];
 * chooseEvictee(peers, (peer) => peer)?.name; // "idle 3.0"
 * ```
 */
export function chooseEvictee<T>(
  peers: Iterable<T>,
  standing: (peer: T) => Standing,
): T | undefined {
  let chosen: T | undefined;
  let chosenTier = Infinity;
  let chosenSince = Infinity;
  for (const peer of peers) {
    const facts = standing(peer);
    const tier = evictionTier(facts);
    if (tier === undefined || tier > chosenTier) continue;
    if (tier === chosenTier && facts.silentSince >= chosenSince) continue;
    chosen = peer;
    chosenTier = tier;
    chosenSince = facts.silentSince;
  }
  return chosen;
}
