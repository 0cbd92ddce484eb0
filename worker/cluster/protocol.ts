// Which heartbeat protocol versions this control plane serves, and each reply in the version the
// shim spoke (protocol/heartbeat.ts explains the rule). Older shims parse replies strictly, so a
// reply to them must carry only the fields their version knew.
import { type HeartbeatReply, OLDEST_PROTOCOL_VERSION, PROTOCOL_VERSION } from "../../protocol/heartbeat.js";

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

/** The engine's reply as the shim's version has it. */
export function replyFor(version: number, reply: HeartbeatReply): HeartbeatReply {
  if (version === 1) {
    const { protocol: _unused, ...v1 } = reply;
    // Fence credentials held by the control plane are v2 fields: a v1 shim cannot use them (and
    // would reject the whole reply), so it is not asked to run such a fence.
    const operations = v1.desired.operations.filter((o) => !(o.kind === "fence-ipmi" && (o.password !== undefined || o.passwordEnv === undefined)) && !(o.kind === "fence-webhook" && o.authorization !== undefined));
    return operations.length === v1.desired.operations.length ? v1 : { ...v1, desired: { ...v1.desired, operations } };
  }
  return { ...reply, protocol: version };
}
