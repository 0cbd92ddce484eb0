// What a ClusterObject keeps in its storage, versioned. Two keys: `state` (the engine's
// PersistedState) and `meta` (shell facts: site, node token hashes), plus one key per month of the
// availability ledger (`ledger:YYYY-MM`, engine/ledger.ts: written with `state`, unversioned:
// a month record only gains fields, and a reader ignores what it does not know). `state` and
// `meta` carry `schemaVersion`;
// a Worker that finds an older version migrates it on load, in memory, one step at a time, and
// writes it back once, before it serves anything. Migrations only add or fill fields, never move
// a holder or an epoch, so a new Worker version loads old state without a VIP moving
// (test/worker/state-schema.test.ts loads a captured v0 object). A Worker one version older than
// the state keeps fields it does not know (the engine copies state with spreads), so rolling back
// one version works too.
import type { PersistedState } from "../engine/types.js";

export const STATE_SCHEMA_VERSION = 2;

export interface Meta {
  schemaVersion: number;
  siteId: string;
  /** SHA-256 of each node's current token. */
  nodeTokenHashes: Record<string, string>;
  /**
   * A node's token before its last rotation, still accepted until `until` (ms, this object's
   * clock): a rotation with a grace period never drops a heartbeat (v1).
   */
  previousTokens: Record<string, { hash: string; until: number }>;
}

export type VersionedState = PersistedState & { schemaVersion: number };

type Raw = { state: Record<string, unknown>; meta: Record<string, unknown> };

/** MIGRATIONS[n] turns version n into n + 1. Never edit a published step; add the next one. */
const MIGRATIONS: ((s: Raw) => Raw)[] = [
  // v0 -> v1: versions stamped; token overlap (previousTokens) added; `operations` always present.
  ({ state, meta }) => ({
    state: { ...state, operations: state.operations ?? {}, schemaVersion: 1 },
    meta: { ...meta, previousTokens: meta.previousTokens ?? {}, schemaVersion: 1 },
  }),
  // v1 -> v2: the availability ledger (its open interval per group; it starts at each group's next
  // healthy report) and failover drills.
  ({ state, meta }) => ({
    state: { ...state, ledger: state.ledger ?? {}, drills: state.drills ?? {}, schemaVersion: 2 },
    meta: { ...meta, schemaVersion: 2 },
  }),
];

export class StateSchemaError extends Error {}

const versionOf = (o: Record<string, unknown>): number => (typeof o.schemaVersion === "number" ? o.schemaVersion : 0);

/**
 * Bring stored state and meta to STATE_SCHEMA_VERSION. `from` is the version found (the lower of
 * the two); `migrated` says whether anything changed and must be written back.
 */
export function migrateStored(state: unknown, meta: unknown): { state: VersionedState; meta: Meta; from: number; migrated: boolean } {
  if (!isRecord(state) || !isRecord(meta)) throw new StateSchemaError("stored cluster state is not an object");
  let raw: Raw = { state, meta };
  const from = Math.min(versionOf(state), versionOf(meta));
  for (let v = from; v < STATE_SCHEMA_VERSION; v++) {
    const step = MIGRATIONS[v];
    if (!step) throw new StateSchemaError(`no migration from state schema v${v}`);
    raw = step(raw);
  }
  const s = raw.state;
  const m = raw.meta;
  if (typeof s.clusterId !== "string" || !isRecord(s.spec) || !isRecord(s.groups) || typeof m.siteId !== "string" || !isRecord(m.nodeTokenHashes) || !isRecord(m.previousTokens)) {
    throw new StateSchemaError(`stored cluster state (schema v${from}) lacks required fields after migration`);
  }
  return { state: s as unknown as VersionedState, meta: m as unknown as Meta, from, migrated: from < STATE_SCHEMA_VERSION };
}

/** A new cluster's meta at the current version. */
export function newMeta(siteId: string, nodeTokenHashes: Record<string, string>): Meta {
  return { schemaVersion: STATE_SCHEMA_VERSION, siteId, nodeTokenHashes, previousTokens: {} };
}

/** The engine's snapshot as stored: always stamped with the current version. */
export function stamp(state: PersistedState): VersionedState {
  return { ...state, schemaVersion: STATE_SCHEMA_VERSION };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
