// Local limits (README, "Local limits"): what a node's shim lets the control plane make it do,
// set in the node's own root-owned config and never changeable remotely. The shim refuses
// anything outside them and says so in its heartbeat; the control plane keeps what each node
// reported, treats a refusing node as no candidate for the group, and refuses at the API a spec
// change that no member of a group would accept. The VIP rule lives here so both sides judge a
// VIP the same way. Pure.
import { z } from "zod";
import { Name } from "./spec.js";

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const CIDR = new RegExp(`^${OCTET}(\\.${OCTET}){3}/(\\d|[12]\\d|3[0-2])$`);

/** An IPv4 network, `10.0.0.0/24` (host bits may be set: `10.0.0.10/32` is one address). */
export const Cidr = z.string().regex(CIDR, "must be an IPv4 CIDR like 10.0.0.0/24");

/** What a node's limits allow for VIPs, as it reports them in every heartbeat (the control plane keeps the last report). */
export const LimitsReport = z.strictObject({
  /** False: the node's config has no `limits` (it applies whatever it is sent; older installs). */
  restricted: z.boolean(),
  /** A VIP's address must lie in one of these. */
  vipCidrs: z.array(Cidr).max(64),
  /**
   * And its prefix may be no wider: `ip addr add VIP/prefix` also routes that whole network to the
   * interface, so an allowed address with a wider prefix (10.0.0.10/8) would claim far more.
   */
  minPrefixLength: z.number().int().min(0).max(32),
  /** Interfaces a VIP may be put on. */
  interfaces: z.array(z.string().max(15)).max(64),
  /** The node's config puts every VIP on this interface, whatever the spec says. */
  interfaceOverride: z.string().max(15).optional(),
});
export type LimitsReport = z.infer<typeof LimitsReport>;

export const REFUSAL_KINDS = ["vip", "interface", "lb-port", "lb-real-server", "fence-host", "fence-credential", "url", "operation"] as const;

/** Something a node did not do because its local limits do not allow it. */
export const LimitRefusal = z.strictObject({
  /** The group it was for (desired state); absent for an operation. */
  group: Name.optional(),
  /** The operation's id, for one-shot work (fence, evacuation, backfill, heal). */
  operation: z.string().max(100).optional(),
  kind: z.enum(REFUSAL_KINDS),
  /** What was refused, e.g. `VIP 10.9.0.10/24`, `fence-ipmi of node1 through BMC 10.0.1.99`. */
  what: z.string().max(300),
  /** The limit that refused it, as the config names it: `limits.vip.cidrs: 10.0.0.0/24`. */
  limit: z.string().max(300),
  /** When the node first refused it, epoch ms on the node's clock (display only). */
  since: z.number().int().min(0),
});
export type LimitRefusal = z.infer<typeof LimitRefusal>;

/** One line for events and status: `server2 refuses VIP 10.9.0.10/24 for server-api: ...`. */
export function describeRefusal(node: string, r: Pick<LimitRefusal, "group" | "operation" | "what" | "limit">): string {
  const scope = r.group ? ` for ${r.group}` : r.operation ? ` (operation ${r.operation})` : "";
  return `${node} refuses ${r.what}${scope}: not allowed by its local limits (${r.limit})`;
}

/** A list as a limit shows it: `a, b`, or `none (off)` when empty. */
export const listed = (xs: readonly (string | number)[]): string => (xs.length ? xs.join(", ") : "none (off)");

function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function parseCidr(c: string): { base: number; prefix: number } {
  const [ip, p] = c.split("/");
  const prefix = Number(p);
  const block = 2 ** (32 - prefix);
  return { base: Math.floor(ipToInt(ip!) / block) * block, prefix };
}

/** `ip` lies in `cidr`. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const { base, prefix } = parseCidr(cidr);
  return Math.floor(ipToInt(ip) / 2 ** (32 - prefix)) * 2 ** (32 - prefix) === base;
}

/** Why `limits` do not allow this VIP on this interface (kind, what, limit), or null. */
export function vipRefusal(limits: Pick<LimitsReport, "restricted" | "vipCidrs" | "minPrefixLength" | "interfaces">, vip: string, prefix: number, iface: string): Pick<LimitRefusal, "kind" | "what" | "limit"> | null {
  if (!limits.restricted) return null;
  if (!limits.vipCidrs.some((c) => ipInCidr(vip, c))) return { kind: "vip", what: `VIP ${vip}/${prefix}`, limit: `limits.vip.cidrs: ${listed(limits.vipCidrs)}` };
  if (prefix < limits.minPrefixLength) return { kind: "vip", what: `VIP ${vip}/${prefix}`, limit: `limits.vip.minPrefixLength: ${limits.minPrefixLength}` };
  if (!limits.interfaces.includes(iface)) return { kind: "interface", what: `interface ${iface} (VIP ${vip})`, limit: `limits.vip.interfaces: ${listed(limits.interfaces)}` };
  return null;
}
