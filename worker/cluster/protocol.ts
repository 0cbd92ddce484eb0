// Which heartbeat protocol versions this control plane serves, and each reply in the version the
// shim spoke (protocol/heartbeat.ts explains the rule). Older shims parse replies strictly, so a
// reply to them must carry only the fields their version knew.
import { type DesiredState, type HeartbeatReply, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION } from "../../protocol/heartbeat.js";

/** Null when served; else why not (a 400 the shim logs on every beat until someone upgrades). */
export function protocolRefusal(version: number): string | null {
  if (version < OLDEST_PROTOCOL_VERSION) {
    return `shim protocol v${version} is too old: this control plane serves v${OLDEST_PROTOCOL_VERSION}-v${PROTOCOL_VERSION}; upgrade the shim`;
  }
  if (version > PROTOCOL_VERSION) {
    return `shim protocol v${version} is newer than this control plane (v${OLDEST_PROTOCOL_VERSION}-v${PROTOCOL_VERSION}); upgrade the control plane first, then the shims`;
  }
  return null;
}

/** v3's reply fields left out (mysql promotion checks, evacuation keys, bounded backfills). */
function beforeV3(reply: HeartbeatReply): HeartbeatReply {
  const d = reply.desired;
  const groups = d.groups.map((g) => (g.mysql ? { ...g, mysql: { topology: g.mysql.topology, strictFence: g.mysql.strictFence } } : g));
  const operations = d.operations.map((o) => {
    if (o.kind === "evacuate") {
      const { idempotencyKey: _k, ...rest } = o;
      return rest;
    }
    if (o.kind === "influxdb-backfill") {
      const { maxPoints: _m, ...rest } = o;
      return rest;
    }
    return o;
  });
  return { ...reply, desired: { ...d, groups, operations } };
}

/**
 * The desired state as a shim of `version` has it. Before v3 a shim knows no shadow mode: a
 * shadow group is shown to it as standby, so it never acts on one. Before v4 it knows no
 * failsafe peers or drift margin; before v5 no own IP, failsafe keys or provenance; before v6 no
 * service process names; before v7 no direct handoff.
 */
export function desiredFor(version: number, desired: DesiredState): DesiredState {
  let d = desired;
  if (version < 7 && d.groups.some((g) => g.handoffTo !== undefined || g.handoffFrom !== undefined)) {
    // Leaving `handoffFrom` out is safe: the control plane only waits longer for a handoff that cannot come.
    d = { ...d, groups: d.groups.map(({ handoffTo: _t, handoffFrom: _f, ...g }) => g) };
  }
  if (version < 6 && d.groups.some((g) => g.process !== undefined)) {
    d = { ...d, groups: d.groups.map(({ process: _p, ...g }) => g) };
  }
  if (version < 5) {
    const { ip: _i, failsafeKeys: _k, specBy: _b, ...rest } = d;
    d = { ...rest, operations: rest.operations.map(({ requestedBy: _r, ...o }) => o as typeof rest.operations[number]) } as DesiredState;
  }
  if (version < 4) {
    const { peers: _p, driftMarginMs: _m, ...rest } = d;
    d = rest as DesiredState;
  }
  if (version >= 3 || !d.groups.some((g) => g.shadow !== undefined)) return d;
  return {
    ...d,
    groups: d.groups.map(({ shadow, ...g }) => (shadow ? { ...g, role: "standby" as const } : g)),
  };
}

/** The engine's reply as the shim's version has it. */
export function replyFor(version: number, reply: HeartbeatReply): HeartbeatReply {
  const shadow = new Set(reply.desired.groups.filter((g) => g.shadow).map((g) => g.name));
  const shaped = version >= 3 ? { ...reply, desired: desiredFor(version, reply.desired) } : beforeV3({ ...reply, grants: reply.grants.filter((g) => !shadow.has(g.group)), desired: desiredFor(version, reply.desired) });
  if (version === 1) {
    const { protocol: _unused, ...v1 } = shaped;
    // Fence credentials held by the control plane are v2 fields: a v1 shim cannot use them (and
    // would reject the whole reply), so it is not asked to run such a fence.
    const operations = v1.desired.operations.filter((o) => !(o.kind === "fence-ipmi" && (o.password !== undefined || o.passwordEnv === undefined)) && !(o.kind === "fence-webhook" && o.authorization !== undefined));
    return operations.length === v1.desired.operations.length ? v1 : { ...v1, desired: { ...v1.desired, operations } };
  }
  return { ...shaped, protocol: version };
}
