// MariaDB GTIDs (`domain-server-seq`), shared by the engine and the shim's mysql code. Pure.
//
// A *position* (gtid_binlog_pos, gtid_current_pos, Gtid_IO_Pos) lists the last GTID of each
// domain; a *state* (gtid_binlog_state) lists the last GTID of each (domain, server) pair.
// Sequence numbers grow within a domain, never across domains, so positions are only partially
// ordered: a server can be ahead in one domain and behind in another, and two servers can hold
// different transactions under the same sequence number (diverged histories).

export interface Gtid {
  domain: number;
  server: number;
  seq: number;
}

const GTID = /^(\d+)-(\d+)-(\d+)$/;

/** Every well-formed GTID in a comma-separated list (blanks and malformed parts are skipped). */
export function parseGtids(list: string): Gtid[] {
  const out: Gtid[] = [];
  for (const part of list.split(",")) {
    const m = GTID.exec(part.trim());
    if (m) out.push({ domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) });
  }
  return out;
}

/** The last GTID per domain (a position; a state collapses to its highest sequence per domain). */
export function positionOf(list: string): Map<number, Gtid> {
  const out = new Map<number, Gtid>();
  for (const g of parseGtids(list)) {
    const have = out.get(g.domain);
    if (!have || g.seq > have.seq) out.set(g.domain, g);
  }
  return out;
}

export const formatGtid = (g: Gtid) => `${g.domain}-${g.server}-${g.seq}`;

/** A position as MariaDB prints it: domains in order, comma-separated ("" when empty). */
export function formatPosition(pos: Map<number, Gtid>): string {
  return [...pos.values()].sort((a, b) => a.domain - b.domain).map(formatGtid).join(",");
}

export type GtidOrder = "equal" | "before" | "after" | "incomparable";

/**
 * Per-domain partial order of two positions: `after` when `a` has everything `b` has and more,
 * `before` the other way round, `incomparable` when each has something the other lacks (or the
 * same sequence number names different transactions). A missing domain counts as nothing there.
 */
export function compareGtid(a: string, b: string): GtidOrder {
  const pa = positionOf(a);
  const pb = positionOf(b);
  let ahead = false;
  let behind = false;
  for (const d of new Set([...pa.keys(), ...pb.keys()])) {
    const x = pa.get(d);
    const y = pb.get(d);
    const sx = x?.seq ?? 0;
    const sy = y?.seq ?? 0;
    if (sx > sy) ahead = true;
    else if (sx < sy) behind = true;
    else if (x && y && x.server !== y.server) return "incomparable";
  }
  if (ahead && behind) return "incomparable";
  return ahead ? "after" : behind ? "before" : "equal";
}

/** `a` contains everything in position `b` (per domain). */
export const gtidCovers = (a: string, b: string) => {
  const o = compareGtid(a, b);
  return o === "equal" || o === "after";
};

/** Per domain, the further of two positions (what a replica has received: relay log or applied). */
export function mergePositions(...lists: string[]): string {
  const out = new Map<number, Gtid>();
  for (const list of lists) {
    for (const [d, g] of positionOf(list)) {
      const have = out.get(d);
      if (!have || g.seq > have.seq) out.set(d, g);
    }
  }
  return formatPosition(out);
}

/** Last sequence per (domain, server) of a state or position. */
function stateOf(list: string): Map<string, Gtid> {
  const out = new Map<string, Gtid>();
  for (const g of parseGtids(list)) {
    const key = `${g.domain}-${g.server}`;
    const have = out.get(key);
    if (!have || g.seq > have.seq) out.set(key, g);
  }
  return out;
}

/**
 * GTIDs this server originated (its server_id) that `refState` does not contain: transactions only
 * it has. On a server that is not the writer they are errant — promoting it, or replicating from
 * it, would merge them into the writer's history.
 */
export function errantGtids(ownState: string, ownServerId: number, refState: string): string[] {
  const ref = stateOf(refState);
  const out: string[] = [];
  for (const [key, g] of stateOf(ownState)) {
    if (g.server !== ownServerId) continue;
    if ((ref.get(key)?.seq ?? 0) < g.seq) out.push(formatGtid(g));
  }
  return out;
}
